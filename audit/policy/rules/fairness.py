"""Fairness rules: a fairness metric per group, or a between-group summary, against a threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, model_validator

from ...contract import FeatureFairness
from ..evidence import Evidence
from ..findings import Breach, Finding
from ..metrics import BETWEEN_METRICS, FAIRNESS_METRICS
from .interface import Comparison, PolicyContext
from .judging import (
    OPS,
    finding,
    fmt,
    per_group,
    select_features,
    select_groups,
    skip,
    status,
    verdict,
    worst_key,
)

_MODE_WORDS = {
    "point": "judged on the point estimate",
    "bound": "judged on the confidence bound (a breach counts only if the whole interval breaches)",
    "significance": "judged on significance (a breach counts only if the difference from the "
    "reference group is statistically significant)",
}
#: The between-group summaries' intervals: (disparity of which rate, which interval).
_BETWEEN_CI = {
    "demographic_parity_difference": ("selection_rate", "ci_difference"),
    "demographic_parity_ratio": ("selection_rate", "ci_ratio"),
    "equal_opportunity_difference": ("tpr", "ci_difference"),
    "equalized_odds_difference": ("equalized_odds_difference", "ci"),
}
#: The rate whose significance test decides a ratio in mode ``significance``.
_TESTED_AS = {"impact_ratio": "selection_rate", "scoring_impact_ratio": "scoring_rate"}


class FairnessRule(Comparison):
    """Compare a fairness metric per group (or a between-group summary) with a threshold.

    ``feature`` limits the rule to one sensitive feature or intersection (``sex&race``); without
    it every feature and intersection is judged. ``group`` limits a per-group metric to one group.
    ``mode`` says how a breach is judged: ``point`` on the estimate; ``bound`` only when the whole
    confidence interval is on the failing side; ``significance`` only when the estimate breaches
    and the difference from the reference group is statistically significant (p < ``alpha``).
    """

    metrics = FAIRNESS_METRICS

    kind: Literal["fairness"]
    feature: str | None = None
    group: str | None = None
    min_group_size: int | None = Field(None, ge=1)
    mode: Literal["point", "bound", "significance"] = "point"
    alpha: float = Field(0.05, gt=0, lt=1)

    @model_validator(mode="after")
    def _mode(self) -> FairnessRule:
        if self.mode == "significance" and self.metric in BETWEEN_METRICS:
            raise ValueError(
                "mode 'significance' tests each group against the reference group; "
                f"use a per-group metric, or mode 'bound' for {self.metric}"
            )
        if self.group is not None and self.metric in BETWEEN_METRICS:
            raise ValueError(f"`group` does not apply to the between-group metric {self.metric}")
        return self

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        features = select_features(self, policy, evidence.fairness)
        if self.metric in BETWEEN_METRICS:
            return self._between(features)
        return self._per_group(policy, features)

    def _bound_breaches(self, ci: list[float]) -> bool:
        """True when even the end of the interval most favourable to the model breaches."""
        low, high = ci
        if self.operator in (">=", ">"):
            return not OPS[self.operator](high, self.threshold)
        return not OPS[self.operator](low, self.threshold)

    def _between(self, features: Mapping[str, FeatureFairness]) -> Finding:
        mode = self.mode
        values = {f: d.summary(self.metric) for f, d in features.items()}
        judged = {f: v for f, v in values.items() if v is not None}
        if not judged:
            return skip(self, f"{self.metric} is undefined", mode=mode)

        def breached(f: str, v: float) -> bool:
            if OPS[self.operator](v, self.threshold):
                return False
            if mode == "bound":
                ci = _between_ci(features[f], self.metric)
                return ci is not None and self._bound_breaches(ci)
            return True

        if mode == "bound" and not any(_between_ci(features[f], self.metric) for f in judged):
            return skip(self, f"no confidence interval for {self.metric}", mode=mode)
        breaches = [
            Breach(feature=f, group=None, value=v) for f, v in judged.items() if breached(f, v)
        ]
        worst_f = worst_key(judged, self.operator)
        value = judged[worst_f]
        ok = not breaches
        msg = f"{self.metric} for {worst_f} is {fmt(value)}; {verdict(self, ok)}"
        if mode != "point":
            msg += f" ({_MODE_WORDS[mode]})"
        return finding(
            self,
            status(self, ok),
            value,
            msg,
            feature=worst_f,
            breaches=breaches,
            mode=mode,
            ci=_between_ci(features[worst_f], self.metric),
        )

    def _per_group(self, policy: PolicyContext, features: Mapping[str, FeatureFairness]) -> Finding:
        mode, metric = self.mode, self.metric
        min_n = self.min_group_size or policy.min_group_size
        judged, not_judged = select_groups(self, policy, features, min_n)

        def breached(key: tuple[str, str], v: float) -> bool:
            if OPS[self.operator](v, self.threshold):
                return False
            g = judged[key]
            if mode == "bound":
                ci = g.ci.get(metric)
                return ci is not None and self._bound_breaches(ci)
            if mode == "significance":
                test = g.tests.get(_TESTED_AS.get(metric, metric))
                return test is not None and test.p_value is not None and test.p_value < self.alpha
            return True

        if mode != "point":
            needed = "ci" if mode == "bound" else "tests"
            if not any(getattr(g, needed) for g in judged.values()):
                return skip(
                    self,
                    f"the audit has no {'intervals' if mode == 'bound' else 'tests'} for {metric}",
                    mode=mode,
                )
        note = (
            ""
            if mode == "point"
            else f" ({_MODE_WORDS[mode]}"
            + (f", alpha {self.alpha}" if mode == "significance" else "")
            + ")"
        )
        judgement = per_group(self, metric, judged, not_judged, min_n, breached, note)
        return judgement.model_copy(update={"mode": mode})


def _between_ci(fdata: FeatureFairness, metric: str) -> list[float] | None:
    rate, interval = _BETWEEN_CI[metric]
    disparity = fdata.disparities.get(rate)
    return None if disparity is None else getattr(disparity, interval)
