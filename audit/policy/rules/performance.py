"""Performance rules: overall, a floor for every group, or the largest gap between groups."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..evidence import Evidence
from ..findings import Breach, Finding
from ..metrics import PER_GROUP_PERFORMANCE, PERFORMANCE_METRICS
from .interface import Comparison, PolicyContext
from .judging import (
    OPS,
    finding,
    fmt,
    per_group,
    scalar,
    select_features,
    select_groups,
    skip,
    status,
    verdict,
)


class PerformanceRule(Comparison):
    """Performance: overall (``scope: overall``), a floor for every group (``per_group``), or the
    largest gap between groups (``gap``, max - min over the groups of ``feature`` or of all)."""

    metrics = PERFORMANCE_METRICS

    kind: Literal["performance"]
    scope: Literal["overall", "per_group", "gap"] = "overall"
    feature: str | None = None
    min_group_size: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _scope(self) -> PerformanceRule:
        if self.scope != "overall" and self.metric not in PER_GROUP_PERFORMANCE:
            raise ValueError(
                f"{self.metric} is not computed per group; per-group metrics: "
                f"{', '.join(PER_GROUP_PERFORMANCE)}"
            )
        if self.scope == "overall" and self.feature is not None:
            raise ValueError("`feature` applies to scope per_group or gap")
        return self

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        if self.scope == "overall":
            return scalar(
                self,
                evidence.performance.metric(self.metric),
                f"overall {self.metric}",
                f"{self.metric} is undefined for this audit",
            )
        features = select_features(self, policy, evidence.fairness)
        min_n = self.min_group_size or policy.min_group_size
        metric = PER_GROUP_PERFORMANCE[self.metric]
        judged, not_judged = select_groups(self, policy, features, min_n)
        meets = OPS[self.operator]
        if self.scope == "per_group":
            return per_group(
                self, metric, judged, not_judged, min_n, lambda _k, v: not meets(v, self.threshold)
            )
        gaps: dict[str, tuple[float, str, str]] = {}
        for fname in features:
            raw = {g: d.metric(metric) for (f, g), d in judged.items() if f == fname}
            vals: dict[str, float] = {g: v for g, v in raw.items() if v is not None}
            if len(vals) >= 2:
                hi, lo = max(vals, key=vals.__getitem__), min(vals, key=vals.__getitem__)
                gaps[fname] = (vals[hi] - vals[lo], hi, lo)
        if not gaps:
            return skip(self, f"fewer than two groups with {metric} and at least {min_n} rows")
        worst = max(gaps, key=lambda f: gaps[f][0])
        gap, hi, lo = gaps[worst]
        ok = meets(gap, self.threshold)
        msg = f"largest {self.metric} gap is {fmt(gap)} in {worst} ({hi} vs {lo}); {verdict(self, ok)}"
        breaches = [
            Breach(feature=f, group=None, value=g[0])
            for f, g in gaps.items()
            if not meets(g[0], self.threshold)
        ]
        return finding(self, status(self, ok), gap, msg, feature=worst, breaches=breaches)
