"""Documentation rules: the model's registry entry carries the metadata a policy requires."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..evidence import Evidence
from ..findings import Finding
from .interface import ID_PATTERN, PolicyContext, RuleModel
from .judging import finding, status


class DocumentationRule(RuleModel):
    """The model's registry entry carries the named metadata (owner, intended use, ...)."""

    id: str = Field(pattern=ID_PATTERN)
    kind: Literal["documentation"]
    require: list[Literal["owner", "intended_use", "training_data", "limitations"]] = Field(
        min_length=1
    )
    severity: Literal["error", "warning"] = "error"
    description: str | None = None

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        kw: dict[str, Any] = {
            "metric": "model_metadata",
            "threshold": float(len(self.require)),
            "operator": ">=",
        }
        if not evidence.model_registered:
            return finding(
                self,
                status(self, False),
                0.0,
                "the model is not registered, so it has no documented "
                + ", ".join(self.require)
                + " (register it with `audit registry add-model` and its metadata options)",
                **kw,
            )
        meta = evidence.model_metadata or {}
        missing = [f for f in self.require if not meta.get(f)]
        present = float(len(self.require) - len(missing))
        if missing:
            msg = f"the model's registry entry lacks: {', '.join(missing)}"
        else:
            msg = f"the model's registry entry documents {', '.join(self.require)}"
        return finding(self, status(self, not missing), present, msg, **kw)
