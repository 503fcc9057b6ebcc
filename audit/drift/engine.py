"""Drift of the audit data against reference (training) data: per feature, per group, label, predictions.

A model is only as good as the match between the data it was trained on and the data it meets.
For every feature this module compares the reference and current distributions with two numbers
that answer different questions:

- the population stability index (:mod:`audit.drift.psi`): *how much* did it move?
- a two-sample test (:mod:`audit.drift.tests`): *is* the move more than sampling noise?

and repeats both within each group of every sensitive feature, because a shift confined to one
group (say, only women's ages) can hide in the overall numbers while changing how the model
treats that group. The label and the model's predictions get the same comparison (label drift
and prediction drift).

Column types: a feature is numeric when both datasets hold it with a numeric, non-boolean dtype,
and categorical when neither does (strings, booleans, pandas categories); cast integer codes to
``str`` to have them compared as categories. The label and the predictions are numeric only if
they are floats (scores, regression targets); integer or boolean classes are categorical.

Missing values: for a categorical column, "missing" is one more category. For a numeric column,
missing values are dropped before PSI and the test, and the share of missing values in each
dataset is reported beside them so that a change in missingness stays visible.

Groups are coded as in :mod:`audit.fairness.counts` (``str`` of the value, rows with a missing
group value belong to no group). A group is compared only if it has at least ``min_group_size``
compared values (non-missing, for a numeric feature) in *each* dataset; otherwise it is reported
as ``insufficient_data`` with its counts, never silently passed. Numeric bins within a group come
from that group's own reference quantiles.

Reading group results: PSI is biased upward in small samples. With no drift at all its expected
value is about ``(B - 1) * (1 / n_ref + 1 / n_cur)`` for ``B`` bins (Yurdakul 2018: PSI scaled by
``1 / (1 / n_ref + 1 / n_cur)`` is roughly chi-squared with ``B - 1`` degrees of freedom), so a
group of 150 rows and 40 categories shows PSI near 0.5 from noise alone (seen on Adult's small
race groups). A drift rule should therefore require both a large PSI and a small p-value.

Rows are never looped over in Python: bins come from ``np.searchsorted``/``np.bincount``, and each
sensitive feature's rows are sorted by group once so that every group is a contiguous slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit import contract
from audit.drift.psi import EPSILON, bin_counts, psi, quantile_edges
from audit.drift.tests import TestResult, chi2_test, ks_test
from audit.errors import InputError
from audit.fairness.counts import group_codes

NUMERIC, CATEGORICAL = "numeric", "categorical"
INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True)
class DriftMethod:
    """How drift was measured, recorded in the report so that every number can be reproduced."""

    psi_bins: int
    min_group_size: int
    binning: str = "reference quantiles"
    numeric_test: str = "ks_2samp"
    categorical_test: str = "chi2 contingency"
    epsilon: float = EPSILON


@dataclass(frozen=True)
class GroupDrift:
    """Drift of one column within one group (e.g. ``age`` among ``sex = Female``).

    ``psi`` and ``p_value`` are None when the group has fewer than ``min_group_size`` compared
    values in either dataset (``status == "insufficient_data"``).
    """

    group: str
    n_reference: int
    n_current: int
    psi: float | None
    p_value: float | None

    @property
    def status(self) -> str:
        return INSUFFICIENT_DATA if self.psi is None else "ok"

    def to_report(self) -> contract.GroupDrift:
        return contract.GroupDrift.model_validate(self._json())

    def _json(self) -> dict[str, Any]:
        if self.psi is None:
            return {
                "status": INSUFFICIENT_DATA,
                "n_reference": self.n_reference,
                "n_current": self.n_current,
            }
        return {
            "psi": self.psi,
            "p_value": self.p_value,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
        }


@dataclass(frozen=True)
class SensitiveDrift:
    """Drift of one column in every group of one sensitive feature; groups sorted by label."""

    sensitive: str
    groups: tuple[GroupDrift, ...]

    def group(self, label: str) -> GroupDrift:
        for entry in self.groups:
            if entry.group == label:
                return entry
        raise KeyError(label)


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column (feature, label or predictions) between reference and current data.

    ``n_reference``/``n_current`` count the compared values (non-missing ones, for a numeric
    column); ``missing_share_*`` is the share of rows whose value is missing. ``bins`` is the
    number of PSI bins actually used (fewer than requested when quantiles tie).
    """

    name: str
    kind: str
    psi: float
    test: TestResult
    n_reference: int
    n_current: int
    missing_share_reference: float
    missing_share_current: float
    bins: int
    groups: tuple[SensitiveDrift, ...] = ()

    @property
    def statistic(self) -> float:
        return self.test.statistic

    @property
    def p_value(self) -> float:
        return self.test.p_value

    def by(self, sensitive: str) -> SensitiveDrift:
        for entry in self.groups:
            if entry.sensitive == sensitive:
                return entry
        raise KeyError(sensitive)

    def _json(self, *, with_groups: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.kind,
            "psi": self.psi,
            "test": self.test.test,
            "statistic": self.test.statistic,
            "p_value": self.test.p_value,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "missing_share_reference": self.missing_share_reference,
            "missing_share_current": self.missing_share_current,
            "bins": self.bins,
        }
        if with_groups:
            out["groups"] = {
                entry.sensitive: {g.group: g._json() for g in entry.groups} for entry in self.groups
            }
        return out


@dataclass(frozen=True)
class DriftReport:
    """Drift of every requested feature, plus label and prediction drift when available."""

    method: DriftMethod
    features: tuple[ColumnDrift, ...]
    label: ColumnDrift | None = None
    predictions: ColumnDrift | None = None

    def feature(self, name: str) -> ColumnDrift:
        for entry in self.features:
            if entry.name == name:
                return entry
        raise KeyError(name)

    @property
    def max_psi_feature(self) -> str:
        """The feature with the largest overall PSI (the first one listed, on a tie)."""
        return max(self.features, key=lambda f: f.psi).name

    @property
    def max_psi(self) -> float:
        """The largest overall PSI over the features (label and predictions not included)."""
        return max(f.psi for f in self.features)

    def to_report(self) -> contract.Drift:
        """The report's drift section."""
        return contract.Drift.model_validate(self._json())

    def _json(self) -> dict[str, Any]:
        return {
            "method": {
                "psi_bins": self.method.psi_bins,
                "binning": self.method.binning,
                "numeric_test": self.method.numeric_test,
                "categorical_test": self.method.categorical_test,
                "epsilon": self.method.epsilon,
                "min_group_size": self.method.min_group_size,
            },
            "features": {f.name: f._json() for f in self.features},
            "label": None if self.label is None else self.label._json(with_groups=False),
            "predictions": (
                None if self.predictions is None else self.predictions._json(with_groups=False)
            ),
            "max_psi": self.max_psi,
            "max_psi_feature": self.max_psi_feature,
        }


@dataclass(frozen=True)
class _Column:
    """A column of both datasets, ready to compare: floats (NaN = missing) or category codes.

    Category codes are 1..K for the categories of both datasets together and 0 for missing, so
    that one ``np.bincount(codes, minlength=n_codes)`` counts every category.
    """

    name: str
    kind: str
    reference: np.ndarray
    current: np.ndarray
    n_codes: int = 0

    def missing(self, values: np.ndarray) -> np.ndarray:
        return np.isnan(values) if self.kind == NUMERIC else values == 0


@dataclass(frozen=True)
class _Comparison:
    psi: float
    test: TestResult
    n_reference: int
    n_current: int
    bins: int


def _compare(column: _Column, ref: np.ndarray, cur: np.ndarray, bins: int) -> _Comparison:
    """PSI and two-sample test of one column on given reference and current values."""
    if column.kind == NUMERIC:
        ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        edges = quantile_edges(ref, bins)
        ref_counts, cur_counts = bin_counts(ref, edges), bin_counts(cur, edges)
        test = ks_test(ref, cur)
    else:
        ref_counts = np.bincount(ref, minlength=column.n_codes)
        cur_counts = np.bincount(cur, minlength=column.n_codes)
        used = (ref_counts + cur_counts) > 0  # categories of neither slice: not a bin here
        ref_counts, cur_counts = ref_counts[used], cur_counts[used]
        test = chi2_test(ref_counts, cur_counts)
    return _Comparison(
        psi=psi(ref_counts, cur_counts),
        test=test,
        n_reference=int(ref_counts.sum()),
        n_current=int(cur_counts.sum()),
        bins=int(ref_counts.size),
    )


def _compared_count(column: _Column, values: np.ndarray) -> int:
    return (
        int(values.size - np.count_nonzero(np.isnan(values)))
        if column.kind == NUMERIC
        else int(values.size)
    )


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def _is_float(series: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(series.dtype)


def _prepare(
    name: str, reference: pd.Series, current: pd.Series, *, what: str, scores_only: bool
) -> _Column:
    """Decide the column type and encode both datasets' values (see the module docstring)."""
    ref_numeric, cur_numeric = _is_numeric(reference), _is_numeric(current)
    if ref_numeric != cur_numeric:
        raise InputError(
            f"{what} {name!r} is {'numeric' if ref_numeric else 'not numeric'} "
            f"(dtype {reference.dtype}) in the reference data but "
            f"{'numeric' if cur_numeric else 'not numeric'} (dtype {current.dtype}) in the "
            "audit data",
            hint=f"give {name!r} the same type in both datasets, e.g. cast it with "
            f"astype(float) or astype(str)",
        )
    numeric = ref_numeric and (not scores_only or _is_float(reference) or _is_float(current))
    if numeric:
        ref = reference.to_numpy(dtype=np.float64, na_value=np.nan)
        cur = current.to_numpy(dtype=np.float64, na_value=np.nan)
        for values, dataset in ((ref, "reference"), (cur, "audit")):
            if np.isnan(values).all():
                raise InputError(
                    f"{what} {name!r} has no non-missing value in the {dataset} data, so its "
                    "drift cannot be measured",
                    hint=f"check that {name!r} is the intended column and parsed as numbers, "
                    "or leave it out of the drift features",
                )
        return _Column(name, NUMERIC, ref, cur)
    both = pd.concat(
        [reference.reset_index(drop=True), current.reset_index(drop=True)], ignore_index=True
    )
    codes, labels = group_codes(both)
    codes = codes + 1  # 0 = missing, so missing is a category of its own
    return _Column(
        name, CATEGORICAL, codes[: len(reference)], codes[len(reference) :], len(labels) + 1
    )


def _require_columns(
    frame: pd.DataFrame, columns: Sequence[str], *, what: str, dataset: str
) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} column(s) {', '.join(map(repr, missing))} not found in the {dataset} data",
            hint=f"the {dataset} data has columns {', '.join(map(str, frame.columns))}; fix the "
            "column names in the audit spec or add the columns to the data",
        )


def _predictions(values: np.ndarray, n_rows: int, dataset: str) -> pd.Series:
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


@dataclass(frozen=True)
class _Grouping:
    """Rows of both datasets sorted by group, so that each group is one contiguous slice."""

    sensitive: str
    labels: tuple[str, ...]
    ref_order: np.ndarray
    cur_order: np.ndarray
    ref_bounds: np.ndarray  # group k is ref_order[ref_bounds[k + 1]:ref_bounds[k + 2]]
    cur_bounds: np.ndarray


def _grouping(sensitive: str, reference: pd.Series, current: pd.Series) -> _Grouping:
    both = pd.concat(
        [reference.reset_index(drop=True), current.reset_index(drop=True)], ignore_index=True
    )
    codes, labels = group_codes(both)
    ref_codes, cur_codes = codes[: len(reference)], codes[len(reference) :]

    def bounds(group_codes_: np.ndarray) -> np.ndarray:
        sizes = np.bincount(group_codes_ + 1, minlength=len(labels) + 1)  # slot 0: missing
        return np.concatenate([[0], np.cumsum(sizes)])

    return _Grouping(
        sensitive=sensitive,
        labels=labels,
        ref_order=np.argsort(ref_codes, kind="stable"),
        cur_order=np.argsort(cur_codes, kind="stable"),
        ref_bounds=bounds(ref_codes),
        cur_bounds=bounds(cur_codes),
    )


def _group_drift(
    column: _Column, grouping: _Grouping, *, bins: int, min_group_size: int
) -> SensitiveDrift:
    ref_sorted = column.reference[grouping.ref_order]
    cur_sorted = column.current[grouping.cur_order]
    out = []
    for k, label in enumerate(grouping.labels):
        ref = ref_sorted[grouping.ref_bounds[k + 1] : grouping.ref_bounds[k + 2]]
        cur = cur_sorted[grouping.cur_bounds[k + 1] : grouping.cur_bounds[k + 2]]
        n_ref, n_cur = _compared_count(column, ref), _compared_count(column, cur)
        if min(n_ref, n_cur) < min_group_size:
            out.append(GroupDrift(label, n_ref, n_cur, None, None))
            continue
        result = _compare(column, ref, cur, bins)
        out.append(GroupDrift(label, n_ref, n_cur, result.psi, result.test.p_value))
    return SensitiveDrift(grouping.sensitive, tuple(out))


def _column_drift(
    column: _Column,
    groupings: Sequence[_Grouping] = (),
    *,
    bins: int,
    min_group_size: int,
) -> ColumnDrift:
    result = _compare(column, column.reference, column.current, bins)
    groups = tuple(
        _group_drift(column, g, bins=bins, min_group_size=min_group_size)
        for g in groupings
        if g.sensitive != column.name  # a feature within its own groups is constant: no drift
    )
    return ColumnDrift(
        name=column.name,
        kind=column.kind,
        psi=result.psi,
        test=result.test,
        n_reference=result.n_reference,
        n_current=result.n_current,
        missing_share_reference=float(np.mean(column.missing(column.reference))),
        missing_share_current=float(np.mean(column.missing(column.current))),
        bins=result.bins,
        groups=groups,
    )


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: Sequence[str],
    sensitive: Sequence[str] = (),
    label: str | None = None,
    reference_predictions: np.ndarray | None = None,
    current_predictions: np.ndarray | None = None,
    bins: int = 10,
    min_group_size: int = 30,
    seed: int = 0,
) -> DriftReport:
    """Compare ``current`` (the audit data) with ``reference`` (training or reference data).

    For each of ``features``: PSI over ``bins`` reference-quantile bins (or one bin per
    category) and a two-sample test (KS or chi-squared), overall and within each group of each
    ``sensitive`` column. ``label`` (a column of both frames) and the predictions (one value
    per row of each frame; pass both or neither) get the overall comparison only.

    ``seed`` is accepted for a stable signature and recorded nowhere: every computation here is
    deterministic, so results do not depend on it.

    Raises :class:`~audit.errors.InputError` for empty data, unknown or duplicated columns,
    a column numeric in one dataset only, an all-missing numeric column, misaligned
    predictions, ``bins < 2`` or ``min_group_size < 1``.
    """
    del seed  # see the docstring: nothing here is random
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
    for frame, dataset in ((reference, "reference"), (current, "audit")):
        if len(frame) == 0:
            raise InputError(
                f"the {dataset} data has no rows, so drift cannot be measured",
                hint="check the dataset path and any row filter in the audit spec",
            )
        _require_columns(frame, features, what="drift feature", dataset=dataset)
        _require_columns(frame, sensitive, what="sensitive", dataset=dataset)
        if label is not None:
            _require_columns(frame, [label], what="label", dataset=dataset)
    if (reference_predictions is None) != (current_predictions is None):
        given = "reference" if current_predictions is None else "current"
        raise InputError(
            f"only the {given} predictions were given, so prediction drift cannot be measured",
            hint="pass predictions for both the reference and the audit data, or neither",
        )

    groupings = [_grouping(s, reference[s], current[s]) for s in sensitive]
    feature_drift = tuple(
        _column_drift(
            _prepare(name, reference[name], current[name], what="drift feature", scores_only=False),
            groupings,
            bins=bins,
            min_group_size=min_group_size,
        )
        for name in features
    )
    label_drift = None
    if label is not None:
        column = _prepare(label, reference[label], current[label], what="label", scores_only=True)
        label_drift = _column_drift(column, bins=bins, min_group_size=min_group_size)
    prediction_drift = None
    if reference_predictions is not None and current_predictions is not None:
        column = _prepare(
            "predictions",
            _predictions(reference_predictions, len(reference), "reference"),
            _predictions(current_predictions, len(current), "current"),
            what="predictions",
            scores_only=True,
        )
        prediction_drift = _column_drift(column, bins=bins, min_group_size=min_group_size)
    return DriftReport(
        method=DriftMethod(psi_bins=bins, min_group_size=min_group_size),
        features=feature_drift,
        label=label_drift,
        predictions=prediction_drift,
    )
