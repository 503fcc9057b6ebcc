"""A data profile for governance rules (EU AI Act Art. 10): who is in the data, and how complete.

Per sensitive feature (and their intersection): each group's row count and share of the data,
the share of its rows with any missing value in the columns the audit uses, and its base rate;
the count and share of rows whose sensitive value is unknown; and the label balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit import contract


def _labels(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    parts = [frame[c].astype("string") for c in columns]
    label = parts[0]
    for p in parts[1:]:
        label = label + "&" + p  # NA propagates: unknown if any part is unknown
    return label


def data_profile(
    frame: pd.DataFrame,
    y_true: np.ndarray,
    sensitive: Sequence[str],
    used_columns: Sequence[str],
) -> contract.DataProfile:
    """The report's data profile section (see module docstring)."""
    total = len(frame)
    missing = (
        frame[list(used_columns)].isna().any(axis=1).to_numpy()
        if used_columns
        else np.zeros(total, bool)
    )
    keys = [[c] for c in sensitive] + ([list(sensitive)] if len(sensitive) > 1 else [])
    features: dict[str, Any] = {}
    for cols in keys:
        label = _labels(frame, cols)
        known = label.notna().to_numpy()
        stats = (
            pd.DataFrame({"g": label[known].to_numpy(), "m": missing[known], "y": y_true[known]})
            .groupby("g", sort=True)
            .agg(n=("m", "size"), missing=("m", "mean"), base=("y", "mean"))
        )
        groups = {
            str(g): {
                "n": int(r.n),
                "share": float(r.n / total) if total else None,
                "missing_share": float(r.missing),
                "base_rate": float(r.base),
            }
            for g, r in stats.iterrows()
        }
        unknown = int((~known).sum())
        features["&".join(cols)] = {
            "groups": groups,
            "unknown": unknown,
            "unknown_share": float(unknown / total) if total else None,
        }
    positive = float(y_true.mean()) if total else None
    return contract.DataProfile.model_validate(
        {
            "rows": total,
            "rows_with_missing_values": int(missing.sum()),
            "label_balance": min(positive, 1 - positive) if positive is not None else None,
            "features": features,
        }
    )
