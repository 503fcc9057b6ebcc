"""Exact value counters of continuous predictions, outcomes and errors, and every regression
statistic computed from them.

A :class:`ValueCounter` holds the sorted distinct values of some rows and how many rows have
each. Two counters of disjoint rows merge by adding the counts of equal values: exact,
associative and commutative, so an audit streamed in batches gives the same counters, and
therefore the same bytes, as one that held every row. Past :data:`MAX_DISTINCT` distinct values
in an audit, values are kept to 16 significant bits (:func:`round_significant`: a function of the
value alone, so it commutes with merging; the relative step is :data:`RELATIVE_RESOLUTION`).

Statistics of one counter (``n`` rows, values v with counts c; sums in sorted value order):

- mean = Σ c v / n, with Student's t interval mean ± t(n-1) · s / sqrt(n), s² = Σ c (v - mean)² /
  (n - 1) (what ``statsmodels`` ``DescrStatsW.tconfint_mean`` gives);
- of the errors e = y - ŷ: MAE = mean |e| (t interval on |e|), MSE = mean e² (t interval on e²),
  RMSE = sqrt(MSE) with the square roots of the MSE interval's limits;
- against a reference counter: the Kolmogorov-Smirnov distance D = max |F_g - F_ref| of the two
  empirical CDFs, with the p-value of ``scipy.stats.ks_2samp`` (``method="auto"``: exact for
  groups of at most 10,000 rows, else Smirnov's asymptotic distribution), and the
  Wasserstein-1 distance ∫ |F_g - F_ref| dx (``scipy.stats.wasserstein_distance`` with the counts
  as weights);
- bootstrap: ``n`` multinomial draws over a counter's values per resample (rows resampled within
  the group), percentile intervals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from audit.fairness.counters import counters_by_code

#: Distinct values kept exactly (over all counters of an audit); beyond this, values are rounded.
MAX_DISTINCT = 2_000_000
#: Significant bits kept once rounding applies, and the relative step they give.
SIGNIFICANT_BITS = 16
RELATIVE_RESOLUTION = 2.0**-SIGNIFICANT_BITS
#: scipy.stats.ks_2samp's "auto" method: exact when both groups have at most this many rows.
KS_EXACT_MAX_N = 10_000
#: Bootstrap work per block of resamples (resamples × grid values), bounding memory.
_BLOCK_CELLS = 4_000_000

T_METHOD = "student t interval of the mean"
MSE_METHOD = "student t interval of the mean squared error"
RMSE_METHOD = "square roots of the student t interval of the mean squared error"
WELCH_METHOD = "welch t interval of the difference in means"
RATIO_METHOD = "delta method on the log of the ratio of means (normal)"
BOOT_METHOD = "bootstrap percentile ({n} multinomial resamples of each group's rows)"
BOOT_SUMMARY_METHOD = (
    "bootstrap percentile ({n} multinomial resamples of each group's rows; the groups "
    "re-chosen in each)"
)


@dataclass(frozen=True, eq=False)
class ValueCounter:
    """Sorted distinct ``values`` (float64) and ``counts`` (int64) rows with each."""

    values: np.ndarray
    counts: np.ndarray
    rounded: bool = False

    @classmethod
    def empty(cls) -> ValueCounter:
        return cls(np.empty(0, np.float64), np.zeros(0, np.int64))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def size(self) -> int:
        return int(self.values.size)

    def rounded_to_grid(self) -> ValueCounter:
        if self.rounded:
            return self
        return collapse(round_significant(self.values), self.counts, rounded=True)

    def map(self, function: np.ufunc) -> ValueCounter:
        """The counter of ``function(value)`` of the same rows (e.g. ``np.abs``)."""
        return collapse(function(self.values), self.counts, rounded=self.rounded)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValueCounter):
            return NotImplemented
        return (
            self.rounded == other.rounded
            and np.array_equal(self.values, other.values)
            and np.array_equal(self.counts, other.counts)
        )

    __hash__ = None  # type: ignore[assignment]


def round_significant(values: np.ndarray, bits: int = SIGNIFICANT_BITS) -> np.ndarray:
    """``values`` kept to ``bits`` significant bits (ties to even): a pure function of each."""
    mantissa, exponent = np.frexp(np.asarray(values, dtype=np.float64))
    return np.ldexp(np.round(mantissa * 2.0**bits) / 2.0**bits, exponent)


def collapse(values: np.ndarray, counts: np.ndarray, *, rounded: bool = False) -> ValueCounter:
    """The counter of (value, count) pairs, adding the counts of equal values."""
    values = np.asarray(values, dtype=np.float64) + 0.0  # -0.0 is counted as 0.0
    counts = np.asarray(counts, dtype=np.int64)
    if values.size == 0:
        return ValueCounter(np.empty(0, np.float64), np.zeros(0, np.int64), rounded)
    unique, inverse = np.unique(values, return_inverse=True)
    if unique.size == values.size and np.array_equal(unique, values):
        return ValueCounter(unique, counts, rounded)
    summed = np.zeros(unique.size, np.int64)
    np.add.at(summed, inverse.ravel(), counts)
    return ValueCounter(unique, summed, rounded)


def merge_counters(counters: Iterable[ValueCounter]) -> ValueCounter:
    """The counter of the union of disjoint rows (rounded if any part is)."""
    parts = list(counters)
    if not parts:
        return ValueCounter.empty()
    rounded = any(p.rounded for p in parts)
    if rounded:
        parts = [p.rounded_to_grid() for p in parts]
    parts = [p for p in parts if p.size]
    if not parts:
        return ValueCounter(np.empty(0, np.float64), np.zeros(0, np.int64), rounded)
    if len(parts) == 1:
        return ValueCounter(parts[0].values, parts[0].counts, rounded)
    return collapse(
        np.concatenate([p.values for p in parts]),
        np.concatenate([p.counts for p in parts]),
        rounded=rounded,
    )


def counters_of(values: np.ndarray, codes: np.ndarray, n_codes: int) -> list[ValueCounter]:
    """One counter per code in ``[0, n_codes)`` of the rows' ``values`` (no loop over rows)."""
    cells = np.zeros(len(values), np.int64)
    return [
        ValueCounter(c.values, c.counts[:, 0].copy())
        for c in counters_by_code(np.asarray(values, np.float64) + 0.0, cells, codes, n_codes)
    ]


# -- statistics of one counter ---------------------------------------------------------------


@dataclass(frozen=True)
class Mean:
    """The mean of a counter's rows, their sample standard deviation and the t interval."""

    n: int
    mean: float
    sd: float  # ddof=1; NaN for fewer than two rows
    ci: tuple[float, float] | None


def mean_of(counter: ValueCounter, confidence: float) -> Mean:
    n = counter.n
    if n == 0:
        return Mean(0, float("nan"), float("nan"), None)
    weights = counter.counts.astype(np.float64)
    mean = float(np.sum(counter.values * weights) / n)
    if n < 2:
        return Mean(n, mean, float("nan"), None)
    sd = float(np.sqrt(np.sum(weights * (counter.values - mean) ** 2) / (n - 1)))
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * sd / np.sqrt(n)
    return Mean(n, mean, sd, (mean - half, mean + half))


def squares(counter: ValueCounter) -> ValueCounter:
    return counter.map(np.square)


# -- two counters: distribution distances and tests -------------------------------------------


def _grid_cdfs(
    values: np.ndarray, counts: np.ndarray, grid: np.ndarray
) -> np.ndarray:  # counts: (k, size) -> (k, len(grid))
    on_grid = np.zeros((counts.shape[0], grid.size), np.float64)
    on_grid[:, np.searchsorted(grid, values)] = counts
    total = on_grid.sum(axis=1, keepdims=True)
    return np.cumsum(on_grid, axis=1) / np.where(total > 0, total, 1.0)


def distances(
    a: ValueCounter, b: ValueCounter, counts_a: np.ndarray, counts_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """KS distances and Wasserstein-1 distances of rows of counts over ``a``'s and ``b``'s values
    (``counts_a``: (k, a.size), ``counts_b``: (k, b.size)): two arrays of length k."""
    grid = np.union1d(a.values, b.values)
    gap = np.abs(_grid_cdfs(a.values, counts_a, grid) - _grid_cdfs(b.values, counts_b, grid))
    return gap.max(axis=1), (gap[:, :-1] * np.diff(grid)).sum(axis=1)


def ks_test(a: ValueCounter, b: ValueCounter, d: float) -> tuple[float, str]:
    """The two-sided p-value of the KS distance ``d`` between ``a`` and ``b`` and its method, as
    ``scipy.stats.ks_2samp(method="auto")`` computes it."""
    n1, n2 = a.n, b.n
    if max(n1, n2) <= KS_EXACT_MAX_N:  # the exact null distribution depends on n1, n2 and d
        result = sps.ks_2samp(np.repeat(a.values, a.counts), np.repeat(b.values, b.counts))
        return float(result.pvalue), "kolmogorov-smirnov two-sample, exact"
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(np.clip(sps.kstwo.sf(d, np.round(m * n / (m + n))), 0.0, 1.0))
    return p, "kolmogorov-smirnov two-sample, asymptotic (smirnov)"


def welch(g: Mean, r: Mean, confidence: float) -> tuple[float, float, tuple[float, float] | None]:
    """Welch's t statistic and p-value of the difference of means, and its t interval."""
    if g.n < 2 or r.n < 2:
        return float("nan"), float("nan"), None
    vg, vr = g.sd**2 / g.n, r.sd**2 / r.n
    se = np.sqrt(vg + vr)
    diff = g.mean - r.mean
    if se == 0:
        return float("nan"), float("nan"), None
    df = (vg + vr) ** 2 / (vg**2 / (g.n - 1) + vr**2 / (r.n - 1))
    t = diff / se
    p = float(2 * sps.t.sf(abs(t), df))
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
    return float(t), p, (diff - half, diff + half)


def ratio_interval(g: Mean, r: Mean, confidence: float) -> tuple[float, float] | None:
    """The delta-method interval of mean(g) / mean(r) on the log scale (positive means only)."""
    if g.n < 2 or r.n < 2 or not (g.mean > 0 and r.mean > 0):
        return None
    se = np.sqrt(g.sd**2 / (g.n * g.mean**2) + r.sd**2 / (r.n * r.mean**2))
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    ratio = g.mean / r.mean
    return float(ratio * np.exp(-z * se)), float(ratio * np.exp(z * se))


# -- bootstrap -----------------------------------------------------------------------------------


def resample(counter: ValueCounter, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` multinomial resamples of the counter's rows: (k, size) counts, each summing to n."""
    n = counter.n
    if n == 0:
        return np.zeros((k, counter.size), np.int64)
    return rng.multinomial(n, counter.counts / n, size=k)


def weighted_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The mean of each row of counts over ``values`` (NaN for an empty row)."""
    total = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ values) / np.where(total > 0, total, np.nan)


def block_size(n_bootstrap: int, sizes: Sequence[int]) -> int:
    """Resamples per block, so a block's arrays stay near _BLOCK_CELLS values."""
    widest = max([1, *sizes])
    return max(1, min(n_bootstrap, _BLOCK_CELLS // widest))


def percentile(draws: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """The percentile interval of one statistic's resamples (None where undefined)."""
    from audit.fairness.rates import quantile_interval

    low, high = quantile_interval(np.asarray(draws, np.float64).reshape(-1, 1), confidence)
    lo, hi = float(low[0]), float(high[0])
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else None
