"""What every rule kind is: a strict pydantic model that validates its part of a policy file and
judges the audit's evidence with :meth:`RuleModel.judge`."""

from __future__ import annotations

import difflib
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..evidence import Evidence
from ..findings import Finding

Operator = Literal[">=", ">", "<=", "<"]
#: What a rule id (or a policy name) may look like.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def check_metric(value: str, allowed: tuple[str, ...], kind: str) -> str:
    """Refuse an unknown metric, suggesting the nearest valid one."""
    if value not in allowed:
        close = difflib.get_close_matches(value, allowed, n=1)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        raise ValueError(
            f"unknown {kind} metric {value!r}; {suggestion}valid: {', '.join(allowed)}"
        )
    return value


class Strict(BaseModel):
    """A frozen model that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyContext(Protocol):
    """What a rule reads of the policy it belongs to."""

    @property
    def min_group_size(self) -> int: ...

    @property
    def rules(self) -> Sequence[Any]:
        """Every rule of the policy (a trend rule judges the rule it follows)."""
        ...

    @property
    def correction(self) -> str:
        """How a rule's p-values are adjusted: ``holm``, ``bh`` or ``none``."""
        ...

    @property
    def on_inconclusive(self) -> str:
        """What an inconclusive finding counts as: ``fail``, ``warn`` or ``pass``."""
        ...

    def where(self, rule_id: str) -> str:
        """The file and line that defined the rule (for error messages)."""
        ...


class RuleModel(Strict):
    """A rule kind. Each kind declares its fields itself (``id``, ``kind: Literal[...]``,
    ``severity``, ...): their order is the order of the published JSON Schema."""

    @abstractmethod
    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        """Judge ``evidence``: one finding, ``skipped`` with the reason when it cannot be judged."""


class Comparison(RuleModel):
    """A rule that compares one of its kind's ``metrics`` with a threshold."""

    #: The metrics a rule of this kind may name (each kind sets its own).
    metrics: ClassVar[tuple[str, ...]] = ()

    id: str = Field(pattern=ID_PATTERN, description="unique rule id")
    metric: str
    operator: Operator
    threshold: float
    severity: Literal["error", "warning"] = Field(
        "error", description="error blocks; warning informs"
    )
    description: str | None = None

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        (kind,) = get_args(cls.model_fields["kind"].annotation)
        return check_metric(v, cls.metrics, kind)
