"""Trend rules: a rule's value may not worsen version after version (post-market monitoring).

A ``trend`` rule follows another rule of the policy (``rule:``) across the system's published
versions and this audit. It fails when the followed rule's value got worse in each of the last
``versions - 1`` steps (worse: down for a threshold of the form ``>=``/``>``, up for ``<=``/``<``),
each step by more than ``min_change``, even while every version still passes the rule itself.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..evidence import Evidence
from ..findings import Finding
from ..trend import HISTORY, worse_when_lower, worsening_steps
from .interface import ID_PATTERN, PolicyContext, RuleModel
from .judging import finding, fmt, skip, status


class TrendRule(RuleModel):
    """The followed rule's value may not worsen over ``versions`` consecutive versions."""

    id: str = Field(pattern=ID_PATTERN)
    kind: Literal["trend"]
    rule: str = Field(description="id of the policy rule whose value is followed")
    versions: int = Field(
        3, ge=2, le=HISTORY + 1, description="versions (this audit included) the trend spans"
    )
    min_change: float = Field(
        0.0, ge=0, description="a step counts as worse only when it changes the value by more"
    )
    severity: Literal["error", "warning"] = "error"
    description: str | None = None

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        steps_needed = self.versions - 1
        kw = {"threshold": steps_needed, "operator": "<", "metric": "worsening_steps"}
        followed = next((r for r in policy.rules if r.id == self.rule), None)
        if followed is None or not hasattr(followed, "judge") or followed.kind == "trend":
            return skip(self, f"the policy has no rule {self.rule!r} to follow", **kw)
        now = followed.judge(policy, evidence)
        earlier = [p.report.rule(self.rule) for p in evidence.history]
        values = [f.value for f in earlier if f is not None] + [now.value]
        values = values[-self.versions :]
        if len(values) < self.versions or any(v is None for v in values):
            return skip(
                self,
                f"{self.rule} has a value in {sum(v is not None for v in values)} of the last "
                f"{self.versions} versions (this audit included); a trend needs all of them",
                **kw,
            )
        floats = [float(v) for v in values if v is not None]
        sign = 1.0 if worse_when_lower(now.operator) else -1.0
        large = [sign * (a - b) > self.min_change for a, b in zip(floats, floats[1:], strict=False)]
        steps = worsening_steps(floats, now.operator) if all(large) else 0
        ok = steps < steps_needed
        path = " → ".join(fmt(v) for v in floats)
        word = "fell" if sign > 0 else "rose"
        msg = (
            f"{self.rule} ({now.metric}) {word} in each of the last {steps_needed} versions: {path}"
            if not ok
            else f"{self.rule} ({now.metric}) over the last {self.versions} versions: {path}; "
            f"no sustained worsening"
        )
        return finding(self, status(self, ok), steps, msg, **kw)
