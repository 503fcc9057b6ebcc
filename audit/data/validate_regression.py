"""The label, predictions and model checks of a ``task: regression`` audit.

The label (when the audit has one) and recorded ``predictions`` must be numbers: no missing,
non-numeric or infinite value (each problem names the column and the first rows). A model must
be a regressor: one with ``classes_`` is a classifier, to be audited as ``task: binary`` or
``multiclass``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def check_regression(frame: pd.DataFrame, req: Any, estimator: Any, problems: Any) -> None:
    """``req`` and ``problems`` are :mod:`audit.data.validate`'s DatasetRequirements and Problems
    (not imported: validate imports this module). Add a problem for every non-numeric, missing or infinite label or recorded prediction,
    and for a model with classes."""
    columns = set(map(str, frame.columns))
    for what, column in (("label", req.label), ("predictions", req.predictions)):
        if column is not None and column in columns and len(frame):
            _check_numbers(frame[column], what, column, problems)
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        shown = ", ".join(map(repr, map(str, np.asarray(classes)[:10])))
        problems.add(
            f"the model is a classifier (classes {shown}); task: regression audits a model that "
            "predicts a number"
        )


def _check_numbers(values: pd.Series, what: str, column: str, problems: Any) -> None:
    if pd.api.types.is_bool_dtype(values):
        problems.add(f"{what} column {column!r} holds true/false values, not numbers")
        return
    numbers = pd.to_numeric(values, errors="coerce")
    missing = values.isna().to_numpy()
    text = numbers.isna().to_numpy() & ~missing
    finite = np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    infinite = ~finite & ~missing & ~text
    if missing.any():
        problems.add(
            f"{what} column {column!r} has {int(missing.sum())} missing values "
            f"({problems.rows(missing)})"
        )
    if text.any():
        first = values[text].astype(str).iloc[0][:40]
        problems.add(
            f"{what} column {column!r} has {int(text.sum())} values that are not numbers "
            f"(e.g. {first!r}; {problems.rows(text)}); task: regression needs numbers"
        )
    if infinite.any():
        problems.add(
            f"{what} column {column!r} has {int(infinite.sum())} infinite values "
            f"({problems.rows(infinite)})"
        )
