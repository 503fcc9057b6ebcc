"""Fairness rules: a fairness metric per group, or a between-group summary, against a threshold.

Modes (``mode:``):

- ``point`` judges the estimate: a group breaches when its value does.
- ``bound`` judges the confidence interval: a breach when the whole interval is on the failing
  side, no breach when the whole interval is on the passing side, otherwise inconclusive.
- ``significance`` tests the threshold itself, one-sided (H0: the group complies, e.g.
  ``impact_ratio >= 0.8``), with the p-values of all the rule's comparisons adjusted together
  (``correction``: Holm by default): a breach when the adjusted p-value is under ``alpha``; no
  breach when the reverse test rules a breach out; otherwise inconclusive.

In ``bound`` and ``significance`` a group too small to judge is inconclusive, and the finding of a
rule with an inconclusive comparison (and no breach) counts as the policy's ``on_inconclusive``
says (``warn`` by default). Tests, adjustment and verdicts: :mod:`.inference`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Literal

from pydantic import Field, model_validator

from ...contract import FeatureFairness, RuleTest
from ...contract.metrics import needs_label
from ..evidence import Evidence
from ..findings import Breach, Finding
from ..metrics import BETWEEN_METRICS, FAIRNESS_METRICS
from . import inference
from .inference import Comparison as Tested
from .interface import Comparison, PolicyContext
from .judging import (
    OPS,
    WORDS,
    finding,
    fmt,
    per_group,
    select_features,
    select_groups,
    skip,
    some,
    status,
    verdict,
    worst_key,
)

_MODE_WORDS = {
    "point": "judged on the point estimate",
    "bound": "judged on the confidence interval",
    "significance": "judged on a one-sided test of the threshold",
}
#: The between-group summaries' intervals: (disparity of which rate, which interval).
_BETWEEN_CI = {
    "demographic_parity_difference": ("selection_rate", "ci_difference"),
    "demographic_parity_ratio": ("selection_rate", "ci_ratio"),
    "equal_opportunity_difference": ("tpr", "ci_difference"),
    "equalized_odds_difference": ("equalized_odds_difference", "ci"),
}


class FairnessRule(Comparison):
    """Compare a fairness metric per group (or a between-group summary) with a threshold.

    ``feature`` limits the rule to one sensitive feature or intersection (``sex&race``); without
    it every feature and intersection is judged. ``group`` limits a per-group metric to one group.
    ``mode`` says how a breach is judged (``point``, ``bound``, ``significance``: see the module
    docstring); ``correction`` and ``on_inconclusive`` override the policy's for this rule.
    """

    metrics = FAIRNESS_METRICS

    kind: Literal["fairness"]
    feature: str | None = None
    group: str | None = None
    min_group_size: int | None = Field(None, ge=1)
    mode: Literal["point", "bound", "significance"] = "point"
    alpha: float = Field(0.05, gt=0, lt=1)
    correction: Literal["holm", "bh", "none"] | None = Field(
        None, description="override the policy's multiple-comparison correction for this rule"
    )
    on_inconclusive: Literal["fail", "warn", "pass"] | None = Field(
        None, description="override what an inconclusive finding counts as for this rule"
    )

    @model_validator(mode="after")
    def _mode(self) -> FairnessRule:
        if self.mode == "significance" and self.metric in BETWEEN_METRICS:
            raise ValueError(
                "mode 'significance' tests each group against the threshold; "
                f"use a per-group metric, or mode 'bound' for {self.metric}"
            )
        if self.mode == "significance" and self.metric not in inference.TESTABLE:
            raise ValueError(
                f"mode 'significance' needs a rate or ratio of counts; {self.metric} has no "
                "such test: use mode 'bound' (its bootstrap interval)"
            )
        if self.group is not None and self.metric in BETWEEN_METRICS:
            raise ValueError(f"`group` does not apply to the between-group metric {self.metric}")
        return self

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        features = select_features(self, policy, evidence.fairness)
        if needs_label(self.metric) and any(f.labelled is False for f in features.values()):
            return skip(self, "the audit has no label", mode=self.mode)
        if self.metric in BETWEEN_METRICS:
            if self.mode == "point":
                return self._between(features)
            return self._between_bound(policy, features)
        if self.mode == "point":
            return self._per_group(policy, features)
        return self._inferred(policy, features)

    # -- point mode (the estimate decides) -------------------------------------------------

    def _between(self, features: Mapping[str, FeatureFairness]) -> Finding:
        values = {f: d.summary(self.metric) for f, d in features.items()}
        judged = {f: v for f, v in values.items() if v is not None}
        if not judged:
            return skip(self, f"{self.metric} is undefined", mode=self.mode)
        breaches = [
            Breach(feature=f, group=None, value=v)
            for f, v in judged.items()
            if not OPS[self.operator](v, self.threshold)
        ]
        worst_f = worst_key(judged, self.operator)
        value = judged[worst_f]
        ok = not breaches
        msg = f"{self.metric} for {worst_f} is {fmt(value)}; {verdict(self, ok)}"
        return finding(
            self,
            status(self, ok),
            value,
            msg,
            feature=worst_f,
            breaches=breaches,
            mode=self.mode,
            ci=_between_ci(features[worst_f], self.metric),
        )

    def _per_group(self, policy: PolicyContext, features: Mapping[str, FeatureFairness]) -> Finding:
        min_n = self.min_group_size or policy.min_group_size
        judged, not_judged = select_groups(self, policy, features, min_n)

        def breached(key: tuple[str, str], v: float) -> bool:
            return not OPS[self.operator](v, self.threshold)

        judgement = per_group(self, self.metric, judged, not_judged, min_n, breached)
        return judgement.model_copy(update={"mode": "point"})

    # -- bound and significance (the evidence decides; inconclusive is a verdict) -------------

    def _settings(self, policy: PolicyContext) -> tuple[str, str]:
        correction = self.correction or policy.correction
        on_inconclusive = self.on_inconclusive or policy.on_inconclusive
        return correction, on_inconclusive

    def _inferred(self, policy: PolicyContext, features: Mapping[str, FeatureFairness]) -> Finding:
        metric, mode = self.metric, self.mode
        correction: str | None
        correction, on_inconclusive = self._settings(policy)
        min_n = self.min_group_size or policy.min_group_size
        hyp = inference.hypothesis(metric, self.operator, self.threshold)
        judged, _ = select_groups(self, policy, features, 1)
        excluded = [
            f"{f}={g} ({fd.groups[g].excluded})"
            for f, fd in features.items()
            for g in fd.groups
            if fd.groups[g].excluded and (self.group is None or g == self.group)
        ]
        large = [k for k, g in judged.items() if g.n >= min_n and g.status == "ok"]
        m = max(len(large), 1)
        side_alpha = self.alpha if mode == "significance" else _bound_alpha(features)
        mde_alpha = side_alpha / (m if correction != "none" and mode == "significance" else 1)
        found: list[Tested] = []
        for f, gname in judged:
            g = features[f].groups[gname]
            if (f, gname) in large:
                found.append(
                    inference.test_group(
                        features[f],
                        f,
                        gname,
                        metric,
                        self.operator,
                        self.threshold,
                        mde_alpha=mde_alpha,
                    )
                )
            else:
                found.append(inference.too_small(f, gname, g, metric, min_n, hyp))
        if not found:
            return skip(self, f"no group of {', '.join(features)} can be judged", mode=mode)
        if mode == "significance":
            found = inference.adjust(found, correction)
        else:  # the interval decides; its raw p-values are shown for information only
            correction = None
        found = [
            inference.decide(c, mode, self.operator, self.threshold, self.alpha) for c in found
        ]
        return self._conclude(
            found, mode, correction, on_inconclusive, excluded, len(large), _level(features)
        )

    def _between_bound(
        self, policy: PolicyContext, features: Mapping[str, FeatureFairness]
    ) -> Finding:
        _, on_inconclusive = self._settings(policy)
        hyp = inference.hypothesis(self.metric, self.operator, self.threshold)
        found = [
            inference.decide(
                Tested(
                    feature=f,
                    group=None,
                    n=fd.n,
                    value=fd.summary(self.metric),
                    ci=_between_ci(fd, self.metric),
                    ci_method=_between_method(fd, self.metric),
                    hypothesis=hyp,
                ),
                "bound",
                self.operator,
                self.threshold,
                self.alpha,
            )
            for f, fd in features.items()
        ]
        if all(c.value is None for c in found):
            return skip(self, f"{self.metric} is undefined", mode=self.mode)
        return self._conclude(
            found, "bound", None, on_inconclusive, [], len(found), _level(features)
        )

    def _conclude(
        self,
        found: list[Tested],
        mode: str,
        correction: str | None,
        on_inconclusive: str,
        excluded: list[str],
        tested: int,
        level: str = "95%",
    ) -> Finding:
        by = {v: [c for c in found if c.verdict == v] for v in ("breach", "inconclusive")}
        verdicts = [c.verdict for c in found]
        state = inference.status_of(verdicts, self.severity, on_inconclusive)
        valued = {i: c.value for i, c in enumerate(found) if c.value is not None}
        pool = [i for i in valued if found[i].verdict == "breach"] or list(valued)
        worst = found[worst_key({i: valued[i] for i in pool}, self.operator)] if pool else None
        what = f"{self.metric} {WORDS[self.operator]} {fmt(self.threshold)}"
        if mode == "significance":
            how = (
                f"tested {inference.hypothesis(self.metric, self.operator, self.threshold)} "
                f"one-sided per group, {inference.correction_words(correction or 'none', tested)}"
                f", alpha {self.alpha:g}"
            )
        else:
            how = f"judged on the {level} confidence interval"
        parts = [f"{what} ({how})"]
        if by["breach"]:
            parts.append(
                f"breach in {len(by['breach'])} of {len(found)}: "
                + some([_describe(c, mode) for c in by["breach"]])
            )
        if by["inconclusive"]:
            parts.append(
                f"inconclusive in {len(by['inconclusive'])}: "
                + some([_describe(c, mode) for c in by["inconclusive"]])
            )
        cleared = len(found) - len(by["breach"]) - len(by["inconclusive"])
        if cleared:
            parts.append(
                f"no breach in {cleared}"
                if by["breach"] or by["inconclusive"]
                else f"no breach in all {cleared}"
            )
        if excluded:
            parts.append(f"excluded from comparisons: {', '.join(excluded)}")
        verdict_all = (
            "breach" if by["breach"] else "inconclusive" if by["inconclusive"] else "no_breach"
        )
        prefix = "inconclusive: " if verdict_all == "inconclusive" else ""
        return finding(
            self,
            state,
            None if worst is None else worst.value,
            prefix + "; ".join(parts),
            feature=None if worst is None else worst.feature,
            group=None if worst is None else worst.group,
            ci=None if worst is None else worst.ci,
            breaches=[
                Breach(feature=c.feature, group=c.group, value=c.value)
                for c in by["breach"]
                if c.value is not None
            ],
            mode=mode,
            verdict=verdict_all,
            on_inconclusive=on_inconclusive,
            correction=correction,
            alpha=self.alpha if mode == "significance" else None,
            tests=[_rule_test(c) for c in found],
        )


def _describe(c: Tested, mode: str) -> str:
    where = c.feature if c.group is None else f"{c.feature}={c.group}"
    bits = [fmt(c.value) if c.value is not None else "undefined"]
    if mode == "significance" and c.p_adjusted is not None and c.verdict != "inconclusive":
        bits.append(f"adjusted p {inference.fmt_p(c.p_adjusted)}")
    elif c.ci is not None:
        bits.append(f"CI {fmt(c.ci[0])}-{fmt(c.ci[1])}")
    if c.verdict == "inconclusive":
        if c.reason:
            bits.append(c.reason)
        if c.mde is not None:
            bits.append(f"a breach is detectable (power 0.8) only at {fmt(c.mde)}")
    return f"{where} ({', '.join(bits)})"


def _rule_test(c: Tested) -> RuleTest:
    """The comparison as the report records it (the reverse test's p-value is not recorded)."""
    return RuleTest(**{k: v for k, v in asdict(c).items() if k != "p_reverse"})


def _level(features: Mapping[str, FeatureFairness]) -> str:
    levels = [f.confidence for f in features.values() if f.confidence is not None]
    return f"{float(levels[0]):.0%}" if levels else "95%"


def _bound_alpha(features: Mapping[str, FeatureFairness]) -> float:
    """The one-sided level of the reported intervals (0.025 for 95% intervals)."""
    levels = [f.confidence for f in features.values() if f.confidence is not None]
    return (1 - float(levels[0])) / 2 if levels else 0.025


def _between_ci(fdata: FeatureFairness, metric: str) -> list[float] | None:
    rate, interval = _BETWEEN_CI[metric]
    disparity = fdata.disparities.get(rate)
    return None if disparity is None else getattr(disparity, interval)


def _between_method(fdata: FeatureFairness, metric: str) -> str | None:
    rate, _ = _BETWEEN_CI[metric]
    disparity = fdata.disparities.get(rate)
    return None if disparity is None else disparity.method
