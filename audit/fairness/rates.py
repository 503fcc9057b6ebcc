"""Rates and between-group comparisons as array formulas over confusion counts.

Every function here takes counts shaped ``(..., groups, 4)`` (cells ``tn, fp, fn, tp``) and
returns arrays shaped ``(..., groups)`` or ``(...)``. The same code therefore computes the point
estimates (no leading axis) and all bootstrap resamples at once (leading axis = resample), so
an interval can never describe a different formula than the number it brackets.

Per group, with n = tn + fp + fn + tp and N = the sum of n over the groups with a known value:

=============  =======================  ==================================================
metric         formula                  meaning
=============  =======================  ==================================================
share          n / N                    share of the rows with a known group
base_rate      (tp + fn) / n            P(actually positive | group)
selection_rate (tp + fp) / n            P(selected | group)
tpr            tp / (tp + fn)           true positive rate, recall, P(selected | positive)
fpr            fp / (fp + tn)           false positive rate, P(selected | negative)
tnr            tn / (tn + fp)           true negative rate, specificity, 1 - fpr
fnr            fn / (fn + tp)           false negative rate, 1 - tpr
ppv            tp / (tp + fp)           precision, P(positive | selected)
npv            tn / (tn + fn)           P(negative | not selected)
fdr            fp / (fp + tp)           false discovery rate, 1 - ppv
for            fn / (fn + tn)           false omission rate, 1 - npv
accuracy       (tp + tn) / n
scoring_rate   above / n                NYC LL144: share scoring above the full sample's
                                        median score (``above`` counted per group)
=============  =======================  ==================================================

A rate whose denominator is 0 is undefined: NaN here, ``None`` in reports (never a made-up 0).
"""

from __future__ import annotations

import numpy as np

from audit.contract.metrics import FN, FP, TN, TP, compared_metrics, rates

#: Per-group rates in report order, from the metric catalogue (``scoring_rate`` only exists
#: when the audit has scores).
RATES = tuple(m.name for m in rates())

#: (numerator cells, denominator cells) of each rate; ``None`` means all four cells (= n).
_FORMULAS: dict[str, tuple[tuple[int, ...], tuple[int, ...] | None]] = {
    m.name: m.cells for m in rates() if m.cells is not None
}

#: Rates compared between groups (difference max - min, ratio min / max).
DISPARITY_METRICS = compared_metrics(scored=False)

#: Rates with a two-sample test against the reference group: (successes, trials) cells.
#: Every rate is tested (the policy may judge any of them on significance); tests of
#: complementary rates (tpr/fnr, fpr/tnr, ppv/fdr, npv/for) give the same p-value.
TESTED = {
    name: (num, den if den is not None else (TN, FP, FN, TP))
    for name, (num, den) in _FORMULAS.items()
}


def divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio as float, NaN where the denominator is 0 (undefined, not 0)."""
    numerator, denominator = np.broadcast_arrays(numerator, denominator)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def rate_parts(
    cells: np.ndarray, above: np.ndarray | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(numerator, denominator) counts of ``share`` and every rate of ``cells`` (``(..., G, 4)``).

    ``above`` (``(..., G)``), when given, is the number of rows per group scoring above the
    full sample's median and adds ``scoring_rate``.
    """
    cells = np.asarray(cells)
    n = cells.sum(axis=-1)
    out = {"share": (n, np.broadcast_to(n.sum(axis=-1, keepdims=True), n.shape))}
    for name, (num, den) in _FORMULAS.items():
        numerator = cells[..., list(num)].sum(axis=-1)
        denominator = n if den is None else cells[..., list(den)].sum(axis=-1)
        out[name] = (numerator, denominator)
    if above is not None:
        out["scoring_rate"] = (np.asarray(above), n)
    return out


def group_rates(cells: np.ndarray, above: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every per-group rate and ``share`` of ``cells``, as floats (NaN = undefined)."""
    return {name: divide(*parts) for name, parts in rate_parts(cells, above).items()}


def fraction_difference(
    num_a: np.ndarray, den_a: np.ndarray, num_b: np.ndarray, den_b: np.ndarray
) -> np.ndarray:
    """a - b for rates a = num_a / den_a and b = num_b / den_b, NaN if either is undefined.

    Computed as (num_a den_b - num_b den_a) / (den_a den_b) in float64: the products of counts
    are exact below 2**53, so the result is rounded once. Subtracting two rounded rates can be
    a hair off, and a rule "difference <= 0.1" must not fail on 0.1000000000000001.
    """
    num_a, den_a, num_b, den_b = (
        np.asarray(x, dtype=np.float64) for x in (num_a, den_a, num_b, den_b)
    )
    numerator = num_a * den_b - num_b * den_a
    denominator = den_a * den_b
    return divide(numerator, denominator)


def fraction_ratio(
    num_a: np.ndarray, den_a: np.ndarray, num_b: np.ndarray, den_b: np.ndarray
) -> np.ndarray:
    """a / b for rates a = num_a / den_a and b = num_b / den_b; NaN if undefined or b is 0.

    Computed as (num_a den_b) / (den_a num_b), rounded once: dividing two rounded rates
    misplaces about a third of the ratios that are exactly 0.8 just below it, and the
    four-fifths rule flags "less than" 0.8.
    """
    num_a, den_a, num_b, den_b = (
        np.asarray(x, dtype=np.float64) for x in (num_a, den_a, num_b, den_b)
    )
    numerator = num_a * den_b
    denominator = den_a * num_b
    return np.where((den_a != 0) & (den_b != 0), divide(numerator, denominator), np.nan)


def versus(num: np.ndarray, den: np.ndarray, reference: int) -> tuple[np.ndarray, np.ndarray]:
    """Difference ``rate - rate[ref]`` and ratio ``rate / rate[ref]`` of every group."""
    ref = slice(reference, reference + 1)
    num_r, den_r = num[..., ref], den[..., ref]
    return fraction_difference(num, den, num_r, den_r), fraction_ratio(num, den, num_r, den_r)


def spread(num: np.ndarray, den: np.ndarray, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest difference (max - min) and ratio (min / max) over the eligible groups.

    Only groups that are ``eligible`` (a boolean mask over the last axis) and define the rate
    count; with fewer than two such groups both are NaN (nothing is compared). The ratio is
    NaN when the largest rate is 0.
    """
    rates = divide(num, den)
    defined = eligible & ~np.isnan(rates)
    enough = defined.sum(axis=-1) >= 2
    if rates.shape[-1] == 0:
        empty = np.full(rates.shape[:-1], np.nan)
        return empty, empty.copy()
    high = np.argmax(np.where(defined, rates, -np.inf), axis=-1)[..., None]
    low = np.argmin(np.where(defined, rates, np.inf), axis=-1)[..., None]
    num_h, den_h = (
        np.take_along_axis(num, high, -1)[..., 0],
        np.take_along_axis(den, high, -1)[..., 0],
    )
    num_l, den_l = (
        np.take_along_axis(num, low, -1)[..., 0],
        np.take_along_axis(den, low, -1)[..., 0],
    )
    difference = np.where(enough, fraction_difference(num_h, den_h, num_l, den_l), np.nan)
    ratio = np.where(enough, fraction_ratio(num_l, den_l, num_h, den_h), np.nan)
    return difference, ratio


def worst_pair(rates: np.ndarray, eligible: np.ndarray) -> tuple[int, int] | None:
    """Indices (lowest, highest) of the eligible groups defining ``rates`` (1-D), or None.

    Ties go to the first group in label order, so the pair is deterministic; the two groups
    always differ (with equal rates: the first and the next one).
    """
    defined = np.flatnonzero(eligible & ~np.isnan(rates))
    if len(defined) < 2:
        return None
    values = rates[defined]
    low = int(np.argmin(values))
    values = np.where(np.arange(len(values)) == low, -np.inf, values)  # two distinct groups
    return int(defined[low]), int(defined[np.argmax(values)])


def quantile_interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval per column of ``samples`` (resamples on axis 0).

    Uses the resamples where the value is defined, with numpy's default ("linear")
    interpolation between order statistics; NaN where fewer than half of the resamples define
    the value (an interval over a minority of resamples would describe another population).
    """
    samples = np.asarray(samples, dtype=np.float64)
    b = samples.shape[0]
    ordered = np.sort(samples, axis=0)  # NaN sorts last
    k = (~np.isnan(samples)).sum(axis=0)
    alpha = (1.0 - confidence) / 2.0
    bounds = []
    for q in (alpha, 1.0 - alpha):
        position = q * np.maximum(k - 1, 0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(k - 1, 0))
        weight = position - below
        lo_value = np.take_along_axis(ordered, below[None, ...], axis=0)[0]
        hi_value = np.take_along_axis(ordered, above[None, ...], axis=0)[0]
        value = lo_value + weight * (hi_value - lo_value)
        bounds.append(np.where((k > 0) & (2 * k >= b), value, np.nan))
    return bounds[0], bounds[1]
