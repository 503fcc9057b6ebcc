"""Sufficient statistics of drift: what one partition of the audit data is reduced to.

Used by :mod:`audit.drift.stream`; every count here adds up over partitions. Per slice (a
column overall, or within one group of a sensitive feature), for the reference's sorted
distinct values ``r_0 < ... < r_{m-1}`` of that slice:

- numeric: ``2m + 1`` cells, cell ``2k + 1`` counting current values equal to ``r_k`` and cell
  ``2k`` those strictly between ``r_{k-1}`` and ``r_k`` (cell 0 below ``r_0``, cell ``2m``
  above ``r_{m-1}``); a value's cell is ``searchsorted(r, x, "left") + searchsorted(r, x,
  "right")``. Then the PSI bin counts over the reference's quantile edges. The KS statistic
  ``D = max |F_ref - F_cur|`` over the pooled values, as scipy computes it, is attained at a
  reference value (``F_cur(r_k)`` is a running sum of cells up to ``2k + 1``) or at the largest
  current value below one (``F_cur = #cur < r_k``, the running sum up to ``2k``): between two
  reference values ``F_ref`` is constant and ``F_cur`` rises, so the gap is largest at one of
  the ends. Missing values are counted, not binned.
- categorical: rows per category, keyed by ``str(value)`` (missing: ``None``), so that a
  category first seen in a later partition simply adds a key; categories are put in
  :func:`~audit.fairness.counts.group_codes` order (missing first, then sorted labels) only at
  :meth:`~audit.drift.stream.DriftPlan.finalize`, as ``compute_drift`` does on the pooled data.

Sizes are bounded by the reference (distinct values per slice) and by the categories and
groups, never by the number of current rows. A group whose reference slice has fewer than
``min_group_size`` compared values can never be compared, so only its count is kept.

The KS p-value depends on ``(D, n_ref, n_cur)`` only. scipy's ``ks_2samp(method="auto")`` is
exact when both samples have at most 10,000 values: then scipy itself is run on samples rebuilt
from the counts (reference values repeated; each current cell's rows placed on ``r_k`` or just
below it, which gives the same ``D``). Above that, scipy's asymptotic formula is applied to
``D`` (``kstwo.sf(D, round(n1 * n2 / (n1 + n2)))``, copied from scipy 1.17
``_stats_py.ks_2samp``; tests/test_drift_stream.py checks it against ``ks_2samp``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, kstwo

from audit.drift.engine import NUMERIC, _compare_counts, _Comparison
from audit.drift.psi import bin_counts, quantile_edges
from audit.drift.tests import TestResult
from audit.fairness.counts import group_codes

#: ``ks_2samp(method="auto")`` is exact when neither sample has more values than this.
KS_EXACT_MAX_N = 10_000

#: ("num", column, sensitive, group) -> cells + PSI bins; ("cat", column, sensitive, group,
#: category), ("n", column, sensitive, group), ("missing", column), ("rows", sensitive, group)
#: -> a count. Overall slices have sensitive = group = None; the missing category is None.
Key = tuple[str | None, ...]


@dataclass(frozen=True, eq=False)
class CurrentDriftStats:
    """Counts of some audit rows against one :class:`~audit.drift.stream.DriftPlan`: small,
    picklable, additive.

    ``floats`` names the integer-in-the-reference label/predictions columns that some partition
    held as floats (see :mod:`audit.drift.stream`). Produced by ``DriftPlan.summarise`` or
    ``DriftPlan.empty``; combine any number with :meth:`merge` in any order.
    """

    plan: str
    rows: int
    arrays: dict[Key, np.ndarray] = field(default_factory=dict)
    counts: dict[Key, int] = field(default_factory=dict)
    floats: frozenset[str] = frozenset()

    def merge(self, other: CurrentDriftStats) -> CurrentDriftStats:
        """The counts of both sets of rows (integer sums, so any order gives the same result)."""
        if other.plan != self.plan:
            raise ValueError("drift statistics of different plans cannot be merged")
        arrays = dict(self.arrays)
        for key, value in other.arrays.items():
            arrays[key] = arrays[key] + value if key in arrays else value
        counts = dict(self.counts)
        for key, count in other.counts.items():
            counts[key] = counts.get(key, 0) + count
        return CurrentDriftStats(
            self.plan, self.rows + other.rows, arrays, counts, self.floats | other.floats
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CurrentDriftStats):
            return NotImplemented
        return (
            (self.plan, self.rows, self.counts, self.floats)
            == (other.plan, other.rows, other.counts, other.floats)
            and self.arrays.keys() == other.arrays.keys()
            and all(np.array_equal(v, other.arrays[k]) for k, v in self.arrays.items())
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays: equal but not hashable


class Counter:
    def __init__(self) -> None:
        self.arrays: dict[Key, np.ndarray] = {}
        self.counts: dict[Key, int] = {}

    def add(self, key: Key, value: np.ndarray) -> None:
        self.arrays[key] = self.arrays[key] + value if key in self.arrays else value

    def count(self, key: Key, n: int) -> None:
        if n:
            self.counts[key] = self.counts.get(key, 0) + int(n)


@dataclass(frozen=True, eq=False)
class NumericSlice:
    """The non-missing reference values of one slice, as sorted distinct values and counts."""

    values: np.ndarray
    counts: np.ndarray
    edges: np.ndarray
    bins: np.ndarray  # reference rows per PSI bin

    @classmethod
    def of(cls, ref: np.ndarray, bins: int) -> NumericSlice:
        ref = ref[~np.isnan(ref)]
        values, counts = np.unique(ref, return_counts=True)
        edges = quantile_edges(ref, bins)
        return cls(values, counts.astype(np.int64), edges, bin_counts(ref, edges))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def summarise(self, cur: np.ndarray) -> np.ndarray:
        """The cells (module docstring) and PSI bin counts of sorted, non-missing current values.

        The few reference values and edges are looked up in the sorted current values rather
        than each current value among them: measured on 1M rows (benchmarks/
        bench_drift_stream.py) a sort and these lookups take about a tenth of the time of
        ``np.searchsorted(values, cur)``, whose random probes miss the cache.
        """
        below = np.searchsorted(cur, self.values, "left")  # current values < r_k
        upto = np.searchsorted(cur, self.values, "right")  # current values <= r_k
        out = np.empty(2 * self.values.size + 1 + self.edges.size + 1, dtype=np.int64)
        out[1 : 2 * self.values.size : 2] = upto - below
        out[0 : 2 * self.values.size : 2] = below - np.concatenate([[0], upto[:-1]])
        out[2 * self.values.size] = cur.size - upto[-1]
        # bin j of bin_counts is (e_{j-1}, e_j]: rows <= e_j minus rows <= e_{j-1}
        at_edges = np.concatenate([[0], np.searchsorted(cur, self.edges, "right"), [cur.size]])
        out[2 * self.values.size + 1 :] = np.diff(at_edges)
        return out

    def compare(self, summary: np.ndarray) -> _Comparison:
        cells = summary[: 2 * self.values.size + 1]
        ks = ks_from_counts(self.values, self.counts, cells)
        return _compare_counts(NUMERIC, self.bins, summary[cells.size :], ks)


def ks_from_counts(values: np.ndarray, ref_counts: np.ndarray, cells: np.ndarray) -> TestResult:
    """``ks_2samp(reference, current)`` from the reference's distinct values and counts and the
    current cells (module docstring); equal to scipy's result to the last bit."""
    n1, n2 = int(ref_counts.sum()), int(cells.sum())
    if max(n1, n2) <= KS_EXACT_MAX_N:
        # scipy's exact p-value depends on (D, n1, n2) only, so scipy run on rebuilt samples
        # with the same D gives it: a cell's rows go on r_k (cell 2k + 1) or just below r_k
        # (cell 2k; no value can lie in it unless nextafter(r_k, -inf) > r_{k-1}) or above.
        points = np.empty(cells.size)
        points[0:-1:2] = np.nextafter(values, -np.inf)
        points[1::2] = values
        points[-1] = np.nextafter(values[-1], np.inf)
        result = ks_2samp(np.repeat(values, ref_counts), np.repeat(points, cells))
        return TestResult("ks", float(result.statistic), float(result.pvalue))
    running = np.cumsum(cells)
    ref_le = np.cumsum(ref_counts)
    # the same float operations as scipy: count / n for each sample, then the difference
    cdf_ref = np.concatenate([ref_le, ref_le - ref_counts]) / n1
    cdf_cur = np.concatenate([running[1::2], running[0:-1:2]]) / n2
    diffs = cdf_ref - cdf_cur
    max_s = diffs.max()
    min_s = np.clip(-diffs.min(), 0, 1)
    d = min_s if min_s > max_s else max_s
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p_value = np.clip(kstwo.sf(d, np.round(m * n / (m + n))), 0, 1)
    return TestResult("ks", float(d), float(p_value))


@dataclass(frozen=True)
class GroupedRows:
    """The rows of one frame sorted by the groups of one sensitive feature."""

    sensitive: str
    labels: tuple[str, ...]
    codes: np.ndarray
    order: np.ndarray
    bounds: np.ndarray  # group k is order[bounds[k + 1]:bounds[k + 2]]

    @classmethod
    def of(cls, sensitive: str, column: pd.Series) -> GroupedRows:
        codes, labels = group_codes(column)
        sizes = np.bincount(codes + 1, minlength=len(labels) + 1)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        return cls(sensitive, labels, codes, np.argsort(codes, kind="stable"), bounds)

    def segments(self, values: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
        ordered = values[self.order]
        for k, label in enumerate(self.labels):
            yield label, ordered[self.bounds[k + 1] : self.bounds[k + 2]]

    def count(self, counter: Counter) -> None:
        for k, label in enumerate(self.labels):
            counter.count(("rows", self.sensitive, label), self.bounds[k + 2] - self.bounds[k + 1])


def count_categories(name: str, column: pd.Series, groups: list[GroupedRows], out: Counter) -> None:
    codes, labels = group_codes(column)
    keys: list[str | None] = [None, *labels]
    for slot in np.flatnonzero(counts := np.bincount(codes + 1, minlength=len(keys))):
        out.count(("cat", name, None, None, keys[slot]), counts[slot])
    for rows in groups:
        if rows.sensitive == name:
            continue
        size = (len(rows.labels) + 1) * len(keys)
        table = np.bincount((rows.codes + 1) * len(keys) + codes + 1, minlength=size)
        table = table.reshape(len(rows.labels) + 1, len(keys))[1:]  # row 0: no group
        for g, slot in zip(*np.nonzero(table), strict=True):
            out.count(("cat", name, rows.sensitive, rows.labels[g], keys[slot]), table[g, slot])
