"""A data profile for governance rules (EU AI Act Art. 10): who is in the data, and how complete.

Per sensitive feature (and their intersection): each group's row count and share of the data,
the share of its rows with any missing value in the columns the audit uses, and its base rate;
the count and share of rows whose sensitive value is unknown; and the label balance.

- share = group rows / all rows; missing_share = rows of the group with a missing value in a
  used column / group rows; unknown_share = rows with no known group / all rows;
- base_rate = positive labels of the group / group rows; label_balance = min(p, 1 - p) with p the
  share of positive labels over all rows (the minority class's share).

With no label (``y_true`` None: an audit of decisions alone) base rates and the label balance are
None: not assessable, never 0. The id column only identifies rows: it is never a used column.
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
    y_true: np.ndarray | None,
    sensitive: Sequence[str],
    used_columns: Sequence[str],
    *,
    id_column: str | None = None,
) -> contract.DataProfile:
    """The report's data profile section (see module docstring).

    ``y_true`` is the boolean label (True = positive), or None when the audit has no label;
    ``id_column`` names the row-id column, left out of ``used_columns`` if listed there.
    """
    total = len(frame)
    used = [c for c in used_columns if c != id_column]
    missing = frame[used].isna().any(axis=1).to_numpy() if used else np.zeros(total, bool)
    labelled = y_true is not None
    y = np.asarray(y_true, dtype=float) if labelled else np.full(total, np.nan)
    keys = [[c] for c in sensitive] + ([list(sensitive)] if len(sensitive) > 1 else [])
    features: dict[str, Any] = {}
    for cols in keys:
        label = _labels(frame, cols)
        known = label.notna().to_numpy()
        stats = (
            pd.DataFrame({"g": label[known].to_numpy(), "m": missing[known], "y": y[known]})
            .groupby("g", sort=True)
            .agg(n=("m", "size"), missing=("m", "mean"), base=("y", "mean"))
        )
        groups = {
            str(g): {
                "n": int(r.n),
                "share": float(r.n / total) if total else None,
                "missing_share": float(r.missing),
                "base_rate": float(r.base) if labelled else None,
            }
            for g, r in stats.iterrows()
        }
        unknown = int((~known).sum())
        features["&".join(cols)] = {
            "groups": groups,
            "unknown": unknown,
            "unknown_share": float(unknown / total) if total else None,
        }
    positive = float(y.mean()) if total and labelled else None
    return contract.DataProfile.model_validate(
        {
            "rows": total,
            "rows_with_missing_values": int(missing.sum()),
            "label_balance": min(positive, 1 - positive) if positive is not None else None,
            "features": features,
        }
    )
