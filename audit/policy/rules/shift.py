"""Shift rules: a metric may not degrade by more than ``max_degradation`` under a shift scenario.

The spec's ``shift:`` scenarios reweight the audited rows to other group shares (the report's
shift section, :mod:`audit.fairness.shift`). A shift rule compares each scenario's value of
``metric`` with the audit's own value. The degradation is ``current - shifted`` for a metric
where higher is better (accuracy, recall, demographic parity ratio ...) and ``shifted -
current`` where lower is better (demographic parity difference, equalized odds ...), as
:data:`audit.policy.metrics.HIGHER_IS_BETTER` / ``LOWER_IS_BETTER`` say; an improvement is a
negative degradation. Between-group metrics are judged for each feature the scenario changes
(``feature`` picks one).

- ``point``: a breach when the degradation exceeds ``max_degradation``;
- ``bound``: judged on the paired bootstrap interval of the change: a breach when the whole
  interval of the degradation is above ``max_degradation``, no breach when it is all at or
  below it, otherwise inconclusive (counted as the policy's ``on_inconclusive`` says). A value
  without an interval (roc_auc, or ``n_bootstrap: 0``) is inconclusive in this mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from ...contract import NO_LABEL
from ...contract.metrics import LABEL_METRICS
from ...contract.shift import ShiftScenarioResult, ShiftValue
from ...errors import InputError
from ..evidence import Evidence
from ..findings import Breach, Finding
from ..metrics import BETWEEN_METRICS, HIGHER_IS_BETTER, LOWER_IS_BETTER
from .inference import status_of
from .interface import ID_PATTERN, PolicyContext, RuleModel, check_metric
from .judging import finding, fmt, skip, some

#: Overall metrics a shift rule may judge (those with a direction).
SHIFT_PERFORMANCE = ("accuracy", "precision", "recall", "f1", "roc_auc")
#: Every metric a shift rule may name.
SHIFT_METRICS = SHIFT_PERFORMANCE + BETWEEN_METRICS


@dataclass(frozen=True)
class _Compared:
    scenario: str
    feature: str | None
    value: ShiftValue
    degradation: float
    interval: tuple[float, float] | None
    verdict: Literal["breach", "no_breach", "inconclusive"]

    @property
    def where(self) -> str:
        return self.scenario if self.feature is None else f"{self.scenario}:{self.feature}"


class ShiftRule(RuleModel):
    """``metric`` may degrade by at most ``max_degradation`` under the shift ``scenario`` (every
    scenario of the spec when unset); see the module docstring for the direction and modes."""

    id: str = Field(pattern=ID_PATTERN, description="unique rule id")
    kind: Literal["shift"]
    metric: str
    scenario: str | None = Field(None, description="a shift scenario's id (default: all of them)")
    feature: str | None = Field(
        None, description="between-group metrics: the feature judged (default: every one)"
    )
    max_degradation: float = Field(ge=0, description="allowed worsening of the metric")
    mode: Literal["point", "bound"] = "point"
    on_inconclusive: Literal["fail", "warn", "pass"] | None = Field(
        None, description="override what an inconclusive finding counts as for this rule"
    )
    severity: Literal["error", "warning"] = Field(
        "error", description="error blocks; warning informs"
    )
    description: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ShiftRule:
        check_metric(self.metric, SHIFT_METRICS, "shift")
        if self.feature is not None and self.metric not in BETWEEN_METRICS:
            raise ValueError(
                f"`feature` applies to between-group metrics ({', '.join(BETWEEN_METRICS)})"
            )
        return self

    @property
    def higher_is_better(self) -> bool:
        assert self.metric in HIGHER_IS_BETTER | LOWER_IS_BETTER
        return self.metric in HIGHER_IS_BETTER

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        kw = {"threshold": self.max_degradation, "operator": "<=", "mode": self.mode}
        if not evidence.has_label and self.metric in LABEL_METRICS:
            return skip(self, NO_LABEL, **kw)
        shift = evidence.shift
        if shift is None or not shift.scenarios:
            return skip(self, "the audit has no shift scenarios (spec `shift:`)", **kw)
        scenarios = list(shift.scenarios)
        if self.scenario is not None:
            picked = shift.scenario(self.scenario)
            if picked is None:
                raise InputError(
                    f"{policy.where(self.id)}: rule {self.id!r} names shift scenario "
                    f"{self.scenario!r}, which the audit does not have (scenarios: "
                    f"{', '.join(s.id for s in scenarios)})",
                    hint="use the id of one of the spec's `shift:` scenarios",
                )
            scenarios = [picked]
        compared: list[_Compared] = []
        not_judged: list[str] = []
        for s in scenarios:
            for feature, value in self._values(policy, s, not_judged):
                if value.change is None:
                    where = s.id if feature is None else f"{s.id}:{feature}"
                    not_judged.append(f"{where} (undefined)")
                    continue
                compared.append(self._compare(s.id, feature, value))
        valued = compared
        if not valued:
            reason = f"{self.metric} is undefined under the shift scenarios"
            if not_judged:
                reason += f" (not judged: {', '.join(not_judged)})"
            return skip(self, reason, **kw)
        breaches = [c for c in valued if c.verdict == "breach"]
        inconclusive = [c for c in compared if c.verdict == "inconclusive"]
        on_inconclusive = self.on_inconclusive or policy.on_inconclusive
        verdicts = [c.verdict for c in compared]
        state = status_of(verdicts, self.severity, on_inconclusive)
        pool = breaches or valued
        worst = max(pool, key=lambda c: c.degradation)
        how = "point estimates" if self.mode == "point" else "the paired confidence interval"
        parts = [
            f"{self.metric} degrades by at most {fmt(self.max_degradation)} under a shift "
            f"(judged on {how})",
            f"worst: {worst.where}, {fmt(worst.value.current or 0.0)} -> "
            f"{fmt(worst.value.shifted or 0.0)} (degradation {fmt(worst.degradation)})",
        ]
        if breaches:
            parts.append(
                f"breach in {len(breaches)} of {len(compared)}: "
                + some([f"{c.where} ({fmt(c.degradation)})" for c in breaches])
            )
        if inconclusive:
            parts.append(
                f"inconclusive in {len(inconclusive)}: " + some([c.where for c in inconclusive])
            )
        if not breaches and not inconclusive:
            parts.append(f"no breach in all {len(compared)}")
        if not_judged:
            parts.append(f"not judged: {', '.join(not_judged)}")
        verdict = "breach" if breaches else "inconclusive" if inconclusive else "no_breach"
        prefix = "inconclusive: " if verdict == "inconclusive" else ""
        return finding(
            self,
            state,
            worst.degradation,
            prefix + "; ".join(parts),
            feature=worst.where,
            group=None,
            ci=None if worst.interval is None else list(worst.interval),
            breaches=[Breach(feature=c.where, group=None, value=c.degradation) for c in breaches],
            verdict=verdict if self.mode == "bound" else None,
            on_inconclusive=on_inconclusive if self.mode == "bound" else None,
            **kw,
        )

    def _values(
        self, policy: PolicyContext, s: ShiftScenarioResult, not_judged: list[str]
    ) -> list[tuple[str | None, ShiftValue]]:
        """The (feature, value) pairs the rule judges in scenario ``s``."""
        if self.metric not in BETWEEN_METRICS:
            value = s.performance.get(self.metric)
            if value is None:
                not_judged.append(f"{s.id} ({self.metric} not computed)")
                return []
            return [(None, value)]
        if self.feature is None:
            return [(f, fd.summaries[self.metric]) for f, fd in s.fairness.items()]
        if self.feature in s.fairness:
            return [(self.feature, s.fairness[self.feature].summaries[self.metric])]
        if self.feature in s.unchanged:
            not_judged.append(f"{s.id}:{self.feature} (shifting {s.feature} does not change it)")
            return []
        raise InputError(
            f"{policy.where(self.id)}: rule {self.id!r} names feature {self.feature!r}, which "
            f"shift scenario {s.id!r} does not measure (features: "
            f"{', '.join([*s.fairness, *s.unchanged])})",
            hint="use one of the spec's sensitive_features, or their intersection joined by '&'",
        )

    def _compare(self, scenario: str, feature: str | None, value: ShiftValue) -> _Compared:
        sign = 1.0 if self.higher_is_better else -1.0
        assert value.change is not None
        degradation = -sign * value.change
        interval = None
        if value.ci_change is not None:
            low, high = sorted(-sign * v for v in value.ci_change)
            interval = (low, high)
        verdict: Literal["breach", "no_breach", "inconclusive"]
        if self.mode == "point":
            verdict = "breach" if degradation > self.max_degradation else "no_breach"
        elif interval is None:
            verdict = "inconclusive"
        elif interval[0] > self.max_degradation:
            verdict = "breach"
        elif interval[1] <= self.max_degradation:
            verdict = "no_breach"
        else:
            verdict = "inconclusive"
        return _Compared(scenario, feature, value, degradation, interval, verdict)
