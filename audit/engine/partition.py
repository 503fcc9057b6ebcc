"""One partition's work: validate it, decide, and summarise it into :class:`Stats`.

A :class:`Plan` holds everything a partition needs (the model, the columns, the requirements)
and is what a Dask worker receives once; :meth:`Plan.summarise` is the same code on every
backend. The model is called once per partition: ``predict_proba`` when it has one, with the
decisions derived from the probabilities for the estimators whose ``predict`` is by definition
the most probable class; other models are also asked to ``predict``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from audit.data import DatasetRequirements, is_positive, validate
from audit.data.validate import check_whole
from audit.engine.decisions import Decisions
from audit.engine.sample import Sample
from audit.engine.stats import Stats, summarise_arrays
from audit.errors import InputError

#: Estimators whose predict() is classes_[argmax(predict_proba())] (so one call gives both).
_ARGMAX_PREDICT = {
    "DecisionTreeClassifier",
    "ExtraTreeClassifier",
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "GradientBoostingClassifier",
    "HistGradientBoostingClassifier",
    "LogisticRegression",
    "XGBClassifier",
    "LGBMClassifier",
    "KNeighborsClassifier",
    "GaussianNB",
    "ProbabilityEndpoint",  # audit.loaders.endpoint_loader: its predict is defined so
}


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def model_decisions(
    estimator: Any, X: pd.DataFrame, positive_label: object
) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's decisions (True = the positive class) and its positive-class scores."""
    classes = getattr(estimator, "classes_", None)
    pos = None
    if classes is not None:
        pos = is_positive(pd.Series(classes), positive_label)
        if not pos.any():
            raise InputError(
                f"positive_label {positive_label!r} is not one of the model's classes "
                f"({', '.join(map(repr, map(str, classes)))})",
                hint="set positive_label to the model's class for the favourable outcome",
            )
    try:
        scores = None
        if classes is not None and pos is not None and hasattr(estimator, "predict_proba"):
            proba = np.asarray(estimator.predict_proba(X))
            scores = proba[:, int(np.flatnonzero(pos)[0])].astype(np.float64)
            if type(_final_step(estimator)).__name__ in _ARGMAX_PREDICT:
                return pos[np.argmax(proba, axis=1)], scores
        y_pred = is_positive(pd.Series(estimator.predict(X)), positive_label)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"the model could not score the dataset: {exc}",
            hint="check that the dataset's columns and types match what the model was trained on",
        ) from None
    return y_pred, scores


@dataclass
class Timings:
    """Seconds per step, summed over partitions (mergeable like the statistics)."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, t0: float) -> float:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - t0
        return now

    def merge(self, other: Timings) -> Timings:
        out = dict(self.seconds)
        for k, v in other.seconds.items():
            out[k] = out.get(k, 0.0) + v
        return Timings(out)


@dataclass(frozen=True)
class Plan:
    """What every partition needs; built once by the runner, shipped once to Dask workers."""

    requirements: DatasetRequirements
    source: str
    model: Any = None  # a LoadedModel, or None for recorded decisions
    features: tuple[str, ...] | None = None
    used: tuple[str, ...] = ()
    score_threshold: float | str = "median"
    median: float | None = None  # the recorded scores' median, from a first pass
    explain_columns: tuple[str, ...] | None = None  # None: no explanation sample
    population: int | None = None
    seed: int = 0
    forced_ids: frozenset[str] | None = None
    drift: Any = None  # audit.drift.stream.DriftPlan
    sample_below: int | None = None  # see sample.key_bound
    keep_decisions: bool = False  # for the reasons pass (explain.rows: adverse)
    task: str = "binary"  # binary, multiclass or regression (audit.engine.tasks)
    header: tuple[str, ...] | None = None  # every column of the file (named when one is missing)
    classes: tuple[Any, ...] | None = None  # multiclass: every class, in order
    #: statistics gathered beside the task's (e.g. counterfactual flips): each has a ``name``
    #: and ``summarise(plan, frame, first_row, decisions)`` returning a mergeable value
    extensions: tuple[Any, ...] = ()

    @property
    def needs_median(self) -> bool:
        req = self.requirements
        return (
            self.model is None
            and req.scores is not None
            and not req.predictions
            and self.score_threshold == "median"
            and self.median is None
        )

    def with_median(self, value: float) -> Plan:
        return replace(self, median=value)

    def summarise(self, frame: pd.DataFrame, first_row: int, *, validated: bool = False) -> Stats:
        """Validate one partition (rows ``first_row``.. of the dataset) and summarise it."""
        clock = Timings()
        t0 = time.perf_counter()
        req = self.requirements
        if not validated:
            validate(
                frame,
                req,
                self.model,
                source=self.source,
                first_row=first_row,
                partial=True,
                header=self.header,
            )
        t0 = clock.add("validate", t0)
        parts: dict[str, Any] = {}
        if self.task == "binary":
            y_true = (
                None if req.label is None else is_positive(frame[req.label], req.positive_label)
            )
            y_pred, scores, current = self._decide(frame)
            decisions: Any = y_pred
        else:
            from audit.engine.tasks import decide

            outcome = decide(self, frame)
            y_true, y_pred, scores, current = outcome.y_true, outcome.y_pred, None, outcome.current
            decisions, parts[self.task] = outcome.decisions, outcome.part
        t0 = clock.add("predict", t0)
        if self.extensions:
            for extension in self.extensions:
                parts[extension.name] = extension.summarise(self, frame, first_row, decisions)
            t0 = clock.add("extensions", t0)
        used = [c for c in self.used if c in frame.columns]
        missing = frame[used].isna().any(axis=1).to_numpy() if used else None
        stats = summarise_arrays(
            frame[list(req.sensitive)],
            y_pred,
            y_true=y_true,
            scores=scores,
            missing=missing,
            label_values=_distinct(frame, req.label),
            decision_values=_distinct(frame, req.predictions),
        )
        t0 = clock.add("statistics", t0)
        sample = None
        if self.explain_columns is not None:
            forced = None
            if self.forced_ids is not None:
                ids = (
                    frame[req.id_column].astype(str)
                    if req.id_column
                    else pd.Series(np.arange(first_row, first_row + len(frame)).astype(str))
                )
                forced = ids.isin(self.forced_ids).to_numpy()
            sample = Sample.draw(
                frame[list(self.explain_columns)],
                first_row,
                seed=self.seed,
                limit=self.population,
                forced=forced,
                below=self.sample_below,
            )
        t0 = clock.add("sample", t0)
        drift = None
        if self.drift is not None:
            drift = self.drift.summarise(frame, current)
        clock.add("drift", t0)
        kept = Decisions.of(first_row, y_pred) if self.keep_decisions else None
        return replace(
            stats, sample=sample, drift=drift, timings=clock, decisions=kept, parts=parts or None
        )

    def _decide(
        self, frame: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Decisions, scores, and the values prediction drift compares (scores, else decisions)."""
        req = self.requirements
        if self.model is not None:
            X = self._inputs(frame)
            y_pred, scores = model_decisions(self.model.estimator, X, req.positive_label)
            current = scores if scores is not None else y_pred.astype(str)
            return y_pred, scores, current
        scores = None
        if req.scores:
            scores = pd.to_numeric(frame[req.scores], errors="coerce").to_numpy(float)
        if req.predictions:
            y_pred = is_positive(frame[req.predictions], req.positive_label)
        else:
            assert scores is not None
            if self.score_threshold == "median":
                if self.median is None:
                    raise RuntimeError(
                        "the median of the scores is needed first (Plan.with_median)"
                    )
                y_pred = scores > self.median
            else:
                y_pred = scores >= float(self.score_threshold)
        return y_pred, scores, None

    def _inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input columns of a partition."""
        req = self.requirements
        if self.features:
            return frame[list(self.features)]
        return frame.drop(columns=[c for c in (req.label, req.id_column) if c])

    def reasons(
        self,
        frame: pd.DataFrame,
        first_row: int,
        explainer: Any,
        decisions: Decisions | None = None,
    ) -> Any:
        """The reasons of one partition's adverse decisions (an
        :class:`audit.explain.adverse.ReasonsPart`), explained by ``explainer`` (an
        :class:`~audit.explain.adverse.AdverseExplainer`); the decisions are the first pass's
        (``decisions``) or, without them, the model's again."""
        req = self.requirements
        assert self.model is not None, "reasons need a model"
        X = self._inputs(frame)
        if decisions is not None:
            favourable = decisions.favourable(first_row, len(frame))
        else:
            favourable, _ = model_decisions(self.model.estimator, X, req.positive_label)
        ids = frame[req.id_column].to_numpy() if req.id_column else None
        return explainer.explain(X, favourable, first_row, ids)

    def check(self, stats: Stats) -> None:
        """The dataset-wide checks a partition cannot make (see validate.check_whole)."""
        if self.task != "binary":
            from audit.engine.tasks import check

            check(self, stats)
            return
        cells = stats.cells
        check_whole(
            self.source,
            self.requirements,
            rows=stats.rows,
            positives=int(cells[:, [2, 3, 6, 7]].sum()) if stats.labelled else None,
            label_values=sorted(stats.label_values),
            selected=int(cells[:, 1::2].sum()),
            decision_values=sorted(stats.decision_values),
        )


def _distinct(frame: pd.DataFrame, column: str | None) -> list[str]:
    if column is None or column not in frame.columns:
        return []
    return sorted(map(str, frame[column].dropna().unique()))[:3]
