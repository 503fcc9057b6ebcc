"""Per-group statistics of scores: scoring rate, mean score, AUC and calibration.

- scoring_rate (NYC LL144, 6 RCNY 5-300): share of the group scoring strictly above the median
  score of the full sample (every row, including rows whose group is unknown).
- mean_score = sum(score) / n.
- auc = P(score of a random positive > score of a random negative) within the group, ties
  counting 1/2: (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg), with R_pos the sum of the
  positives' tie-averaged ranks among the group's scores. None with one class only.
- calibration (only when every score lies in [0, 1], i.e. reads as a probability): 10 bins of
  width 0.1 with scikit-learn's ``calibration_curve`` convention (bin b holds scores in
  (b/10, (b+1)/10], the first bin also holds 0). Per bin: n, mean score, observed rate of
  positives. Expected calibration error ece = sum over bins of (n_b / n) |mean_b - observed_b|.

All of it comes from sorted arrays and ``np.bincount``; no Python loop runs over rows.

**Intervals** of mean_score, auc and ece: the percentile bootstrap, resampling each group's rows
with replacement (group sizes fixed). A resample of a group's rows is a multinomial draw over its
(distinct score, label) pairs with the pairs' counts as weights, so each resample is a vector of
counts over the group's sorted distinct scores and every statistic above is a cumulative sum of it
(:func:`score_intervals`): the cost grows with distinct scores times resamples, never with a loop
over rows. The median of the full sample (the scoring rate's cut) is held fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.errors import InputError
from audit.fairness.rates import quantile_interval

N_BINS = 10


@dataclass(frozen=True)
class CalibrationBin:
    """One row of a reliability table; mean_score and observed_rate are None for an empty bin."""

    bin_low: float
    bin_high: float
    n: int
    mean_score: float | None
    observed_rate: float | None


@dataclass(frozen=True)
class ScoreStats:
    """Score statistics of every group of one feature, as arrays indexed by group code."""

    above: np.ndarray  # rows above the full sample's median, per group
    mean_score: np.ndarray
    auc: np.ndarray  # NaN where the group has one class only
    ece: np.ndarray | None  # None when the scores are not probabilities
    calibration: tuple[tuple[CalibrationBin, ...], ...] | None
    #: bootstrap intervals {"mean_score" | "auc" | "ece": (low, high) arrays by group code}
    ci: dict[str, tuple[np.ndarray, np.ndarray]] | None = None


def as_scores(scores: Any) -> np.ndarray:
    """Scores as a 1-D float array; refuse non-numeric, missing or infinite values."""
    arr = scores.to_numpy() if hasattr(scores, "to_numpy") else np.asarray(scores)
    if arr.ndim != 1 or arr.dtype.kind not in "biuf":
        raise InputError(
            f"scores must be a 1-D array of numbers, got shape {arr.shape} and dtype {arr.dtype}",
            hint="pass the probability of the positive class, e.g. predict_proba(X)[:, 1]",
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputError(
            "scores contain missing or infinite values",
            hint="drop or fill those rows before auditing, or leave scores out",
        )
    return arr


def above_median(scores: np.ndarray) -> np.ndarray:
    """True where a score is strictly above the median of all scores (LL144's scoring rate)."""
    return scores > np.median(scores)


def score_stats(
    scores: np.ndarray,
    y_true: np.ndarray | None,
    above: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    *,
    n_bootstrap: int = 0,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> ScoreStats:
    """Scoring counts, mean score, AUC and calibration per group code (-1 rows left out).

    Without true labels (``y_true`` None) AUC and calibration are undefined (NaN / None).
    ``n_bootstrap`` resamples (with ``rng``) add the intervals of :func:`score_intervals`.
    """
    labelled = y_true is not None
    if y_true is None:
        y_true = np.zeros(len(scores), dtype=bool)
    known = codes >= 0
    codes_k, scores_k, truth_k = codes[known], scores[known], y_true[known]
    n = np.bincount(codes_k, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(codes_k, weights=scores_k, minlength=n_groups) / n
    above_n = np.bincount(codes_k, weights=above[known], minlength=n_groups).astype(np.int64)
    auc = _group_auc(scores_k, truth_k, codes_k, n_groups)
    if not labelled:
        auc = np.full(n_groups, np.nan)
    ece, table = None, None
    # Whether scores read as probabilities is a property of the score column, not of the rows
    # whose group happens to be known.
    probabilities = bool(scores.min() >= 0.0 and scores.max() <= 1.0)
    if probabilities and labelled:
        ece, table = _calibration(scores_k, truth_k, codes_k, n_groups)
    ci = None
    if n_bootstrap > 0 and rng is not None:
        ci = score_intervals(
            scores_k,
            truth_k,
            codes_k,
            n_groups,
            n_bootstrap=n_bootstrap,
            confidence=confidence,
            rng=rng,
            labelled=labelled,
            calibrated=probabilities and labelled,
        )
    return ScoreStats(above=above_n, mean_score=mean, auc=auc, ece=ece, calibration=table, ci=ci)


#: Resamples drawn at once (bounds the memory: chunk x distinct scores of a group).
_CHUNK = 100


def score_intervals(
    scores: np.ndarray,
    truth: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    *,
    n_bootstrap: int,
    confidence: float,
    rng: np.random.Generator,
    labelled: bool = True,
    calibrated: bool = True,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Percentile bootstrap intervals of mean_score, auc (``labelled``) and ece (``calibrated``).

    Each group's rows are resampled on their own (see the module docstring); a resample's AUC is
    the Mann-Whitney statistic of the resampled counts, ties counting 1/2, exactly as
    :func:`_group_auc` computes it on the rows. NaN where fewer than half the resamples define
    the value.
    """
    names = ["mean_score"] + (["auc"] if labelled else []) + (["ece"] if calibrated else [])
    out = {k: (np.full(n_groups, np.nan), np.full(n_groups, np.nan)) for k in names}
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    for g in range(n_groups):
        mine = codes == g
        if not mine.any():
            continue
        values, run = np.unique(scores[mine], return_inverse=True)
        t = truth[mine].astype(np.int64)
        # counts of (distinct score, label): column 0 negatives, column 1 positives
        pairs = np.bincount(run * 2 + t, minlength=2 * len(values)).reshape(-1, 2)
        flat = pairs.ravel()
        total = int(flat.sum())
        cell_of_row = np.repeat(np.arange(len(flat)), flat)
        bins = np.searchsorted(edges[1:-1], values)
        in_bin = np.zeros((len(values), N_BINS))
        in_bin[np.arange(len(values)), bins] = 1.0
        draws: dict[str, list[np.ndarray]] = {k: [] for k in names}
        for start in range(0, n_bootstrap, _CHUNK):
            size = min(_CHUNK, n_bootstrap - start)
            # the row bootstrap: ``total`` rows drawn with replacement, counted per cell (a
            # multinomial draw; drawing rows is far faster than a multinomial over many cells)
            drawn = cell_of_row[rng.integers(0, total, size=(size, total))]
            drawn += (np.arange(size) * len(flat))[:, None]
            w = np.bincount(drawn.ravel(), minlength=size * len(flat)).reshape(size, -1, 2)
            rows = w.sum(axis=2).astype(np.float64)  # resampled rows per distinct score
            draws["mean_score"].append(rows @ values / total)
            neg, pos = w[..., 0].astype(np.float64), w[..., 1].astype(np.float64)
            if labelled:
                below = np.cumsum(neg, axis=1) - neg  # negatives strictly below each score
                wins = (pos * (below + 0.5 * neg)).sum(axis=1)
                pairs_n = pos.sum(axis=1) * neg.sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    draws["auc"].append(np.where(pairs_n > 0, wins / pairs_n, np.nan))
            if calibrated:
                # per bin: sum of scores - sum of positives = sum over its scores of the residual
                gap = (rows * values - pos) @ in_bin
                draws["ece"].append(np.abs(gap).sum(axis=1) / total)
        for k in names:
            low, high = quantile_interval(np.concatenate(draws[k])[:, None], confidence)
            out[k][0][g], out[k][1][g] = low[0], high[0]
    return out


def _group_auc(
    scores: np.ndarray, truth: np.ndarray, codes: np.ndarray, n_groups: int
) -> np.ndarray:
    """Mann-Whitney AUC per group, from one sort by (group, score)."""
    order = np.lexsort((scores, codes))
    s, c, t = scores[order], codes[order], truth[order]
    m = len(s)
    if m == 0:
        return np.full(n_groups, np.nan)
    # Runs of equal (group, score) share the average of the ranks they span.
    new_run = np.ones(m, dtype=bool)
    new_run[1:] = (c[1:] != c[:-1]) | (s[1:] != s[:-1])
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_end = np.append(run_start[1:], m)  # exclusive
    group_start = np.searchsorted(c, np.arange(n_groups), side="left")
    # Rank within the group (1-based) of a run = mean of its positions minus the group start.
    run_rank = (run_start + run_end + 1) / 2.0 - group_start[c[run_start]]
    rank_sum = np.bincount(c, weights=run_rank[run_id] * t, minlength=n_groups)
    n_pos = np.bincount(c, weights=t, minlength=n_groups)
    n_all = np.bincount(c, minlength=n_groups)
    n_neg = n_all - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def _calibration(
    scores: np.ndarray, truth: np.ndarray, codes: np.ndarray, n_groups: int
) -> tuple[np.ndarray, tuple[tuple[CalibrationBin, ...], ...]]:
    """ECE and reliability table per group; see the module docstring for the binning."""
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    bins = np.searchsorted(edges[1:-1], scores)  # sklearn's calibration_curve binning
    index = codes * N_BINS + bins
    size = n_groups * N_BINS
    count = np.bincount(index, minlength=size).reshape(n_groups, N_BINS)
    score_sum = np.bincount(index, weights=scores, minlength=size).reshape(n_groups, N_BINS)
    pos_sum = np.bincount(index, weights=truth, minlength=size).reshape(n_groups, N_BINS)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = score_sum / count
        observed = pos_sum / count
        weight = count / count.sum(axis=1, keepdims=True)
    ece = np.where(count > 0, weight * np.abs(mean - observed), 0.0).sum(axis=1)
    ece = np.where(count.sum(axis=1) > 0, ece, np.nan)
    tables = tuple(
        tuple(
            CalibrationBin(
                bin_low=float(edges[b]),
                bin_high=float(edges[b + 1]),
                n=int(count[g, b]),
                mean_score=float(mean[g, b]) if count[g, b] else None,
                observed_rate=float(observed[g, b]) if count[g, b] else None,
            )
            for b in range(N_BINS)
        )
        for g in range(n_groups)
    )
    return ece, tables
