"""What a non-binary task's modules return to the engine and the runner (a leaf module:
:mod:`audit.engine.tasks` dispatches to the task modules, which import these from here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audit import contract


@dataclass(frozen=True)
class TaskOutcome:
    """One partition's decisions under a non-binary task."""

    #: booleans for the joint cells: all False (None when the audit has no label)
    y_true: np.ndarray | None
    #: booleans for the joint cells: all False
    y_pred: np.ndarray
    #: what prediction drift compares (numbers, or class labels as text); None: nothing
    current: np.ndarray | None
    #: the model's (or recorded) output per row: class labels or numbers (extensions use them)
    decisions: np.ndarray
    #: the task's statistics of the partition (a value with an exact, associative ``merge``)
    part: Any


@dataclass(frozen=True)
class TaskSections:
    """What a non-binary task contributes to the report."""

    #: the binary fairness section (empty for a task that has its own)
    fairness: dict[str, contract.FeatureFairness]
    performance: contract.Performance
    #: Report fields by name (``regression``, ``multiclass``)
    sections: dict[str, Any] = field(default_factory=dict)
