"""What judging produces: one :class:`Finding` per rule, with the breaches that decided it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "warn", "skipped", "waived"]


@dataclass(frozen=True)
class Breach:
    feature: str | None
    group: str | None
    value: float


@dataclass(frozen=True)
class Finding:
    """The judgement of one rule, with the evidence that decided it."""

    id: str
    kind: str
    metric: str
    severity: str
    status: Status
    value: float | None
    threshold: float
    operator: str
    feature: str | None
    group: str | None
    message: str
    ci: list[float] | None = None
    mode: str | None = None
    breaches: list[Breach] = field(default_factory=list)
    waiver: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None  # regression rules: baseline, current, change

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
