"""``task: multiclass``: one confusion matrix per joint key, and one-vs-rest fairness per class.

Per partition, :func:`decide_multiclass` counts ``Confusion.counts[key]``: int64 of shape
(2 [has a missing value], K [true class], K [predicted class]) per joint key of the sensitive
groups. The class order is fixed before the pass (the model's ``classes_``, or the spec's
``classes:`` for recorded predictions), so partitions merge by adding the counts of each key.

:func:`finalize_multiclass` turns the merged counts, for each class ``c``, into the binary joint
cells of "predicted c" against "is c" (:func:`one_vs_rest`): tp = C[c, c], fp = column - tp,
fn = row - tp, tn = the rest. The unchanged binary :func:`audit.engine.finalize.fairness` and
:func:`~audit.engine.finalize.performance` then give each class every rate, interval, test and
disparity, seeded from (seed, class). Overall: accuracy, and macro precision / recall / F1
(the mean over the classes where each is defined, as scikit-learn's ``zero_division=np.nan``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from audit import contract
from audit.contract.multiclass import MacroFeature, WorstClass
from audit.engine.stats import Key, Stats, joint_codes
from audit.engine.task_types import TaskOutcome, TaskSections
from audit.errors import InputError

#: Between-group summaries of a feature: how "worst" is read (higher is worse, or lower).
SUMMARIES = {
    "demographic_parity_difference": "higher",
    "demographic_parity_ratio": "lower",
    "equalized_odds_difference": "higher",
    "equal_opportunity_difference": "higher",
    "predictive_parity_difference": "higher",
}
#: The per-group rates whose means over classes the macro summary reports.
RATES = ("tpr", "fpr", "fnr", "ppv", "accuracy", "impact_ratio")


@dataclass(frozen=True, eq=False)
class Confusion:
    """Counts of (missing, true class, predicted class) per joint key (mergeable exactly)."""

    classes: tuple[str, ...]
    counts: dict[Key, np.ndarray]
    labelled: bool
    name: str = "multiclass"

    def merge(self, other: Confusion) -> Confusion:
        if other.classes != self.classes:
            raise ValueError("partitions counted different classes")
        out = {k: v.copy() for k, v in self.counts.items()}
        for key, value in other.counts.items():
            if key in out:
                out[key] += value
            else:
                out[key] = value.copy()
        return Confusion(self.classes, out, self.labelled and other.labelled)

    def aligned(self, keys: Sequence[Key]) -> np.ndarray:
        """The counts in the order of ``keys``: int64 (len(keys), 2, K, K)."""
        k = len(self.classes)
        zero = np.zeros((2, k, k), np.int64)
        if not keys:
            return np.zeros((0, 2, k, k), np.int64)
        return np.stack([self.counts.get(key, zero) for key in keys]).astype(np.int64)


def plan_classes(plan: Any) -> tuple[str, ...]:
    """The audit's classes in order, as text: the model's, else the spec's ``classes:``."""
    estimator = None if plan.model is None else plan.model.estimator
    found = getattr(estimator, "classes_", None)
    if found is not None:
        return tuple(str(c) for c in np.asarray(found).tolist())
    if plan.classes:
        return tuple(str(c) for c in plan.classes)
    raise InputError(
        "task: multiclass with recorded predictions needs `classes:` (every class, in order)",
        hint="list the classes in the spec, e.g. classes: [free, own, rent]",
    )


def class_codes(values: pd.Series, classes: tuple[str, ...], what: str, column: str) -> np.ndarray:
    """Each value's position in ``classes`` (compared as text); an unknown value is exit 2."""
    index = {c: i for i, c in enumerate(classes)}
    text = values.astype(str).to_numpy()
    codes = np.fromiter((index.get(v, -1) for v in text), dtype=np.int64, count=len(text))
    bad = codes < 0
    if bad.any():
        unknown = sorted(set(text[bad].tolist()))
        raise InputError(
            f"{what} column {column!r} holds value(s) {', '.join(map(repr, unknown[:10]))} that "
            f"are not classes of the audit ({', '.join(map(repr, classes))})",
            hint="list every class in `classes:` (recorded predictions), or audit the model on "
            "data with the classes it was trained for",
        )
    return codes


def predicted_labels(plan: Any, frame: pd.DataFrame) -> np.ndarray:
    """The model's predicted class per row (or the recorded ``predictions``), as text."""
    req = plan.requirements
    if plan.model is None:
        return frame[req.predictions].astype(str).to_numpy()
    X = plan._inputs(frame)
    try:
        out = np.asarray(plan.model.estimator.predict(X))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"the model could not score the dataset: {exc}",
            hint="check that the dataset's columns and types match what the model was trained on",
        ) from None
    return out.astype(str)


def decide_multiclass(plan: Any, frame: pd.DataFrame) -> TaskOutcome:
    """One partition's decisions and confusion counts: a :class:`TaskOutcome`."""
    req = plan.requirements
    classes = plan_classes(plan)
    k = len(classes)
    predicted = predicted_labels(plan, frame)
    where = "the model's predictions" if plan.model is not None else "predictions"
    pred = class_codes(
        pd.Series(predicted), classes, where, req.predictions or "(the model's output)"
    )
    labelled = req.label is not None
    true = (
        class_codes(frame[req.label], classes, "label", req.label)
        if labelled
        else np.zeros(len(frame), np.int64)
    )
    used = [c for c in plan.used if c in frame.columns]
    missing = (
        frame[used].isna().any(axis=1).to_numpy().astype(np.int64)
        if used
        else np.zeros(len(frame), np.int64)
    )
    joint, keys = joint_codes(frame[list(req.sensitive)])
    cell = (missing * k + true) * k + pred
    size = 2 * k * k
    counts = np.bincount(joint.astype(np.int64) * size + cell, minlength=len(keys) * size)
    by_key = counts.reshape(len(keys), 2, k, k).astype(np.int64)
    part = Confusion(classes, {key: by_key[i] for i, key in enumerate(keys)}, labelled)
    none = np.zeros(len(frame), dtype=bool)
    return TaskOutcome(
        y_true=none if labelled else None,
        y_pred=none,
        current=predicted,
        decisions=predicted,
        part=part,
    )


def check_multiclass(plan: Any, stats: Stats) -> None:
    """The dataset-wide checks: the dataset has rows."""
    if stats.rows == 0:
        raise InputError(f"dataset {plan.source}: it has no rows", hint="audit a non-empty dataset")


def one_vs_rest(stats: Stats, confusion: np.ndarray, c: int, labelled: bool) -> Stats:
    """The binary statistics of "predicted class c" against "is class c" (``confusion``: the
    merged counts aligned with ``stats.keys``), with the joint cells ``4 * missing + 2 * y_true
    + y_pred`` and no score counters."""
    n = confusion.sum(axis=(2, 3))  # (keys, 2)
    predicted = confusion[:, :, :, c].sum(axis=2)
    cells = np.zeros((len(stats.keys), 8), np.int64)
    if labelled:
        tp = confusion[:, :, c, c]
        actual = confusion[:, :, c, :].sum(axis=2)
        fp, fn = predicted - tp, actual - tp
        tn = n - tp - fp - fn
    else:
        tp = fn = np.zeros_like(n)
        fp, tn = predicted, n - predicted
    for m in (0, 1):
        cells[:, 4 * m + 0] = tn[:, m]
        cells[:, 4 * m + 1] = fp[:, m]
        cells[:, 4 * m + 2] = fn[:, m]
        cells[:, 4 * m + 3] = tp[:, m]
    return replace(stats, cells=cells, scores=None, labelled=labelled, parts=None)


def class_seed(seed: int, label: str) -> int:
    """The bootstrap seed of one class: a function of the audit's seed and the class only."""
    rng = np.random.default_rng([seed, zlib.crc32(("class/" + label).encode("utf-8"))])
    return int(rng.integers(2**31))


def _mean(values: Sequence[float | None]) -> tuple[float | None, int]:
    """The mean of the defined values (summed in class order) and how many there are."""
    defined = [float(v) for v in values if v is not None and not np.isnan(v)]
    return (sum(defined) / len(defined) if defined else None), len(defined)


def finalize_multiclass(stats: Stats, spec: Any, options: Any) -> TaskSections:
    """The multiclass section and the overall performance from the merged statistics: a
    :class:`TaskSections`."""
    from audit.engine import finalize

    part: Confusion = (stats.parts or {})["multiclass"]
    names = list(spec.sensitive_features)
    confusion = part.aligned(stats.keys)
    labelled = part.labelled
    by_class: dict[str, dict[str, contract.FeatureFairness]] = {}
    performance_by_class: dict[str, contract.Performance] = {}
    seeds: dict[str, int] = {}
    for c, label in enumerate(part.classes):
        binary = one_vs_rest(stats, confusion, c, labelled)
        seeds[label] = class_seed(options.seed, label)
        chosen = replace(options, seed=seeds[label])
        by_class[label] = finalize.fairness(binary, names, chosen).to_report()
        performance_by_class[label] = finalize.performance(binary).to_report()
    macro, worst = _summaries(part.classes, by_class)
    section = contract.Multiclass(
        classes=list(part.classes),
        scheme="one-vs-rest",
        by_class=by_class,
        performance_by_class=performance_by_class,
        macro=macro,
        worst=worst,
        seeds=seeds,
    )
    performance = overall_performance(confusion.sum(axis=(0, 1)), stats.rows, labelled)
    return TaskSections(fairness={}, performance=performance, sections={"multiclass": section})


def _summaries(
    classes: tuple[str, ...], by_class: dict[str, dict[str, contract.FeatureFairness]]
) -> tuple[dict[str, MacroFeature], dict[str, dict[str, WorstClass]]]:
    features = list(by_class[classes[0]]) if classes else []
    macro: dict[str, MacroFeature] = {}
    worst: dict[str, dict[str, WorstClass]] = {}
    for f in features:
        summaries: dict[str, float | None] = {}
        defined: dict[str, int] = {}
        worst[f] = {}
        for name, direction in SUMMARIES.items():
            values = [by_class[c][f].summary(name) for c in classes]
            summaries[name], defined[name] = _mean(values)
            known = [(v, c) for v, c in zip(values, classes, strict=True) if v is not None]
            if known:
                pick = max if direction == "higher" else min
                value, label = pick(known, key=lambda vc: vc[0])  # first class on ties
                worst[f][name] = WorstClass.model_validate({"class": label, "value": value})
        groups: dict[str, dict[str, float | None]] = {}
        for g in by_class[classes[0]][f].groups:
            groups[g] = {
                r: _mean([by_class[c][f].groups[g].metric(r) for c in classes])[0] for r in RATES
            }
        macro[f] = MacroFeature(summaries=summaries, groups=groups, classes_defined=defined)
    return macro, worst


def overall_performance(matrix: np.ndarray, n: int, labelled: bool) -> contract.Performance:
    """Accuracy and macro precision / recall / F1 of the (true, predicted) matrix (K, K)."""
    empty: dict[str, Any] = dict(
        base_rate=None, selection_rate=None, roc_auc=None, tp=None, fp=None, fn=None, tn=None
    )
    if not labelled:
        return contract.Performance(
            n=n,
            accuracy=None,
            precision=None,
            recall=None,
            f1=None,
            status="not_assessable",
            reason=contract.NO_LABEL,
            average="macro",
            **empty,
        )
    tp = np.diag(matrix).astype(np.int64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    precision = [int(t) / int(p) if p else None for t, p in zip(tp, predicted, strict=True)]
    recall = [int(t) / int(a) if a else None for t, a in zip(tp, actual, strict=True)]
    f1 = [
        2 * int(t) / (int(p) + int(a)) if p + a else None
        for t, p, a in zip(tp, predicted, actual, strict=True)
    ]
    return contract.Performance(
        n=n,
        accuracy=int(tp.sum()) / n if n else None,
        precision=_mean(precision)[0],
        recall=_mean(recall)[0],
        f1=_mean(f1)[0],
        average="macro",
        **empty,
    )
