"""What rules are judged on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import contract


@dataclass(frozen=True)
class Evidence:
    """What rules are judged on: the typed sections of the report, and the model's metadata.

    ``baseline`` is the earlier report regression rules compare against. ``has_label`` is
    False for an audit of decisions or scores alone (no ground truth): every rule that needs the
    label is then skipped as "not assessable: the audit has no label" (:mod:`.rules.labels`).
    """

    fairness: Mapping[str, contract.FeatureFairness]
    performance: contract.Performance
    explanations: contract.Explanations
    data: contract.DataProfile | None = None
    model_metadata: Mapping[str, str] | None = None
    model_registered: bool = False
    baseline: contract.Report | None = None
    drift: contract.Drift | None = None
    has_label: bool = True
    #: binary, multiclass or regression; the sections beyond the binary ones, when they apply
    task: str = "binary"
    regression: contract.Regression | None = None
    multiclass: contract.Multiclass | None = None
    counterfactual: contract.Counterfactual | None = None
    shift: contract.Shift | None = None
    #: the system's earlier published versions, oldest first (audit.policy.trend.Published)
    history: tuple[Any, ...] = ()
