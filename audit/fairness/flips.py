"""Counterfactual flip statistics from paired decision counts (McNemar's table).

Each row whose input a swap changes is decided twice, as it is and as its counterfactual twin.
With favourable the positive decision, the counts are a = favourable kept, b = favourable to
adverse, c = adverse to favourable, d = adverse kept, n = a + b + c + d:

- flip rate (b + c) / n, with the Jeffreys interval (:func:`audit.fairness.intervals.jeffreys`):
  equal-tailed Beta(x + 1/2, n - x + 1/2) quantiles, so a model that never flips gets an upper
  bound near 1.9 / n rather than the Wald interval's [0, 0];
- net change (c - b) / n, the change in the favourable rate the swap causes, with the
  Agresti-Min (2005) adjusted Wald interval for paired proportions: add 1/2 to every cell
  (n~ = n + 2, b~ = b + 1/2, c~ = c + 1/2), then d~ = (c~ - b~) / n~ and
  d~ +- z sqrt((b~ + c~) / n~ - d~^2) / sqrt(n~) (clipped to [-1, 1]), which keeps its coverage
  where the plain Wald interval collapses (b = c = 0);
- McNemar's exact test of b = c: two-sided binomial test of b in b + c trials at 1/2
  (``scipy.stats.binomtest``), statistic min(b, c), p = 1 when b + c = 0 (as
  ``statsmodels.stats.contingency_tables.mcnemar(..., exact=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from .intervals import jeffreys

FLIP_RATE_METHOD = "Jeffreys"
NET_CHANGE_METHOD = "Agresti-Min adjusted Wald (paired)"
TEST = "McNemar exact (two-sided binomial test of the discordant pairs at 1/2)"

#: index of each paired outcome in a count vector: 2 * favourable_before + favourable_after
ADVERSE_KEPT, ADVERSE_TO_FAVOURABLE, FAVOURABLE_TO_ADVERSE, FAVOURABLE_KEPT = 0, 1, 2, 3


@dataclass(frozen=True)
class FlipStats:
    """The statistics of one set of paired decisions (see the module docstring)."""

    n: int
    flips: int
    flip_rate: float | None
    flip_rate_ci: tuple[float, float] | None
    a: int | None = None
    b: int | None = None
    c: int | None = None
    d: int | None = None
    net_change: float | None = None
    net_change_ci: tuple[float, float] | None = None
    mcnemar_statistic: int | None = None
    mcnemar_p_value: float | None = None


def flip_rate(
    flips: int, n: int, confidence: float
) -> tuple[float | None, tuple[float, float] | None]:
    """(flips / n, Jeffreys interval); (None, None) when n = 0."""
    if n == 0:
        return None, None
    low, high = jeffreys(flips, n, confidence)
    return flips / n, (float(low), float(high))


def net_change(
    b: int, c: int, n: int, confidence: float
) -> tuple[float | None, tuple[float, float] | None]:
    """((c - b) / n, Agresti-Min adjusted Wald interval); (None, None) when n = 0."""
    if n == 0:
        return None, None
    z = float(ndtri(1 - (1 - confidence) / 2))
    nt = n + 2.0
    bt, ct = (b + 0.5) / nt, (c + 0.5) / nt
    dt = ct - bt
    half = z * np.sqrt(max(bt + ct - dt * dt, 0.0) / nt)
    return (c - b) / n, (max(-1.0, dt - half), min(1.0, dt + half))


def mcnemar_exact(b: int, c: int) -> tuple[int, float]:
    """(min(b, c), two-sided exact p-value) of McNemar's test; p = 1 when b + c = 0."""
    if b + c == 0:
        return 0, 1.0
    from scipy.stats import binomtest

    return min(b, c), float(binomtest(b, b + c, 0.5).pvalue)


def paired(counts: np.ndarray, confidence: float) -> FlipStats:
    """The statistics of a binary audit's count vector (indexed as ADVERSE_KEPT ...)."""
    d, c, b, a = (int(v) for v in counts)
    n = a + b + c + d
    rate, rate_ci = flip_rate(b + c, n, confidence)
    net, net_ci = net_change(b, c, n, confidence)
    statistic, p = mcnemar_exact(b, c)
    return FlipStats(
        n=n,
        flips=b + c,
        flip_rate=rate,
        flip_rate_ci=rate_ci,
        a=a,
        b=b,
        c=c,
        d=d,
        net_change=net,
        net_change_ci=net_ci,
        mcnemar_statistic=statistic,
        mcnemar_p_value=p,
    )


def changed(same: int, flips: int, confidence: float) -> FlipStats:
    """The statistics of decisions without a favourable class (multiclass): changed or not."""
    n = same + flips
    rate, rate_ci = flip_rate(flips, n, confidence)
    return FlipStats(n=n, flips=flips, flip_rate=rate, flip_rate_ci=rate_ci)
