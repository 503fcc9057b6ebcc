"""Global and per-group importance with bootstrap intervals.

Importance of input column j over a set of explained rows R is ``I_j = mean_{i in R} |phi_ij|``;
its share is ``I_j / sum_k I_k``. Intervals are percentile bootstrap intervals over the explained
rows (resampled with replacement, ``resamples`` times, seeded): they say how much the numbers
would move with another sample of the same size, not how wrong the model is.

Proxies of sensitive features (associations, proxy models) are in :mod:`audit.explain.proxies`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Confidence level of the bootstrap intervals.
LEVEL = 0.95
#: Bootstrap resamples.
RESAMPLES = 500


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Importance:
    """``mean_abs_shap`` per input column (model order) with bootstrap intervals, and the
    bootstrap interval of the share of the total on ``chosen`` columns (e.g. sensitive ones)."""

    n: int
    mean_abs_shap: np.ndarray
    low: np.ndarray
    high: np.ndarray
    chosen_share: float | None
    chosen_share_interval: Interval | None


def importance(
    attributions: np.ndarray,
    chosen: Sequence[int],
    *,
    seed: int,
    resamples: int = RESAMPLES,
    with_share: bool = True,
) -> Importance:
    """Mean |SHAP| per column and the share on ``chosen`` columns, with percentile intervals.

    Resampling is done with multinomial counts (``counts @ |phi| / n``), so each of the
    ``resamples`` replicates is one matrix product rather than a Python loop.
    """
    magnitude = np.abs(attributions)
    n = magnitude.shape[0]
    if n == 0:
        zeros = np.zeros(magnitude.shape[1])
        return Importance(0, zeros, zeros, zeros, None, None)
    means = magnitude.mean(axis=0)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)
    replicates = counts @ magnitude / n  # (resamples, columns)
    alpha = (1 - LEVEL) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha], axis=0)
    share = share_interval = None
    if with_share:
        cols = list(chosen)
        total = means.sum()
        share = float(means[cols].sum() / total) if total > 0 else 0.0
        totals = replicates.sum(axis=1)
        shares = np.divide(
            replicates[:, cols].sum(axis=1), totals, out=np.zeros_like(totals), where=totals > 0
        )
        lo, hi = np.quantile(shares, [alpha, 1 - alpha])
        share_interval = Interval(float(lo), float(hi))
    return Importance(n, means, low, high, share, share_interval)


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman rank correlation of two importance vectors (average ranks for ties)."""
    if len(a) < 2:
        return None
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])
