"""What rules are judged on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Evidence:
    """What rules are judged on: the JSON-ready sections of the report, and the model's metadata."""

    fairness: Mapping[str, Any]
    performance: Mapping[str, Any]
    explanations: Mapping[str, Any]
    data: Mapping[str, Any] = field(default_factory=dict)
    model_metadata: Mapping[str, str] | None = None
    model_registered: bool = False
    baseline: Mapping[str, Any] | None = None
    drift: Mapping[str, Any] | None = None
