"""Regression rules: no metric may worsen beyond a tolerance against a baseline report."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ...contract import Report
from ..evidence import Evidence
from ..findings import BaselineComparison, Breach, Finding
from ..metrics import (
    BETWEEN_METRICS,
    FAIRNESS_METRICS,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    PERFORMANCE_METRICS,
)
from .interface import ID_PATTERN, PolicyContext, RuleModel, check_metric
from .judging import finding, fmt, select_features, skip, status

#: A compared place: (feature, group), both None for an overall metric.
_Key = tuple[str | None, str | None]


class RegressionRule(RuleModel):
    """No metric may worsen beyond ``tolerance`` against a baseline report (``--baseline``), even
    when it still meets its threshold. Fairness metrics are compared group by group."""

    id: str = Field(pattern=ID_PATTERN)
    kind: Literal["regression"]
    metric: str
    section: Literal["fairness", "performance"] = "fairness"
    feature: str | None = None
    tolerance: float = Field(0.0, ge=0, description="allowed worsening")
    direction: Literal["higher_is_better", "lower_is_better"] | None = None
    severity: Literal["error", "warning"] = "error"
    description: str | None = None

    @model_validator(mode="after")
    def _check(self) -> RegressionRule:
        allowed = PERFORMANCE_METRICS if self.section == "performance" else FAIRNESS_METRICS
        check_metric(self.metric, allowed, self.section)
        if self.direction is None and self.metric not in HIGHER_IS_BETTER | LOWER_IS_BETTER:
            raise ValueError(
                f"say which way is better for {self.metric}: direction: higher_is_better or lower_is_better"
            )
        if self.section == "performance" and self.feature is not None:
            raise ValueError("`feature` applies to fairness regressions")
        return self

    @property
    def higher_is_better(self) -> bool:
        if self.direction is not None:
            return self.direction == "higher_is_better"
        return self.metric in HIGHER_IS_BETTER

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        kw: dict[str, Any] = {"threshold": self.tolerance, "operator": "<="}
        base = evidence.baseline
        if base is None:
            return skip(self, "no baseline report was given (audit run --baseline)", **kw)
        label = f"v{base.version} ({base.report_id[:8]})"
        pairs = self._pairs(policy, evidence, base)
        if not pairs:
            return skip(self, f"{self.metric} is not comparable with baseline {label}", **kw)
        sign = 1.0 if self.higher_is_better else -1.0
        worsening = {k: sign * (old - new) for k, (old, new) in pairs.items()}
        worst = max(worsening, key=worsening.__getitem__)
        breaches = [
            Breach(feature=f, group=g, value=worsening[(f, g)])
            for (f, g) in worsening
            if worsening[(f, g)] > self.tolerance
        ]
        ok = not breaches
        old, new = pairs[worst]
        where = "overall" if worst == (None, None) else "=".join(p for p in worst if p)
        msg = (
            f"{self.metric} of {where} went from {fmt(old)} in baseline {label} to {fmt(new)}: "
            + (
                f"worse by {fmt(worsening[worst])}, beyond the tolerance {fmt(self.tolerance)}"
                if not ok
                else f"no change worse than the tolerance {fmt(self.tolerance)} "
                f"({len(pairs)} comparison{'s' if len(pairs) != 1 else ''})"
            )
        )
        return finding(
            self,
            status(self, ok),
            worsening[worst],
            msg,
            feature=worst[0],
            group=worst[1],
            breaches=breaches,
            comparison=BaselineComparison(
                baseline_report=base.report_id,
                baseline_version=base.version,
                baseline=old,
                current=new,
                change=new - old,
            ),
            **kw,
        )

    def _pairs(
        self, policy: PolicyContext, evidence: Evidence, base: Report
    ) -> dict[_Key, tuple[float, float]]:
        """(baseline, current) for every place both reports measured the metric."""
        pairs: dict[_Key, tuple[float, float]] = {}
        if self.section == "performance":
            old = base.performance.metric(self.metric)
            new = evidence.performance.metric(self.metric)
            if old is not None and new is not None:
                pairs[(None, None)] = (old, new)
            return pairs
        current = select_features(self, policy, evidence.fairness)
        baseline = base.fairness
        min_n = policy.min_group_size
        for fname, fdata in current.items():
            bdata = baseline.get(fname)
            if bdata is None:
                continue
            if self.metric in BETWEEN_METRICS:
                old, new = bdata.summary(self.metric), fdata.summary(self.metric)
                if old is not None and new is not None:
                    pairs[(fname, None)] = (old, new)
                continue
            for gname, g in fdata.groups.items():
                bg = bdata.groups.get(gname)
                if bg is None or g.n < min_n or bg.n < min_n:
                    continue
                old, new = bg.metric(self.metric), g.metric(self.metric)
                if old is not None and new is not None:
                    pairs[(fname, gname)] = (old, new)
        return pairs
