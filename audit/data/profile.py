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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    y = np.asarray(y_true, dtype=np.int64) if labelled else np.zeros(total, np.int64)
    keys = [[c] for c in sensitive] + ([list(sensitive)] if len(sensitive) > 1 else [])
    features: dict[str, GroupTally] = {}
    for cols in keys:
        label = _labels(frame, cols)
        known = label.notna().to_numpy()
        stats = (
            pd.DataFrame({"g": label[known].to_numpy(), "m": missing[known], "y": y[known]})
            .groupby("g", sort=True)
            .agg(n=("m", "size"), missing=("m", "sum"), positives=("y", "sum"))
        )
        groups = {str(g): (int(r.n), int(r.missing), int(r.positives)) for g, r in stats.iterrows()}
        features["&".join(cols)] = GroupTally(groups, int((~known).sum()))
    return profile_from_counts(
        total, int(missing.sum()), int(y.sum()) if labelled else None, features
    )


@dataclass(frozen=True)
class GroupTally:
    """Per group label: (rows, rows with a missing used value, positive labels); and the rows
    whose group is unknown."""

    groups: Mapping[str, tuple[int, int, int]]
    unknown: int


def profile_from_counts(
    total: int,
    rows_with_missing: int,
    positives: int | None,
    features: Mapping[str, GroupTally],
) -> contract.DataProfile:
    """The data profile from counts alone (``positives`` None: the audit has no label); shared
    with the audit engine, which counts partition by partition."""
    labelled = positives is not None
    out: dict[str, Any] = {}
    for key, tally in features.items():
        groups = {
            g: {
                "n": n,
                "share": float(n / total) if total else None,
                "missing_share": float(m / n),
                "base_rate": float(p / n) if labelled else None,
            }
            for g, (n, m, p) in sorted(tally.groups.items())
        }
        out[key] = {
            "groups": groups,
            "unknown": tally.unknown,
            "unknown_share": float(tally.unknown / total) if total else None,
        }
    positive = float(positives / total) if total and positives is not None else None
    return contract.DataProfile.model_validate(
        {
            "rows": total,
            "rows_with_missing_values": rows_with_missing,
            "label_balance": min(positive, 1 - positive) if positive is not None else None,
            "features": out,
        }
    )
