"""Drift in one pass over partitions of the audit data: counts per partition, merged, then compared.

:func:`~audit.drift.engine.compute_drift` needs the whole audit frame in memory. Here the
reference (training) data, the smaller side, is held by a :class:`DriftPlan`; each partition of
the audit data (a record batch of a Parquet/CSV scan, a Dask partition on a worker) is reduced
by :meth:`DriftPlan.summarise` to :class:`CurrentDriftStats`, which add up
(:meth:`CurrentDriftStats.merge` is integer addition: associative and commutative), and
:meth:`DriftPlan.finalize` turns the merged counts into the same :class:`DriftReport`, float for
float, as ``compute_drift(reference, concat(partitions))``, however the rows were partitioned.

The counts themselves are described in :mod:`audit.drift.sufficient`.

Column types are decided from the reference, and each partition must agree as
``compute_drift`` requires (a numeric column must be numeric in every partition). Exceptions,
because a partition can lack information that the pooled data has: a partition in which the
column is entirely missing (a CSV batch parses it as float) carries no type and is accepted as
missing values; a label or predictions column held as integers in the reference is counted
both ways until the end, and is numeric if any partition holds floats (as pooling would make
it). A sensitive column held as integers in one dataset and floats in the other is refused: its
group labels (``"1"`` or ``"1.0"``) would depend on the partitioning.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.drift import checks
from audit.drift.engine import (
    CATEGORICAL,
    NUMERIC,
    ColumnDrift,
    DriftMethod,
    DriftReport,
    GroupDrift,
    SensitiveDrift,
    _compare_counts,
    _Comparison,
)
from audit.drift.sufficient import (
    Counter,
    CurrentDriftStats,
    GroupedRows,
    Key,
    NumericSlice,
    count_categories,
)
from audit.errors import InputError

__all__ = ["CurrentDriftStats", "DriftPlan"]


@dataclass(frozen=True, eq=False)
class _ColumnPlan:
    """One column's reference side: its type and the reference's counts per slice."""

    name: str
    what: str
    dtype: Any
    ref_numeric: bool
    numeric: bool  # keep numeric counts
    categorical: bool  # keep category counts (both: integer label/predictions, see module doc)
    missing: int  # reference rows with a missing value (numeric view)
    overall: NumericSlice | None
    slices: dict[tuple[str, str], NumericSlice]  # groups with >= min_group_size values
    ref_n: dict[tuple[str, str], int]  # compared reference values of every reference group

    def values(self, column: pd.Series) -> np.ndarray:
        if not checks.is_numeric(column):  # an all-missing partition (checked by the caller)
            return np.full(len(column), np.nan)
        return column.to_numpy(dtype=np.float64, na_value=np.nan)

    def check(self, column: pd.Series) -> None:
        if checks.is_numeric(column) != self.ref_numeric and not column.isna().all():
            raise checks.type_mismatch(
                self.what, self.name, self.dtype, column.dtype, ref_numeric=self.ref_numeric
            )


@dataclass(frozen=True, eq=False)
class DriftPlan:
    """The reference side of a drift measurement, built once; see the module docstring.

    ``plan.finalize(merge of plan.summarise(part) for every part)`` equals
    ``compute_drift(reference, concat(parts), ...)`` with the same arguments.
    """

    method: DriftMethod
    features: tuple[_ColumnPlan, ...]
    label: _ColumnPlan | None
    predictions: _ColumnPlan | None
    sensitive: tuple[str, ...]
    sensitive_dtypes: tuple[Any, ...]
    group_labels: dict[str, tuple[str, ...]]
    ref_rows: int
    ref_counts: dict[Key, int]  # the reference's category counts (keys as in the stats)
    digest: str

    @classmethod
    def build(
        cls,
        reference: pd.DataFrame,
        *,
        features: list[str] | tuple[str, ...],
        sensitive: list[str] | tuple[str, ...] = (),
        label: str | None = None,
        reference_predictions: np.ndarray | None = None,
        bins: int = 10,
        min_group_size: int = 30,
    ) -> DriftPlan:
        """Check the settings and the reference data as ``compute_drift`` does, and count it."""
        features_, sensitive_ = checks.check_arguments(features, sensitive, bins, min_group_size)
        if len(reference) == 0:
            raise checks.no_rows("reference")
        checks.check_columns(reference, features_, sensitive_, label, dataset="reference")
        groups = [GroupedRows.of(s, reference[s]) for s in sensitive_]
        counter = Counter()
        digest = hashlib.sha256(repr((features_, sensitive_, label, bins, min_group_size)).encode())

        def column(name: str, series: pd.Series, what: str, rows: list[GroupedRows]) -> _ColumnPlan:
            ref_numeric = checks.is_numeric(series)
            scores_only = what != "drift feature"
            numeric = ref_numeric
            categorical = not ref_numeric or (scores_only and not checks.is_float(series))
            if categorical:
                count_categories(name, series, rows, counter)
            slices: dict[tuple[str, str], NumericSlice] = {}
            ref_n: dict[tuple[str, str], int] = {}
            overall, missing = None, 0
            if numeric:
                x = series.to_numpy(dtype=np.float64, na_value=np.nan)
                missing = int(np.count_nonzero(np.isnan(x)))
                if missing == x.size and not categorical:
                    raise checks.all_missing(what, name, "reference")
                overall = NumericSlice.of(x, bins) if missing < x.size else None
                for grouped in rows:
                    if grouped.sensitive == name:
                        continue
                    for group, segment in grouped.segments(x):
                        n = int(segment.size - np.count_nonzero(np.isnan(segment)))
                        ref_n[grouped.sensitive, group] = n
                        if n >= min_group_size:
                            slices[grouped.sensitive, group] = NumericSlice.of(segment, bins)
                for part in (overall, *slices.values()):
                    if part is not None:
                        digest.update(part.values.tobytes() + part.counts.tobytes())
            digest.update(repr((name, what, numeric, categorical, missing, sorted(ref_n))).encode())
            return _ColumnPlan(
                name, what, series.dtype, ref_numeric, numeric, categorical, missing,
                overall, slices, ref_n,
            )  # fmt: skip

        planned = tuple(column(f, reference[f], "drift feature", groups) for f in features_)
        label_plan = None if label is None else column(label, reference[label], "label", [])
        prediction_plan = None
        if reference_predictions is not None:
            scores = checks.prediction_series(reference_predictions, len(reference), "reference")
            prediction_plan = column("predictions", scores, "predictions", [])
        for rows in groups:
            rows.count(counter)
        digest.update(repr(sorted(counter.counts.items(), key=repr)).encode())
        return cls(
            method=DriftMethod(psi_bins=bins, min_group_size=min_group_size),
            features=planned,
            label=label_plan,
            predictions=prediction_plan,
            sensitive=tuple(sensitive_),
            sensitive_dtypes=tuple(reference[s].dtype for s in sensitive_),
            group_labels={rows.sensitive: rows.labels for rows in groups},
            ref_rows=len(reference),
            ref_counts=counter.counts,
            digest=digest.hexdigest(),
        )

    def empty(self) -> CurrentDriftStats:
        """The statistics of no rows: the identity of :meth:`CurrentDriftStats.merge`."""
        return CurrentDriftStats(self.digest, 0)

    def summarise(
        self, current: pd.DataFrame, current_predictions: np.ndarray | None = None
    ) -> CurrentDriftStats:
        """Count one partition of the audit data (any number of rows, none included)."""
        names = [c.name for c in self.features]
        label = None if self.label is None else self.label.name
        checks.check_columns(current, names, self.sensitive, label, dataset="audit")
        reference_predictions = None if self.predictions is None else "given"
        checks.check_prediction_pair(reference_predictions, current_predictions)
        groups = []
        for sensitive, dtype in zip(self.sensitive, self.sensitive_dtypes, strict=True):
            _check_group_dtype(sensitive, dtype, current[sensitive])
            groups.append(GroupedRows.of(sensitive, current[sensitive]))
        out = Counter()
        floats = set()
        columns = [(plan, current[plan.name], groups) for plan in self.features]
        if self.label is not None:
            columns.append((self.label, current[self.label.name], []))
        if self.predictions is not None and current_predictions is not None:
            scores = checks.prediction_series(current_predictions, len(current), "current")
            columns.append((self.predictions, scores, []))
        for plan, series, rows in columns:
            plan.check(series)
            as_float = plan.numeric and plan.categorical and checks.is_float(series)
            if as_float:
                floats.add(plan.name)
            if plan.categorical and not as_float:
                count_categories(plan.name, series, rows, out)
            if plan.numeric:
                _count_numeric(plan, plan.values(series), rows, out)
        for grouped in groups:
            grouped.count(out)
        return CurrentDriftStats(
            self.digest, len(current), out.arrays, out.counts, frozenset(floats)
        )

    def finalize(self, stats: CurrentDriftStats) -> DriftReport:
        """The drift report of all the rows counted in ``stats`` (module docstring)."""
        if stats.plan != self.digest:
            raise ValueError("these drift statistics were counted for a different plan")
        if stats.rows == 0:
            raise checks.no_rows("audit")
        categories: dict[Key, dict[str | None, list[int]]] = {}
        for source, counts in enumerate((self.ref_counts, stats.counts)):
            for key, n in counts.items():
                if key[0] == "cat":
                    slot = categories.setdefault(key[1:4], {}).setdefault(key[4], [0, 0])
                    slot[source] += n
        labels = {}
        for s in self.sensitive:
            seen = {str(k[2]) for k in stats.counts if k[0] == "rows" and k[1] == s}
            labels[s] = tuple(sorted({*self.group_labels[s], *seen}))
        finalizer = _Finalizer(self, stats, categories, labels)
        return DriftReport(
            method=self.method,
            features=tuple(finalizer.column(c, with_groups=True) for c in self.features),
            label=None if self.label is None else finalizer.column(self.label),
            predictions=None if self.predictions is None else finalizer.column(self.predictions),
        )


def _count_numeric(
    plan: _ColumnPlan, x: np.ndarray, groups: list[GroupedRows], out: Counter
) -> None:
    valid = _sorted_values(x)
    out.count(("missing", plan.name), x.size - valid.size)
    if plan.overall is not None:
        out.add(("num", plan.name, None, None), plan.overall.summarise(valid))
    for rows in groups:
        if rows.sensitive == plan.name:
            continue
        for group, segment in rows.segments(x):
            part = plan.slices.get((rows.sensitive, group))
            if part is None:
                n = int(segment.size - np.count_nonzero(np.isnan(segment)))
                out.count(("n", plan.name, rows.sensitive, group), n)
            else:
                out.add(
                    ("num", plan.name, rows.sensitive, group),
                    part.summarise(_sorted_values(segment)),
                )


def _sorted_values(x: np.ndarray) -> np.ndarray:
    """The non-missing values of ``x``, sorted (np.sort puts NaN last)."""
    ordered = np.sort(x)
    return ordered[: ordered.size - np.count_nonzero(np.isnan(x))]


def _check_group_dtype(sensitive: str, reference: Any, column: pd.Series) -> None:
    def kind(dtype: Any) -> str:
        if pd.api.types.is_float_dtype(dtype):
            return "float"
        return "integer" if pd.api.types.is_integer_dtype(dtype) else "other"

    if {kind(reference), kind(column.dtype)} == {"float", "integer"} and not column.isna().all():
        raise InputError(
            f"sensitive column {sensitive!r} has dtype {reference} in the reference data but "
            f"{column.dtype} in part of the audit data, so its group labels (e.g. '1' or '1.0') "
            "would depend on how the audit data is partitioned",
            hint=f"give {sensitive!r} one type in both datasets: cast it with astype(str), or "
            "to the nullable integer dtype 'Int64' when it has missing values",
        )


@dataclass(frozen=True)
class _Finalizer:
    plan: DriftPlan
    stats: CurrentDriftStats
    categories: dict[Key, dict[str | None, list[int]]]  # (column, s, g) -> category -> ref, cur
    labels: dict[str, tuple[str, ...]]

    def column(self, column: _ColumnPlan, *, with_groups: bool = False) -> ColumnDrift:
        numeric = column.numeric and (not column.categorical or column.name in self.stats.floats)
        rows = self.stats.rows
        if numeric:
            if column.overall is None:
                raise checks.all_missing(column.what, column.name, "reference")
            summary = self.stats.arrays.get(("num", column.name, None, None))
            if summary is None or summary[: 2 * column.overall.values.size + 1].sum() == 0:
                raise checks.all_missing(column.what, column.name, "audit")
            result = column.overall.compare(summary)
            missing_ref = column.missing / self.plan.ref_rows
            missing_cur = self.stats.counts.get(("missing", column.name), 0) / rows
        else:
            result = self._categorical(column.name, None, None)
            counts = self.categories[column.name, None, None].get(None, [0, 0])
            missing_ref, missing_cur = counts[0] / self.plan.ref_rows, counts[1] / rows
        groups: tuple[SensitiveDrift, ...] = ()
        if with_groups:
            groups = tuple(
                SensitiveDrift(s, tuple(self._group(column, numeric, s, g) for g in self.labels[s]))
                for s in self.plan.sensitive
                if s != column.name  # as compute_drift: constant within its own groups
            )
        return ColumnDrift(
            name=column.name,
            kind=NUMERIC if numeric else CATEGORICAL,
            psi=result.psi,
            test=result.test,
            n_reference=result.n_reference,
            n_current=result.n_current,
            missing_share_reference=missing_ref,
            missing_share_current=missing_cur,
            bins=result.bins,
            groups=groups,
        )

    def _categorical(self, name: str, sensitive: str | None, group: str | None) -> _Comparison:
        counts = self.categories.get((name, sensitive, group), {})
        order = sorted(counts, key=lambda c: (c is not None, c or ""))  # missing first
        table = np.array([counts[c] for c in order], dtype=np.int64).reshape(-1, 2)
        return _compare_counts(CATEGORICAL, table[:, 0], table[:, 1])

    def _group(self, column: _ColumnPlan, numeric: bool, sensitive: str, group: str) -> GroupDrift:
        min_size = self.plan.method.min_group_size
        if numeric:
            part = column.slices.get((sensitive, group))
            n_ref = column.ref_n.get((sensitive, group), 0)
            summary = self.stats.arrays.get(("num", column.name, sensitive, group))
            if part is None or summary is None:
                n_cur = self.stats.counts.get(("n", column.name, sensitive, group), 0)
            else:
                n_cur = int(summary[: 2 * part.values.size + 1].sum())
            if part is None or summary is None or min(n_ref, n_cur) < min_size:
                return GroupDrift(group, n_ref, n_cur, None, None)
            result = part.compare(summary)
            return GroupDrift(group, n_ref, n_cur, result.psi, result.test.p_value)
        counts = self.categories.get((column.name, sensitive, group), {}).values()
        n_ref, n_cur = sum(c[0] for c in counts), sum(c[1] for c in counts)
        if min(n_ref, n_cur) < min_size:
            return GroupDrift(group, n_ref, n_cur, None, None)
        result = self._categorical(column.name, sensitive, group)
        return GroupDrift(group, n_ref, n_cur, result.psi, result.test.p_value)
