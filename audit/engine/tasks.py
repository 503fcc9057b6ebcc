"""The tasks beyond binary classification: where a partition's decisions and a whole audit's
sections come from for ``task: multiclass`` and ``task: regression``.

A binary audit counts joint cells of (sensitive groups × confusion cell × missing). The other
tasks keep those cells only for the row and missing counts (``y_pred``/``y_true`` all False,
so the data profile and the checks on rows still work) and gather their own mergeable
statistics as ``Stats.parts[task]``. Each task lives in its own modules:

- ``regression``: :mod:`audit.engine.continuous` (``decide_regression``, ``check_regression``,
  ``finalize_regression``);
- ``multiclass``: :mod:`audit.engine.multiclass` (``decide_multiclass``, ``check_multiclass``,
  ``finalize_multiclass``).

Sections beside any task (counterfactual flips, shift scenarios) are extensions: see
:func:`extensions` and :func:`extension_sections`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audit.engine.task_types import TaskOutcome, TaskSections

__all__ = [
    "TaskOutcome",
    "TaskSections",
    "decide",
    "check",
    "finalize",
    "predictions",
    "extensions",
    "extension_sections",
]


def decide(plan: Any, frame: Any) -> TaskOutcome:
    """The decisions of one partition (``plan`` is an :class:`audit.engine.partition.Plan`)."""
    if plan.task == "regression":
        from audit.engine.continuous import decide_regression

        return decide_regression(plan, frame)
    if plan.task == "multiclass":
        from audit.engine.multiclass import decide_multiclass

        return decide_multiclass(plan, frame)
    raise ValueError(f"unknown task {plan.task!r}")


def check(plan: Any, stats: Any) -> None:
    """The dataset-wide checks a partition cannot make, for a non-binary task."""
    if plan.task == "regression":
        from audit.engine.continuous import check_regression

        check_regression(plan, stats)
    elif plan.task == "multiclass":
        from audit.engine.multiclass import check_multiclass

        check_multiclass(plan, stats)


def finalize(task: str, stats: Any, spec: Any, options: Any) -> TaskSections:
    """The report sections of a non-binary task from the merged statistics (``options``: an
    :class:`audit.engine.finalize.FairnessOptions`)."""
    if task == "regression":
        from audit.engine.continuous import finalize_regression

        return finalize_regression(stats, spec, options)
    if task == "multiclass":
        from audit.engine.multiclass import finalize_multiclass

        return finalize_multiclass(stats, spec, options)
    raise ValueError(f"unknown task {task!r}")


def predictions(task: str, estimator: Any, X: Any) -> np.ndarray:
    """A non-binary model's predictions as prediction drift compares them (reference data)."""
    out = np.asarray(estimator.predict(X))
    return out.astype(np.float64) if task == "regression" else out.astype(str)


def extensions(spec: Any, model: Any, present: list[str], **context: Any) -> tuple[Any, ...]:
    """The per-partition extensions the spec asks for (``Plan.extensions``); ``context``
    (``base``: the spec's folder, ``frame``/``source``: the data) is what a build may read."""
    out: list[Any] = []
    if spec.shift:  # what the spec alone can refuse, refused before the data pass
        from audit.engine.finalize_shift import check_spec

        check_spec(spec)
    if spec.counterfactual is not None:
        from audit.engine.counterfactual import CounterfactualPlan

        out.append(CounterfactualPlan.build(spec, model, present, **context))
    return tuple(out)


def extension_sections(spec: Any, stats: Any, options: Any) -> dict[str, Any]:
    """Report fields computed from the merged statistics beside the task's (by name)."""
    out: dict[str, Any] = {}
    parts = stats.parts or {}
    if spec.counterfactual is not None:
        from audit.engine.counterfactual import finalize_counterfactual

        out["counterfactual"] = finalize_counterfactual(parts["counterfactual"], spec, options)
    if spec.shift:
        from audit.engine.finalize_shift import finalize_shift

        out["shift"] = finalize_shift(stats, spec, options)
    return out
