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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.errors import InputError
from audit.fairness.counters import ScoreCounter, counters_by_code
from audit.fairness.counters import auc as auc_of
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
    The rows are first reduced to one exact :class:`~audit.fairness.counters.ScoreCounter` per
    group, and everything is computed from those (:func:`counter_stats`), as the audit engine
    does with counters merged over partitions.
    """
    labelled = y_true is not None
    truth = y_true if y_true is not None else np.zeros(len(scores), dtype=bool)
    counters = counters_by_code(scores, truth.astype(np.int64) * 2, codes, n_groups)
    known = codes >= 0
    above_n = np.bincount(codes[known], weights=above[known], minlength=n_groups).astype(np.int64)
    # Whether scores read as probabilities is a property of the score column, not of the rows
    # whose group happens to be known.
    probabilities = bool(scores.min() >= 0.0 and scores.max() <= 1.0)
    return counter_stats(
        counters,
        above_n,
        labelled=labelled,
        probabilities=probabilities,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        rng=rng,
    )


def counter_stats(
    counters: Sequence[ScoreCounter],
    above_n: np.ndarray,
    *,
    labelled: bool,
    probabilities: bool,
    n_bootstrap: int = 0,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> ScoreStats:
    """:class:`ScoreStats` of groups given as one counter each (see :func:`score_stats`)."""
    n_groups = len(counters)
    n = np.array([c.rows for c in counters], dtype=np.int64)
    sums = np.array([float(np.dot(c.values, c.total())) for c in counters])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / n
    auc = np.full(n_groups, np.nan)
    if labelled:
        auc[:] = [auc_of(*c.neg_pos()) for c in counters]
    ece, table = None, None
    if probabilities and labelled:
        ece, table = _calibration(counters)
    ci = None
    if n_bootstrap > 0 and rng is not None:
        ci = counter_intervals(
            counters,
            n_bootstrap=n_bootstrap,
            confidence=confidence,
            rng=rng,
            labelled=labelled,
            calibrated=probabilities and labelled,
        )
    return ScoreStats(
        above=np.asarray(above_n, np.int64),
        mean_score=mean,
        auc=auc,
        ece=ece,
        calibration=table,
        ci=ci,
    )


#: Resamples drawn at once (bounds the memory: chunk x distinct scores of a group).
_CHUNK = 100
#: Groups of at most this many rows are resampled row by row; larger groups by a multinomial
#: over at most _CELLS runs of neighbouring scores (see counter_intervals).
BOOTSTRAP_ROWS = 20_000
_CELLS = 512


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
    """Percentile bootstrap intervals of mean_score, auc and ece per group, from rows."""
    counters = counters_by_code(scores, truth.astype(np.int64) * 2, codes, n_groups)
    return counter_intervals(
        counters,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        rng=rng,
        labelled=labelled,
        calibrated=calibrated,
    )


def counter_intervals(
    counters: Sequence[ScoreCounter],
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
    :func:`~audit.fairness.counters.auc` computes it. NaN where fewer than half the resamples
    define the value.

    A group of more than :data:`BOOTSTRAP_ROWS` rows (where drawing every row of every resample
    would cost rows x resamples) is resampled by the Poisson bootstrap (each cell's count drawn
    as Poisson of its count: the multinomial's large-sample equivalent) over at most 512 runs
    of neighbouring distinct scores (runs never cross a calibration bin edge), each run standing
    for its rows' mean score; the percentile interval of that resampled statistic is then
    shifted by the difference between the exact point estimate and the run-level one, so
    the interval stays centred on the reported value.
    """
    names = ["mean_score"] + (["auc"] if labelled else []) + (["ece"] if calibrated else [])
    n_groups = len(counters)
    out = {k: (np.full(n_groups, np.nan), np.full(n_groups, np.nan)) for k in names}
    for g, counter in enumerate(counters):
        if counter.rows == 0:
            continue
        neg, pos = counter.neg_pos()
        values = counter.values
        total = int(neg.sum() + pos.sum())
        shift: dict[str, float] = {}
        if total > BOOTSTRAP_ROWS:
            exact = _point(values, neg, pos, names)
            values, neg, pos = _runs(values, neg, pos)
            binned = _point(values, neg, pos, names)
            shift = {k: exact[k] - binned[k] for k in names}
        draws = _resample(values, neg, pos, total, n_bootstrap, rng, names)
        for k in names:
            low, high = quantile_interval(draws[k][:, None], confidence)
            out[k][0][g], out[k][1][g] = low[0] + shift.get(k, 0.0), high[0] + shift.get(k, 0.0)
    return out


def _resample(
    values: np.ndarray,
    neg: np.ndarray,
    pos: np.ndarray,
    total: int,
    n_bootstrap: int,
    rng: np.random.Generator,
    names: list[str],
) -> dict[str, np.ndarray]:
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    flat = np.column_stack([neg, pos]).ravel()  # (distinct score, label), label fastest
    bins = np.searchsorted(edges[1:-1], values)
    in_bin = np.zeros((len(values), N_BINS))
    in_bin[np.arange(len(values)), bins] = 1.0
    by_rows = total <= BOOTSTRAP_ROWS
    cell_of_row = np.repeat(np.arange(len(flat)), flat) if by_rows else None
    draws: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for start in range(0, n_bootstrap, _CHUNK):
        size = min(_CHUNK, n_bootstrap - start)
        if cell_of_row is not None:
            # the row bootstrap: ``total`` rows drawn with replacement, counted per cell (a
            # multinomial draw; drawing rows is far faster than a multinomial over many cells)
            drawn = cell_of_row[rng.integers(0, total, size=(size, total))]
            drawn += (np.arange(size) * len(flat))[:, None]
            w = np.bincount(drawn.ravel(), minlength=size * len(flat)).reshape(size, -1, 2)
        else:  # the Poisson bootstrap: each cell's count ~ Poisson(its count), independently
            w = rng.poisson(flat, size=(size, len(flat))).reshape(size, -1, 2)
        rows = w.sum(axis=2).astype(np.float64)  # resampled rows per distinct score
        drawn_rows = rows.sum(axis=1)  # = total for the row bootstrap
        draws["mean_score"].append(rows @ values / drawn_rows)
        neg_w, pos_w = w[..., 0].astype(np.float64), w[..., 1].astype(np.float64)
        if "auc" in draws:
            below = np.cumsum(neg_w, axis=1) - neg_w  # negatives strictly below each score
            wins = (pos_w * (below + 0.5 * neg_w)).sum(axis=1)
            pairs_n = pos_w.sum(axis=1) * neg_w.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                draws["auc"].append(np.where(pairs_n > 0, wins / pairs_n, np.nan))
        if "ece" in draws:
            # per bin: sum of scores - sum of positives = sum over its scores of the residual
            gap = (rows * values - pos_w) @ in_bin
            draws["ece"].append(np.abs(gap).sum(axis=1) / drawn_rows)
    return {k: np.concatenate(v) for k, v in draws.items()}


def _point(
    values: np.ndarray, neg: np.ndarray, pos: np.ndarray, names: list[str]
) -> dict[str, float]:
    """The statistics of one group's counts (the unresampled statistic of _resample)."""
    rows = neg + pos
    total = rows.sum()
    out = {"mean_score": float(np.dot(values, rows) / total)}
    if "auc" in names:
        out["auc"] = auc_of(neg, pos)
    if "ece" in names:
        edges = np.linspace(0.0, 1.0, N_BINS + 1)
        bins = np.searchsorted(edges[1:-1], values)
        gap = np.bincount(bins, weights=rows * values - pos, minlength=N_BINS)
        out["ece"] = float(np.abs(gap).sum() / total)
    return out


def _runs(values: np.ndarray, neg: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, ...]:
    """At most about _CELLS runs of neighbouring scores with about equal rows, never across a
    calibration bin edge; each run's value is its rows' mean score."""
    rows = neg + pos
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    calibration_bin = np.searchsorted(edges[1:-1], values)
    quantile_run = (np.cumsum(rows) - rows) * _CELLS // rows.sum()
    key = calibration_bin * (_CELLS + 1) + quantile_run
    new = np.ones(values.size, dtype=bool)
    new[1:] = key[1:] != key[:-1]
    run = np.cumsum(new) - 1
    n_runs = int(run[-1]) + 1
    run_rows = np.bincount(run, weights=rows, minlength=n_runs)
    run_values = np.bincount(run, weights=values * rows, minlength=n_runs) / run_rows
    run_neg = np.bincount(run, weights=neg, minlength=n_runs).astype(np.int64)
    run_pos = np.bincount(run, weights=pos, minlength=n_runs).astype(np.int64)
    return run_values, run_neg, run_pos


def _calibration(
    counters: Sequence[ScoreCounter],
) -> tuple[np.ndarray, tuple[tuple[CalibrationBin, ...], ...]]:
    """ECE and reliability table per group; see the module docstring for the binning."""
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    n_groups = len(counters)
    count = np.zeros((n_groups, N_BINS))
    score_sum = np.zeros((n_groups, N_BINS))
    pos_sum = np.zeros((n_groups, N_BINS))
    for g, c in enumerate(counters):
        bins = np.searchsorted(edges[1:-1], c.values)  # sklearn's calibration_curve binning
        rows = c.total()
        count[g] = np.bincount(bins, weights=rows, minlength=N_BINS)
        score_sum[g] = np.bincount(bins, weights=c.values * rows, minlength=N_BINS)
        pos_sum[g] = np.bincount(bins, weights=c.neg_pos()[1], minlength=N_BINS)
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
