"""Global and per-group importance with bootstrap intervals, and proxies of sensitive features.

Importance of input column j over a set of explained rows R is ``I_j = mean_{i in R} |phi_ij|``;
its share is ``I_j / sum_k I_k``. Intervals are percentile bootstrap intervals over the explained
rows (resampled with replacement, ``resamples`` times, seeded): they say how much the numbers
would move with another sample of the same size, not how wrong the model is.

A *proxy* is an input column strongly associated with a sensitive attribute, so that the model can
rely on the attribute without taking it as input. Association is Cramér's V,

    V = sqrt( chi2 / (n * (min(r, c) - 1)) ),

from the contingency table of the two columns (r x c cells, numeric columns cut into at most
``bins`` quantile bins first, missing values as their own category); 0 = independent,
1 = one determines the other. It is computed on every row of the audited data.
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
#: Default Cramér's V at or above which an input column counts as a proxy.
PROXY_THRESHOLD = 0.3
#: Quantile bins for numeric columns in the association measure.
BINS = 10


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


@dataclass(frozen=True)
class Association:
    """Cramér's V between model input column ``feature`` and ``sensitive_feature``."""

    feature: str
    sensitive_feature: str
    cramers_v: float


def _codes(column: pd.Series, bins: int) -> np.ndarray:
    """Category codes; numeric columns with many values cut into quantile bins; NaN its own.

    A value that alone holds at least 1/bins of the rows (the zeros of ``capital_gain``) is its
    own bin; the other values are cut into quantile bins, so a spike does not swallow them all.
    """
    if pd.api.types.is_numeric_dtype(column) and column.nunique(dropna=True) > bins:
        column = column.reset_index(drop=True)
        frequency = column.value_counts(normalize=True)
        heavy = frequency.index[frequency >= 1.0 / bins]
        binned = pd.Series(pd.NA, index=column.index, dtype=object)
        is_heavy = column.isin(heavy)
        binned[is_heavy] = "=" + column[is_heavy].astype(str)
        rest = column[~is_heavy & column.notna()]
        if len(rest):
            q = max(1, bins - len(heavy))
            binned[rest.index] = pd.qcut(rest, q=q, duplicates="drop").astype(str).to_numpy()
        column = binned
    codes, _ = pd.factorize(column, use_na_sentinel=False)
    return np.asarray(codes)


def cramers_v(a: pd.Series, b: pd.Series, *, bins: int = BINS) -> float:
    """Cramér's V of two columns (see the module docstring); 0 if either is constant."""
    x, y = _codes(a, bins), _codes(b, bins)
    r, c = int(x.max()) + 1, int(y.max()) + 1
    if min(r, c) < 2:
        return 0.0
    observed = np.bincount(x * c + y, minlength=r * c).reshape(r, c).astype(float)
    n = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0).sum()
    return float(np.sqrt(chi2 / (n * (min(r, c) - 1))))


def associations(
    features: pd.DataFrame, sensitive: pd.DataFrame, *, bins: int = BINS
) -> tuple[Association, ...]:
    """Cramér's V of every model input column with every sensitive column, strongest first.

    A column that is itself sensitive is skipped (it is not a proxy, it is the attribute).
    """
    found = [
        Association(str(f), str(s), cramers_v(features[f], sensitive[s], bins=bins))
        for s in sensitive.columns
        for f in features.columns
        if f not in sensitive.columns
    ]
    return tuple(sorted(found, key=lambda a: -a.cramers_v))


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman rank correlation of two importance vectors (average ranks for ties)."""
    if len(a) < 2:
        return None
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])
