"""Overall predictive performance, derived from the same confusion counts as fairness.

With tn, fp, fn, tp over all n rows:

- base_rate = (tp + fn) / n, selection_rate = (tp + fp) / n, accuracy = (tp + tn) / n
- precision = tp / (tp + fp), recall = tp / (tp + fn)
- f1 = 2 tp / (2 tp + fp + fn)  (the harmonic mean of precision and recall)
- roc_auc = P(score of a random positive > score of a random negative), ties counting 1/2;
  computed as the Mann-Whitney U statistic (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg),
  with R_pos the sum of the (tie-averaged) ranks of the positives' scores.

Undefined values (0/0, or AUC without scores or with a single class) are None, never 0.

With no label (``y_true`` None: an audit of decisions or scores alone) only n and
selection_rate = selected / n are computed; every other metric and the four counts are None,
and the section's status is ``not_assessable`` with the reason (never a 0 that reads as a result).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from audit import contract
from audit.fairness.counts import as_outcome, check_lengths, count_cells
from audit.fairness.scores import as_scores


@dataclass(frozen=True)
class PerformanceReport:
    """Confusion counts and overall metrics of binary decisions; formulas in the module doc."""

    n: int
    tp: int | None
    fp: int | None
    fn: int | None
    tn: int | None
    base_rate: float | None
    selection_rate: float
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None
    #: why nothing but n and the selection rate was computed (None: everything was)
    not_assessable: str | None = None

    def to_report(self) -> contract.Performance:
        """The report's performance section."""
        values = {k: v for k, v in vars(self).items() if k != "not_assessable"}
        if self.not_assessable is None:
            return contract.Performance(**values)
        return contract.Performance(**values, status="not_assessable", reason=self.not_assessable)


def compute_performance(y_true: Any, y_pred: Any, scores: Any = None) -> PerformanceReport:
    """Accuracy, precision, recall, F1 and (given ``scores``) ROC AUC of binary decisions.

    ``y_true`` and ``y_pred`` are booleans (True = positive outcome); ``scores`` is an optional
    array of finite numbers, higher meaning more likely positive (e.g. predict_proba[:, 1]).
    ``y_true`` None (no label): only n and the selection rate (see the module doc).
    """
    pred = as_outcome(y_pred, "y_pred")
    truth = None if y_true is None else as_outcome(y_true, "y_true")
    lengths = (
        {"y_pred": len(pred)} if truth is None else {"y_true": len(truth), "y_pred": len(pred)}
    )
    score_values = None if scores is None else as_scores(scores)
    if score_values is not None:
        lengths["scores"] = len(score_values)
    check_lengths(**lengths)
    if truth is None:
        return performance_from_counts(len(pred), int(pred.sum()), None)
    counts = count_cells(truth, pred, np.zeros(len(truth), dtype=np.int64), ("all",))
    return performance_from_counts(
        len(truth),
        int(pred.sum()),
        tuple(int(c) for c in counts.cells[0]),  # type: ignore[arg-type]
        roc_auc=None if score_values is None else _roc_auc(truth, score_values),
    )


def performance_from_counts(
    n: int,
    selected: int,
    cells: tuple[int, int, int, int] | None,
    *,
    roc_auc: float | None = None,
) -> PerformanceReport:
    """The report from counts: ``n`` rows, ``selected`` positive decisions and, with a label,
    the confusion ``cells`` (tn, fp, fn, tp); None cells: an audit without a label."""
    if cells is None:
        return PerformanceReport(
            n=n,
            tp=None,
            fp=None,
            fn=None,
            tn=None,
            base_rate=None,
            selection_rate=selected / n,
            accuracy=None,
            precision=None,
            recall=None,
            f1=None,
            roc_auc=None,
            not_assessable=contract.NO_LABEL,
        )
    tn, fp, fn, tp = cells
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
        roc_auc=roc_auc,
    )


def _roc_auc(truth: np.ndarray, scores: np.ndarray) -> float | None:
    """Mann-Whitney AUC; None when only one class is present (AUC is undefined)."""
    n_pos = int(truth.sum())
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    from scipy.stats import rankdata  # here: scipy.stats takes ~0.6 s to import

    rank_sum = float(rankdata(scores)[truth].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
