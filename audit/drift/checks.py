"""Input checks of drift measurement, shared by :func:`~audit.drift.engine.compute_drift` and the
streaming plan (:mod:`audit.drift.stream`), so that both refuse the same inputs with the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import InputError


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def is_float(series: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(series.dtype)


def type_mismatch(
    what: str, name: str, ref_dtype: Any, cur_dtype: Any, *, ref_numeric: bool
) -> InputError:
    """The error for a column numeric in one dataset only (shared with the streaming path)."""
    return InputError(
        f"{what} {name!r} is {'numeric' if ref_numeric else 'not numeric'} "
        f"(dtype {ref_dtype}) in the reference data but "
        f"{'not numeric' if ref_numeric else 'numeric'} (dtype {cur_dtype}) in the "
        "audit data",
        hint=f"give {name!r} the same type in both datasets, e.g. cast it with "
        f"astype(float) or astype(str)",
    )


def all_missing(what: str, name: str, dataset: str) -> InputError:
    return InputError(
        f"{what} {name!r} has no non-missing value in the {dataset} data, so its "
        "drift cannot be measured",
        hint=f"check that {name!r} is the intended column and parsed as numbers, "
        "or leave it out of the drift features",
    )


def no_rows(dataset: str) -> InputError:
    return InputError(
        f"the {dataset} data has no rows, so drift cannot be measured",
        hint="check the dataset path and any row filter in the audit spec",
    )


def require_columns(
    frame: pd.DataFrame, columns: Sequence[str], *, what: str, dataset: str
) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} column(s) {', '.join(map(repr, missing))} not found in the {dataset} data",
            hint=f"the {dataset} data has columns {', '.join(map(str, frame.columns))}; fix the "
            "column names in the audit spec or add the columns to the data",
        )


def prediction_series(values: np.ndarray, n_rows: int, dataset: str) -> pd.Series:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InputError(
            f"{dataset} predictions must be one-dimensional, got shape {array.shape}",
            hint="pass one prediction or score per row, e.g. predict_proba(X)[:, 1]",
        )
    if array.shape[0] != n_rows:
        raise InputError(
            f"{dataset} predictions have {array.shape[0]} values but the {dataset} data has "
            f"{n_rows} rows",
            hint="predict on exactly the rows of the dataset, in the same order",
        )
    return pd.Series(array)


def check_arguments(
    features: Sequence[str], sensitive: Sequence[str], bins: int, min_group_size: int
) -> tuple[list[str], list[str]]:
    """Validate compute_drift's settings (shared with the streaming path); returns the lists."""
    features = list(features)
    sensitive = list(sensitive)
    if not features:
        raise InputError(
            "no drift features given: drift needs at least one column to compare",
            hint="list the model's input columns as the drift features",
        )
    duplicated = sorted({f for f in features if features.count(f) > 1})
    if duplicated:
        raise InputError(
            f"drift features listed more than once: {', '.join(map(repr, duplicated))}",
            hint="list each feature once",
        )
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise InputError(
            f"bins must be an integer of at least 2, got {bins!r}",
            hint="use the conventional 10 bins",
        )
    if (
        isinstance(min_group_size, bool)
        or not isinstance(min_group_size, int)
        or min_group_size < 1
    ):
        raise InputError(
            f"min_group_size must be a positive integer, got {min_group_size!r}",
            hint="use at least 30 rows per group, so that the tests have some power",
        )
    return features, sensitive


def check_columns(
    frame: pd.DataFrame,
    features: Sequence[str],
    sensitive: Sequence[str],
    label: str | None,
    *,
    dataset: str,
) -> None:
    require_columns(frame, features, what="drift feature", dataset=dataset)
    require_columns(frame, sensitive, what="sensitive", dataset=dataset)
    if label is not None:
        require_columns(frame, [label], what="label", dataset=dataset)


def check_prediction_pair(reference: object | None, current: object | None) -> None:
    if (reference is None) != (current is None):
        given = "reference" if current is None else "current"
        raise InputError(
            f"only the {given} predictions were given, so prediction drift cannot be measured",
            hint="pass predictions for both the reference and the audit data, or neither",
        )
