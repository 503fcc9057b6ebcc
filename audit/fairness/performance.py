"""Overall predictive performance, derived from the same confusion counts as fairness.

With tn, fp, fn, tp over all n rows:

- base_rate = (tp + fn) / n, selection_rate = (tp + fp) / n, accuracy = (tp + tn) / n
- precision = tp / (tp + fp), recall = tp / (tp + fn)
- f1 = 2 tp / (2 tp + fp + fn)  (the harmonic mean of precision and recall)
- roc_auc = P(score of a random positive > score of a random negative), ties counting 1/2;
  computed as the Mann-Whitney U statistic (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg),
  with R_pos the sum of the (tie-averaged) ranks of the positives' scores.

Undefined values (0/0, or AUC without scores or with a single class) are None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from audit.errors import InputError
from audit.fairness.counts import as_outcome, check_lengths, count_cells


@dataclass(frozen=True)
class PerformanceReport:
    """Confusion counts and overall metrics of binary decisions; formulas in the module doc."""

    n: int
    tp: int
    fp: int
    fn: int
    tn: int
    base_rate: float
    selection_rate: float
    accuracy: float
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (floats, ints and None only)."""
        return {
            "n": self.n,
            "base_rate": self.base_rate,
            "selection_rate": self.selection_rate,
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "roc_auc": self.roc_auc,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
        }


def compute_performance(y_true: Any, y_pred: Any, scores: Any = None) -> PerformanceReport:
    """Accuracy, precision, recall, F1 and (given ``scores``) ROC AUC of binary decisions.

    ``y_true`` and ``y_pred`` are booleans (True = positive outcome); ``scores`` is an optional
    array of finite numbers, higher meaning more likely positive (e.g. predict_proba[:, 1]).
    """
    truth = as_outcome(y_true, "y_true")
    pred = as_outcome(y_pred, "y_pred")
    lengths = {"y_true": len(truth), "y_pred": len(pred)}
    score_values = None if scores is None else _as_scores(scores)
    if score_values is not None:
        lengths["scores"] = len(score_values)
    check_lengths(**lengths)

    counts = count_cells(truth, pred, np.zeros(len(truth), dtype=np.int64), ("all",))
    tn, fp, fn, tp = (int(c) for c in counts.cells[0])
    n = len(truth)
    return PerformanceReport(
        n=n,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        base_rate=(tp + fn) / n,
        selection_rate=(tp + fp) / n,
        accuracy=(tp + tn) / n,
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        roc_auc=None if score_values is None else _roc_auc(truth, score_values),
    )


def _as_scores(scores: Any) -> np.ndarray:
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


def _roc_auc(truth: np.ndarray, scores: np.ndarray) -> float | None:
    """Mann-Whitney AUC; None when only one class is present (AUC is undefined)."""
    n_pos = int(truth.sum())
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = float(rankdata(scores)[truth].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
