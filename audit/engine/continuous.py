"""``task: regression``: a partition's predictions, outcomes and errors counted exactly per joint
key, and the report's ``regression`` section from the merged counts.

Per joint key (one combination of every sensitive feature's value) a partition keeps three
:class:`~audit.fairness.continuous.ValueCounter`: of the predictions ŷ (the model's ``predict``,
or a numeric recorded ``predictions`` column), of the outcomes y (the numeric label) and of the
errors e = y - ŷ. Counters merge by adding the counts of equal values, keyed by joint key, so
every backend and every batch size gives the same counters and the same report bytes. The
binary joint cells are kept only for the row and missing-value counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from audit import contract
from audit.engine.finalize import FairnessOptions, _feature_labels
from audit.engine.stats import Key, Stats, _sort_key, joint_codes
from audit.engine.task_types import TaskOutcome, TaskSections
from audit.errors import InputError
from audit.fairness.continuous import (
    MAX_DISTINCT,
    RELATIVE_RESOLUTION,
    ValueCounter,
    counters_of,
    merge_counters,
)
from audit.fairness.continuous_groups import GroupCounters, Options, feature, overall

NOT_APPLICABLE = (
    "task: regression: MAE, RMSE and R² are in the regression section; the classification "
    "metrics do not apply"
)


@dataclass(frozen=True, eq=False)
class ContinuousPart:
    """The regression counters of some rows, by joint key (keys sorted as Stats sorts them)."""

    labelled: bool
    keys: tuple[Key, ...]
    predictions: tuple[ValueCounter, ...]
    outcomes: tuple[ValueCounter, ...] | None = None
    errors: tuple[ValueCounter, ...] | None = None

    @property
    def counters(self) -> list[ValueCounter]:
        return [*self.predictions, *(self.outcomes or ()), *(self.errors or ())]

    @property
    def rounded(self) -> bool:
        return any(c.rounded for c in self.counters)

    def merge(self, other: ContinuousPart) -> ContinuousPart:
        """The counters of both parts' rows (disjoint rows; exact, in any order)."""
        keys = tuple(sorted(set(self.keys) | set(other.keys), key=_sort_key))

        def merged(name: str) -> tuple[ValueCounter, ...] | None:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is None or theirs is None:
                return None
            a, b = (
                dict(zip(self.keys, mine, strict=True)),
                dict(zip(other.keys, theirs, strict=True)),
            )
            return tuple(merge_counters(c[k] for c in (a, b) if k in c) for k in keys)

        part = ContinuousPart(
            labelled=self.labelled and other.labelled,
            keys=keys,
            predictions=merged("predictions") or (),
            outcomes=merged("outcomes"),
            errors=merged("errors"),
        )
        return part.bounded()

    def bounded(self) -> ContinuousPart:
        """Round every counter once any is rounded or they hold more than MAX_DISTINCT values
        (rounding is a function of the value, so it commutes with merging)."""
        if not self.rounded and sum(c.size for c in self.counters) <= MAX_DISTINCT:
            return self

        def grid(counters: tuple[ValueCounter, ...] | None) -> tuple[ValueCounter, ...] | None:
            return None if counters is None else tuple(c.rounded_to_grid() for c in counters)

        return replace(
            self,
            predictions=grid(self.predictions) or (),
            outcomes=grid(self.outcomes),
            errors=grid(self.errors),
        )


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)


def predict(plan: Any, frame: pd.DataFrame) -> np.ndarray:
    """The model's (or the recorded) predictions of one partition, as finite float64."""
    req = plan.requirements
    if plan.model is None:
        return _numbers(frame[req.predictions])
    X = plan._inputs(frame)
    try:
        out = np.asarray(plan.model.estimator.predict(X), dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"the model could not predict on the dataset: {exc}",
            hint="check that the dataset's columns and types match what the model was trained on",
        ) from None
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 1 or len(out) != len(frame):
        raise InputError(
            f"the model returned predictions of shape {out.shape} for {len(frame)} rows; a "
            "regression audit needs one number per row",
            hint="audit a single-output regressor (task: regression)",
        )
    bad = ~np.isfinite(out)
    if bad.any():
        rows = ", ".join(str(r + 1) for r in np.flatnonzero(bad)[:5])
        raise InputError(
            f"the model predicted {int(bad.sum())} non-finite values (NaN or infinite) "
            f"(partition rows {rows})",
            hint="check the model's inputs for values it was not trained on",
        )
    return out


def decide_regression(plan: Any, frame: pd.DataFrame) -> TaskOutcome:
    """One partition's predictions and counters (``plan``: an audit.engine.partition.Plan), as
    a :class:`TaskOutcome`."""
    req = plan.requirements
    y_hat = predict(plan, frame)
    y = None if req.label is None else _numbers(frame[req.label])
    joint, keys = joint_codes(frame[list(req.sensitive)])
    order = sorted(range(len(keys)), key=lambda i: _sort_key(keys[i]))
    remap = np.empty(len(keys), np.int64)
    remap[order] = np.arange(len(keys))
    codes = remap[joint] if len(keys) else joint
    sorted_keys = tuple(keys[i] for i in order)

    def count(values: np.ndarray) -> tuple[ValueCounter, ...]:
        return tuple(counters_of(values, codes, len(sorted_keys)))

    part = ContinuousPart(
        labelled=y is not None,
        keys=sorted_keys,
        predictions=count(y_hat),
        outcomes=None if y is None else count(y),
        errors=None if y is None else count(y - y_hat),
    ).bounded()
    falses = np.zeros(len(frame), dtype=bool)
    return TaskOutcome(
        y_true=None if y is None else falses,
        y_pred=falses,
        current=y_hat,
        decisions=y_hat,
        part=part,
    )


def check_regression(plan: Any, stats: Stats) -> None:
    """Dataset-wide checks: every partition was validated; nothing more is needed."""
    if stats.rows == 0:
        raise InputError(f"dataset {plan.source} has no rows", hint="audit a dataset with rows")


def _groups(
    part: ContinuousPart, stats: Stats, names: list[str]
) -> list[tuple[str, tuple[str, ...], list[GroupCounters], int]]:
    """Each feature (then the intersection): its groups' counters and its unknown row count."""
    index = {k: i for i, k in enumerate(part.keys)}
    out = []
    for key, columns, labels in _feature_labels(stats, names):
        by_label: dict[str, list[int]] = {}
        unknown = 0
        for joint, label in zip(stats.keys, labels, strict=True):
            i = index.get(joint)
            if i is None:
                continue
            if label is None:
                unknown += part.predictions[i].n
            else:
                by_label.setdefault(label, []).append(i)
        groups = []
        for label in sorted(by_label):
            rows = by_label[label]
            groups.append(
                GroupCounters(
                    label,
                    merge_counters(part.predictions[i] for i in rows),
                    None
                    if part.outcomes is None
                    else merge_counters(part.outcomes[i] for i in rows),
                    None if part.errors is None else merge_counters(part.errors[i] for i in rows),
                )
            )
        out.append((key, columns, groups, unknown))
    return out


def _rule(reference: str | Mapping[str, str], key: str) -> tuple[str, str | None]:
    if isinstance(reference, Mapping):
        return ("named", reference[key]) if key in reference else ("most_favoured", None)
    return (reference if reference in ("largest", "most_favoured") else "most_favoured"), None


def regression_section(
    part: ContinuousPart, stats: Stats, names: list[str], favourable: str, options: FairnessOptions
) -> contract.Regression:
    """The report's regression section from the merged counters."""
    settings = Options(
        favourable=favourable,
        min_group_size=options.min_group_size,
        exclude_below_share=options.exclude_below_share,
        n_bootstrap=options.n_bootstrap,
        confidence=options.confidence,
        seed=options.seed,
    )
    every = [
        GroupCounters(
            "",
            part.predictions[i],
            None if part.outcomes is None else part.outcomes[i],
            None if part.errors is None else part.errors[i],
        )
        for i in range(len(part.keys))
    ]
    features = {}
    for key, columns, groups, unknown in _groups(part, stats, names):
        rule, named = _rule(options.reference, key)
        features[key] = feature(key, columns, groups, unknown, settings, rule=rule, named=named)
    return contract.Regression(
        favourable=favourable,
        loss="squared",
        labelled=part.labelled,
        confidence=options.confidence,
        n_bootstrap=options.n_bootstrap,
        seed=options.seed,
        resolution=RELATIVE_RESOLUTION if part.rounded else None,
        overall=overall(every, options.confidence),
        features=features,
    )


def finalize_regression(stats: Stats, spec: Any, options: FairnessOptions) -> TaskSections:
    """The regression audit's sections (a :class:`TaskSections`): ``fairness`` empty,
    performance not applicable."""
    part = (stats.parts or {}).get("regression")
    if part is None:
        raise InputError("the regression audit counted no rows", hint="audit a dataset with rows")
    section = regression_section(
        part, stats, list(spec.sensitive_features), spec.favourable, options
    )
    performance = contract.Performance(
        n=stats.rows,
        base_rate=None,
        selection_rate=None,
        accuracy=None,
        precision=None,
        recall=None,
        f1=None,
        roc_auc=None,
        tp=None,
        fp=None,
        fn=None,
        tn=None,
        status="not_applicable",
        reason=NOT_APPLICABLE,
    )
    return TaskSections(fairness={}, performance=performance, sections={"regression": section})
