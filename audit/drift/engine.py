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
from audit.drift.checks import (
    all_missing,
    check_arguments,
    check_columns,
    check_prediction_pair,
    is_float,
    is_numeric,
    no_rows,
    prediction_series,
    type_mismatch,
)
from audit.drift.psi import EPSILON, bin_counts, psi, quantile_edges
from audit.drift.tests import TestResult, chi2_test, ks_test
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
        return _compare_counts(
            NUMERIC, bin_counts(ref, edges), bin_counts(cur, edges), ks_test(ref, cur)
        )
    ref_counts = np.bincount(ref, minlength=column.n_codes)
    cur_counts = np.bincount(cur, minlength=column.n_codes)
    used = (ref_counts + cur_counts) > 0  # categories of neither slice: not a bin here
    return _compare_counts(CATEGORICAL, ref_counts[used], cur_counts[used])


def _compare_counts(
    kind: str, ref_counts: np.ndarray, cur_counts: np.ndarray, ks: TestResult | None = None
) -> _Comparison:
    """PSI (and, for a categorical column, the chi-squared test) from per-bin counts.

    Numeric columns: ``ref_counts``/``cur_counts`` are PSI bin counts and ``ks`` is the KS test
    of the values. Categorical columns: one count per category used by the slice, the missing
    category first and the others in label order. Shared with :mod:`audit.drift.stream`, which
    only ever holds counts, so that both paths give the same floats.
    """
    test = chi2_test(ref_counts, cur_counts) if kind == CATEGORICAL else ks
    assert test is not None, "a numeric comparison needs its KS test"
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


def _prepare(
    name: str, reference: pd.Series, current: pd.Series, *, what: str, scores_only: bool
) -> _Column:
    """Decide the column type and encode both datasets' values (see the module docstring)."""
    ref_numeric, cur_numeric = is_numeric(reference), is_numeric(current)
    if ref_numeric != cur_numeric:
        raise type_mismatch(what, name, reference.dtype, current.dtype, ref_numeric=ref_numeric)
    numeric = ref_numeric and (not scores_only or is_float(reference) or is_float(current))
    if numeric:
        ref = reference.to_numpy(dtype=np.float64, na_value=np.nan)
        cur = current.to_numpy(dtype=np.float64, na_value=np.nan)
        for values, dataset in ((ref, "reference"), (cur, "audit")):
            if np.isnan(values).all():
                raise all_missing(what, name, dataset)
        return _Column(name, NUMERIC, ref, cur)
    both = pd.concat(
        [reference.reset_index(drop=True), current.reset_index(drop=True)], ignore_index=True
    )
    codes, labels = group_codes(both)
    codes = codes + 1  # 0 = missing, so missing is a category of its own
    return _Column(
        name, CATEGORICAL, codes[: len(reference)], codes[len(reference) :], len(labels) + 1
    )


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
    features, sensitive = check_arguments(features, sensitive, bins, min_group_size)
    for frame, dataset in ((reference, "reference"), (current, "audit")):
        if len(frame) == 0:
            raise no_rows(dataset)
        check_columns(frame, features, sensitive, label, dataset=dataset)
    check_prediction_pair(reference_predictions, current_predictions)

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
            prediction_series(reference_predictions, len(reference), "reference"),
            prediction_series(current_predictions, len(current), "current"),
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
