"""Fairness and performance under a shift of group shares, by reweighting counts.

A *shift scenario* asks: what if group ``g`` of sensitive feature ``f`` made up ``s'`` of the
rows instead of its observed share ``s_g`` (among the rows whose ``f`` is known), the other groups
of ``f`` keeping their proportions to each other? Each row of group ``h`` of ``f`` gets the weight

- ``w_g = s' / s_g`` for the shifted group,
- ``w_h = (1 - s') / (1 - s_g)`` for every other group (they scale proportionally),
- 1 for a row whose ``f`` is missing (its share of the whole is kept),

so the weights sum to the row count and the scenario's population has the group shares
``s'_h = s_h w_h``. This is importance weighting for a *prior (label-free) shift* of ``f``: the
distribution of everything else given ``f`` is assumed unchanged. Every metric is then the
metric of the weighted counts: a weighted count of a joint cell is its count times the weight of
its group of ``f``, so no row is read again (``sklearn.metrics.*(..., sample_weight=w)`` and
fairlearn's ``MetricFrame(..., sample_params={"sample_weight": w})`` compute the same numbers
from the rows).

Within one group of ``f`` every row has the same weight, so the per-group rates of ``f`` itself
and of any intersection that includes ``f`` do not change; only the overall metrics and the
between-group summaries of the *other* features do.

**Uncertainty.** The percentile bootstrap over multinomial resamples of the joint cells (the row
bootstrap in distribution, see :mod:`audit.fairness.uncertainty`): in each resample the shares
``s_g`` are re-counted and the weights recomputed with the scenario's ``s'`` fixed, so the
interval covers the estimation of the weights too. The change (shifted - current) is computed
inside each resample, so its interval is paired.

Functions take counts shaped ``(..., keys, 4)`` (cells ``tn, fp, fn, tp``) and return arrays
shaped ``(...)``: the same code computes the point estimates and every resample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from audit.fairness.counters import ScoreCounter
from audit.fairness.rates import divide, rate_parts, spread

#: The overall metrics of a scenario, in report order (roc_auc is added from the scores).
OVERALL = ("accuracy", "selection_rate", "precision", "recall", "f1", "base_rate")
#: Overall metrics that compare the decision with the true outcome.
OVERALL_LABEL = frozenset({"accuracy", "precision", "recall", "f1", "base_rate", "roc_auc"})
#: The between-group summaries of a feature: (report name, rate, difference or ratio).
SUMMARIES: tuple[tuple[str, str, str], ...] = (
    ("demographic_parity_difference", "selection_rate", "difference"),
    ("demographic_parity_ratio", "selection_rate", "ratio"),
    ("equalized_odds_difference", "", "difference"),
    ("equal_opportunity_difference", "tpr", "difference"),
    ("predictive_parity_difference", "ppv", "difference"),
)
#: Summaries that compare the decision with the true outcome.
SUMMARY_LABEL = frozenset(
    {"equalized_odds_difference", "equal_opportunity_difference", "predictive_parity_difference"}
)


def scaled_shares(share: np.ndarray, group: int, target: float) -> np.ndarray:
    """The scenario's shares of every group: ``target`` for ``group``, the others' observed
    shares scaled by ``(1 - target) / (1 - share[group])`` (``share`` sums to 1)."""
    out = np.asarray(share, dtype=np.float64) * ((1.0 - target) / (1.0 - share[group]))
    out[group] = target
    return out


def group_weights(n: np.ndarray, group: int, target: float) -> np.ndarray:
    """Each group's weight (``(..., G)`` from rows per group ``n``, ``(..., G)``): ``target /
    s_g`` for ``group``, ``(1 - target) / (1 - s_g)`` for the others; NaN where a resample has
    no row of ``group`` or only rows of it (the scenario cannot be formed)."""
    n = np.asarray(n, dtype=np.float64)
    known = n.sum(axis=-1, keepdims=True)
    share = divide(n[..., group : group + 1], known)
    inside = divide(np.full(share.shape, target), share)
    outside = divide(np.full(share.shape, 1.0 - target), 1.0 - share)
    ok = (share > 0) & (share < 1)
    weights = np.where(np.arange(n.shape[-1]) == group, inside, outside)
    return np.where(ok, weights, np.nan)


def key_weights(weights: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Each joint key's weight (``(..., K)``) from its group's (``(..., G)``); ``code`` is the
    key's group of the shifted feature, -1 for a missing value (weight 1)."""
    known = code >= 0
    picked = np.take(weights, np.where(known, code, 0), axis=-1)
    return np.where(known, picked, 1.0)


def group_counts(cells: np.ndarray, code: np.ndarray, n_groups: int) -> np.ndarray:
    """Cells per group (``(..., G, 4)``) from cells per key (``(..., K, 4)``); keys whose
    group is missing (code -1) are left out."""
    onehot = (code[:, None] == np.arange(n_groups)[None, :]).astype(np.float64)
    return np.einsum("...kc,kg->...gc", np.asarray(cells, dtype=np.float64), onehot)


def overall(cells: np.ndarray) -> dict[str, np.ndarray]:
    """:data:`OVERALL` of (weighted) cells per key: ``(..., K, 4)`` -> ``(...)`` each."""
    total = np.asarray(cells, dtype=np.float64).sum(axis=-2)
    tn, fp, fn, tp = (total[..., i] for i in range(4))
    n = tn + fp + fn + tp
    return {
        "accuracy": divide(tp + tn, n),
        "selection_rate": divide(tp + fp, n),
        "precision": divide(tp, tp + fp),
        "recall": divide(tp, tp + fn),
        "f1": divide(2 * tp, 2 * tp + fp + fn),
        "base_rate": divide(tp + fn, n),
    }


def summaries(group_cells: np.ndarray, compared: np.ndarray) -> dict[str, np.ndarray]:
    """:data:`SUMMARIES` of (weighted) cells per group (``(..., G, 4)``) over the ``compared``
    groups: max - min and min / max as in :mod:`audit.fairness.metrics`."""
    parts = rate_parts(group_cells)
    out: dict[str, np.ndarray] = {}
    spreads = {m: spread(*parts[m], compared) for m in ("selection_rate", "tpr", "fpr", "ppv")}
    for name, rate, kind in SUMMARIES:
        if name == "equalized_odds_difference":
            out[name] = np.maximum(spreads["tpr"][0], spreads["fpr"][0])
        else:
            out[name] = spreads[rate][0 if kind == "difference" else 1]
    return out


def weighted_auc(counters: Sequence[ScoreCounter], weights: np.ndarray) -> float:
    """ROC AUC of the rows ``counters`` hold (one per key) with each key's rows weighted by
    ``weights[key]``: P(a positive scores above a negative) + 1/2 P(tie), pairs weighted by the
    product of their weights (what ``roc_auc_score(..., sample_weight=w)`` computes); NaN with
    one class only."""
    values = [c.values for c in counters if c.size]
    if not values:
        return float("nan")
    unique, inverse = np.unique(np.concatenate(values), return_inverse=True)
    neg = np.concatenate(
        [
            (c.counts[:, 0] + c.counts[:, 1]) * w
            for c, w in zip(counters, weights, strict=True)
            if c.size
        ]
    )
    pos = np.concatenate(
        [
            (c.counts[:, 2] + c.counts[:, 3]) * w
            for c, w in zip(counters, weights, strict=True)
            if c.size
        ]
    )
    neg_v = np.bincount(inverse.ravel(), weights=neg, minlength=unique.size)
    pos_v = np.bincount(inverse.ravel(), weights=pos, minlength=unique.size)
    n_neg, n_pos = float(neg_v.sum()), float(pos_v.sum())
    if n_neg == 0 or n_pos == 0:
        return float("nan")
    below = np.cumsum(neg_v) - neg_v
    return float(np.sum(pos_v * (below + 0.5 * neg_v))) / (n_pos * n_neg)


#: Most draws (min(rows, (score, label) categories) x resamples) the roc_auc bootstrap makes;
#: beyond it roc_auc gets no interval (millions of rows with millions of distinct scores).
AUC_BUDGET = 50_000_000


def auc_resamples(
    counters: Sequence[ScoreCounter],
    code: np.ndarray,
    group: int,
    target: float,
    n_bootstrap: int,
    rng: np.random.Generator,
    chunk: int = 64,
) -> tuple[np.ndarray, np.ndarray] | None:
    """ROC AUC of ``n_bootstrap`` resamples, unweighted and under the scenario: ``(current,
    shifted)``, each of shape ``(n_bootstrap,)``; None past :data:`AUC_BUDGET`.

    The rows are resampled as multinomial counts over every (joint key, distinct score, label)
    the counters hold (the row bootstrap in distribution); each resample's weights are
    recomputed from its own shares of the shifted feature's groups (``code``: each key's group,
    -1 for a missing value), as :func:`group_weights` does for the cells.
    """
    sized = [(k, c) for k, c in enumerate(counters) if c.size]
    if not sized or auc_cost(counters, n_bootstrap) > AUC_BUDGET:
        return None
    # one category per (key, distinct score, label) with rows: negatives first, then positives
    parts = []
    for side, cells in ((0, [0, 1]), (1, [2, 3])):
        for k, c in sized:
            n = c.counts[:, cells].sum(axis=1)
            held = n > 0
            parts.append((side, np.full(int(held.sum()), k), c.values[held], n[held]))
    label = np.concatenate([np.full(p[1].size, p[0]) for p in parts])
    keys = np.concatenate([p[1] for p in parts])
    values = np.concatenate([p[2] for p in parts])
    flat = np.concatenate([p[3] for p in parts]).astype(np.int64)
    # negatives sorted by score, then positives: slices, not gathers, in the loop below
    order = np.lexsort((values, label))
    label, keys, values, flat = label[order], keys[order], values[order], flat[order]
    n_neg = int((label == 0).sum())
    neg_values, pos_values = values[:n_neg], values[n_neg:]
    # each positive's place among the sorted negatives: below it, and tied with it
    lo = np.searchsorted(neg_values, pos_values, side="left")
    hi = np.searchsorted(neg_values, pos_values, side="right")
    ties = bool(np.any(hi > lo))
    total = int(flat.sum())
    category_code = code[keys]
    n_groups = int(code.max()) + 1
    onehot = (category_code[:, None] == np.arange(n_groups)[None, :]).astype(np.float64)
    # few rows: draw rows (cost rows x resamples); many rows: draw the multinomial counts
    # directly (cost categories x resamples); the same distribution either way
    category_of_row = np.repeat(np.arange(flat.size), flat) if total <= flat.size else None
    now: list[np.ndarray] = []
    then: list[np.ndarray] = []
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        if category_of_row is not None:
            picked = category_of_row[rng.integers(0, total, size=(size, total))]
            picked += (np.arange(size) * flat.size)[:, None]
            counts = np.bincount(picked.ravel(), minlength=size * flat.size)
        else:
            counts = rng.multinomial(total, flat / total, size=size)
        draws = counts.reshape(size, flat.size).astype(np.float64)
        weights = group_weights(draws @ onehot, group, target)
        for out, w in ((now, None), (then, key_weights(weights, category_code))):
            d = draws if w is None else draws * w
            neg, pos = d[:, :n_neg], d[:, n_neg:]
            below = np.concatenate([np.zeros((size, 1)), np.cumsum(neg, axis=1)], axis=1)
            under = below[:, lo]
            if ties:
                under = 0.5 * (under + below[:, hi])  # a tie counts 1/2
            wins = np.sum(pos * under, axis=1)
            out.append(divide(wins, pos.sum(axis=1) * neg.sum(axis=1)))
    return np.concatenate(now), np.concatenate(then)


def auc_cost(counters: Sequence[ScoreCounter], n_bootstrap: int) -> int:
    """What :func:`auc_resamples` draws: min(rows, categories) x resamples."""
    rows = sum(c.rows for c in counters)
    return min(rows, 2 * sum(c.size for c in counters)) * n_bootstrap
