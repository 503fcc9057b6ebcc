"""Population stability index (PSI): how far a column's distribution has moved, in one number.

Both datasets are cut into the same bins and compared bin by bin::

    PSI = sum over bins b of (p_cur[b] - p_ref[b]) * ln(p_cur[b] / p_ref[b])

where ``p_ref[b]`` and ``p_cur[b]`` are the shares of the reference and current rows in bin
``b``. Each term is >= 0 (both factors have the same sign), so PSI is >= 0 and is 0 only when
the shares are equal; it is the symmetrised Kullback-Leibler divergence
``KL(cur || ref) + KL(ref || cur)``. The usual reading (Siddiqi, *Credit Risk Scorecards*,
2006; Yurdakul, *Statistical properties of the population stability index*, 2018):

- PSI < 0.1: stable, no action;
- 0.1 <= PSI <= 0.25: moderate shift, investigate;
- PSI > 0.25: significant shift, the model may no longer fit the data.

**Bins.** Numeric columns: the interior edges are the reference's quantiles at
``1/bins, 2/bins, ..., (bins-1)/bins`` (numpy's default linear interpolation), deduplicated, so
each bin holds about ``1/bins`` of the reference; tied values (a column that is mostly 0) merge
bins instead of making empty ones. Bins are closed on the right, ``(e[i-1], e[i]]``, like
``pandas.cut``, and the first and last bins are open-ended, so values outside the reference's
range land in the end bins. Categorical columns: one bin per category seen in either dataset
(a category unseen in the reference gets its own bin, empty in the reference).

**Empty bins.** ``ln(p_cur / 0)`` is infinite, so the share of an empty bin is replaced by
:data:`EPSILON` = 1e-4 (a conventional value: one row in ten thousand) before the sum, without
renormalising. A bin empty in both datasets then contributes exactly 0. The replacement caps
the contribution of one bin near ``p * ln(p / 1e-4)`` (about 1.5 for a bin holding 20 % of one
dataset), so PSI stays finite and comparable.

Counting is vectorised: ``np.searchsorted`` assigns bins and ``np.bincount`` counts them.
"""

from __future__ import annotations

import numpy as np

#: Share used in place of 0 for an empty bin (see the module docstring).
EPSILON = 1e-4


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Interior bin edges of a numeric column: the reference's ``k / bins`` quantiles, deduplicated.

    ``reference`` must hold only non-missing values. Returns at most ``bins - 1`` sorted, unique,
    finite edges (an infinite quantile, from infinite values, is not a usable edge). Fewer edges
    mean fewer bins: a column with a single value has no edge and one bin.
    """
    if bins < 2 or reference.size == 0:
        return np.empty(0, dtype=np.float64)
    edges = np.quantile(reference, np.arange(1, bins) / bins)
    return np.unique(edges[np.isfinite(edges)])


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Rows per bin for the bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``: ``len(edges) + 1`` counts.

    ``np.searchsorted(edges, x, side="left")`` is the number of edges strictly below ``x``,
    which is exactly the index of the right-closed bin holding ``x``.
    """
    index = np.searchsorted(edges, values, side="left")
    return np.bincount(index, minlength=edges.size + 1)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """PSI of two count vectors over the same bins (formula and epsilon in the module docstring).

    Both vectors must have the same length and a positive total.
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.shape != cur.shape or ref.ndim != 1:
        raise ValueError(f"count vectors must be 1-D and alike, got {ref.shape} and {cur.shape}")
    p_ref = np.where(ref > 0, ref / ref.sum(), EPSILON)
    p_cur = np.where(cur > 0, cur / cur.sum(), EPSILON)
    return float(np.sum((p_cur - p_ref) * np.log(p_cur / p_ref)))
