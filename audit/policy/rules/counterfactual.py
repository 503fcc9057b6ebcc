"""Counterfactual rules: how often (and which way) decisions flip when a sensitive value, or the
names and pronouns of a text input, is swapped (the report's ``counterfactual`` section).

- ``metric: flip_rate``: the share of decisions the swap changes (``<= 0.01``: at most one in a
  hundred decisions depends on the swapped value);
- ``metric: net_change``: the change in the favourable rate the swap causes (binary audits;
  ``>= -0.01``: the swap never costs more than one point of favourable decisions).

``feature`` names the swapped feature or text column (default: every comparison); without
``group`` or ``scope: per_group`` the rule judges each comparison over all its rows; ``group``
(which implies ``per_group``) judges that group (of any sensitive feature: each row counts in
the group of its original value), ``scope: per_group`` every group with at least
``min_group_size`` rows. ``mode: point``
judges the estimate; ``mode: bound`` the confidence interval (Jeffreys for the flip rate,
Agresti-Min for the net change): a breach when the whole interval breaches, none when it all
complies, otherwise inconclusive; ``mode: significance`` (flip rate only) tests the threshold
itself, one-sided (the score test of the rate, H0: the comparison complies, e.g.
``flip_rate <= 0.01``), with the p-values of all the rule's comparisons adjusted together
(``correction``, the policy's by default): a breach when the adjusted p-value is under ``alpha``,
none when the reverse test rules a breach out, otherwise inconclusive. An inconclusive finding
counts as the policy's ``on_inconclusive`` says; a group too small to judge is inconclusive too.
The rule needs no label.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import Field, model_validator

from ...contract import RuleTest
from ...contract.counterfactual import Counterfactual, FlipCounts
from ...errors import InputError
from ...fairness import intervals
from ...fairness.flips import FLIP_RATE_METHOD, NET_CHANGE_METHOD
from ..evidence import Evidence
from ..findings import Breach, Finding
from . import inference
from .inference import Comparison as Tested
from .interface import Comparison, PolicyContext
from .judging import OPS, WORDS, finding, fmt, skip, some, status, worst_key

Item = tuple[str, str | None]  # (comparison, "feature=group" or None for all its rows)


class CounterfactualRule(Comparison):
    """Compare a counterfactual flip metric with a threshold (see the module docstring)."""

    metrics = ("flip_rate", "net_change")

    kind: Literal["counterfactual"]
    feature: str | None = Field(
        None, description="the swapped feature or text column (default: every one)"
    )
    group: str | None = Field(None, description="judge only this group (of a sensitive feature)")
    scope: Literal["overall", "per_group"] = "overall"
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
    def _significance(self) -> CounterfactualRule:
        if self.mode == "significance":
            if self.metric != "flip_rate":
                raise ValueError(
                    "mode 'significance' tests a rate against the threshold: use it with "
                    "flip_rate, or mode 'bound' for net_change"
                )
            if not 0 <= self.threshold <= 1:
                raise ValueError("a flip_rate threshold lies in [0, 1]")
        return self

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        section = evidence.counterfactual
        if section is None:
            return skip(
                self,
                "the audit made no counterfactual flip test (counterfactual: in the spec)",
                mode=self.mode,
            )
        items = self._items(policy, section)
        min_n = self.min_group_size or policy.min_group_size
        found = [self._compare(n, w, counts, min_n) for (n, w), counts in items.items()]
        if all(c.value is None for c in found):
            return skip(self, f"{self.metric} is undefined for this audit", mode=self.mode)
        if self.mode == "point":
            return self._point(found)
        correction = None
        if self.mode == "significance":
            correction = self.correction or policy.correction
            found = [
                c if c.reason is not None else self._test(c, counts)
                for c, counts in zip(found, items.values(), strict=True)
            ]
            found = inference.adjust(found, correction)
        found = [
            c
            if c.reason is not None
            else inference.decide(c, self.mode, self.operator, self.threshold, self.alpha)
            for c in found
        ]
        return self._bound(found, policy.on_inconclusive, section.confidence, correction)

    def _test(self, c: Tested, counts: FlipCounts) -> Tested:
        """The one-sided score test of the flip rate against the threshold, and its reverse."""
        side = inference.BREACH_SIDE[self.operator]
        reverse: inference.Side = "less" if side == "greater" else "greater"
        z, p = intervals.rate_test(counts.flips, counts.n, self.threshold, side)
        _, p_rev = intervals.rate_test(counts.flips, counts.n, self.threshold, reverse)
        return replace(
            c,
            method="one-sided score test of the flip rate against the threshold",
            statistic=_num(z),
            p_value=_num(p),
            p_reverse=_num(p_rev),
        )

    def _items(self, policy: PolicyContext, section: Counterfactual) -> dict[Item, FlipCounts]:
        comparisons = section.comparisons
        if self.feature is not None:
            if self.feature not in comparisons:
                raise InputError(
                    f"{policy.where(self.id)}: rule {self.id!r} names feature {self.feature!r}, "
                    f"which the audit did not flip (flipped: {', '.join(comparisons) or 'none'})",
                    hint="name a feature or text column of the spec's counterfactual section",
                )
            comparisons = {self.feature: comparisons[self.feature]}
        if self.scope == "overall" and self.group is None:
            return {(name, None): c.overall for name, c in comparisons.items()}
        out: dict[Item, FlipCounts] = {}
        for name, c in comparisons.items():
            for by, groups in c.groups.items():
                for g, counts in groups.items():
                    if self.group is None or g == self.group:
                        out[(name, f"{by}={g}")] = counts
        if self.group is not None and not out:
            raise InputError(
                f"{policy.where(self.id)}: rule {self.id!r} names group {self.group!r}, which "
                "occurs in no compared group",
                hint="check the group's spelling against the dataset's values",
            )
        return out

    def _compare(self, name: str, where: str | None, counts: FlipCounts, min_n: int) -> Tested:
        c = Tested(
            feature=name,
            group=where,
            n=counts.n,
            value=counts.metric(self.metric),
            ci=counts.interval(self.metric),
            ci_method=FLIP_RATE_METHOD if self.metric == "flip_rate" else NET_CHANGE_METHOD,
            hypothesis=inference.hypothesis(self.metric, self.operator, self.threshold),
        )
        if where is not None and counts.n < min_n:
            return replace(
                c,
                verdict="inconclusive",
                reason=f"n={counts.n} is under the minimum group size {min_n}",
            )
        return c

    def _point(self, found: list[Tested]) -> Finding:
        judged = [c for c in found if c.value is not None and c.reason is None]
        small = [c for c in found if c.reason is not None]
        if not judged:
            return skip(self, "every group is under the minimum group size", mode="point")
        meets = OPS[self.operator]
        breaches = [c for c in judged if not meets(_value(c), self.threshold)]
        pool = breaches or judged
        worst = pool[worst_key({i: _value(c) for i, c in enumerate(pool)}, self.operator)]
        what = f"{self.metric} {WORDS[self.operator]} {fmt(self.threshold)}"
        if breaches:
            msg = f"{len(breaches)} of {len(judged)} comparisons not {what}: " + some(
                [_describe(c) for c in breaches]
            )
        else:
            msg = f"all {len(judged)} comparisons have {what} (worst: {_describe(worst)})"
        if small:
            msg += "; not judged (too few rows): " + some([_where(c) for c in small])
        return finding(
            self,
            status(self, not breaches),
            worst.value,
            msg,
            feature=worst.feature,
            group=worst.group,
            ci=worst.ci,
            breaches=[Breach(feature=c.feature, group=c.group, value=c.value) for c in breaches],
            mode="point",
        )

    def _bound(
        self,
        found: list[Tested],
        policy_default: str,
        confidence: float,
        correction: str | None = None,
    ) -> Finding:
        on_inconclusive = self.on_inconclusive or policy_default
        verdicts = [c.verdict for c in found]
        state = inference.status_of(verdicts, self.severity, on_inconclusive)
        breaches = [c for c in found if c.verdict == "breach"]
        unsure = [c for c in found if c.verdict == "inconclusive"]
        valued = [c for c in (breaches or found) if c.value is not None]
        worst = valued[worst_key({i: _value(c) for i, c in enumerate(valued)}, self.operator)]
        what = f"{self.metric} {WORDS[self.operator]} {fmt(self.threshold)}"
        if self.mode == "significance":
            how = (
                f"tested {inference.hypothesis(self.metric, self.operator, self.threshold)} "
                f"one-sided, {inference.correction_words(correction or 'none', len(found))}, "
                f"alpha {self.alpha:g}"
            )
        else:
            how = f"judged on the {confidence:.0%} confidence interval"
        parts = [f"{what} ({how})"]
        if breaches:
            parts.append(
                f"breach in {len(breaches)} of {len(found)}: "
                + some([_describe(c) for c in breaches])
            )
        if unsure:
            parts.append(f"inconclusive in {len(unsure)}: " + some([_describe(c) for c in unsure]))
        cleared = len(found) - len(breaches) - len(unsure)
        if cleared:
            parts.append(
                f"no breach in {cleared}" if breaches or unsure else f"no breach in all {cleared}"
            )
        overall = "breach" if breaches else "inconclusive" if unsure else "no_breach"
        return finding(
            self,
            state,
            worst.value,
            ("inconclusive: " if overall == "inconclusive" else "") + "; ".join(parts),
            feature=worst.feature,
            group=worst.group,
            ci=worst.ci,
            breaches=[
                Breach(feature=c.feature, group=c.group, value=c.value)
                for c in breaches
                if c.value is not None
            ],
            mode=self.mode,
            verdict=overall,
            on_inconclusive=on_inconclusive,
            correction=correction,
            alpha=self.alpha if self.mode == "significance" else None,
            tests=[_rule_test(c) for c in found],
        )


def _num(v: object) -> float | None:
    f = float(v)  # type: ignore[arg-type]
    return f if f == f and abs(f) != float("inf") else None


def _rule_test(c: Tested) -> RuleTest:
    """The comparison as report.json records it: the swapped feature (or text column) over all
    its rows, or the group ``by=g`` (shown as by=g, the swap named in the hypothesis)."""
    feature, group = c.feature, None
    hypothesis = c.hypothesis
    if c.group is not None:
        feature, _, group = c.group.partition("=")
        hypothesis = f"{c.hypothesis} ({c.feature} swapped)"
    return RuleTest(
        feature=feature,
        group=group,
        n=c.n,
        value=c.value,
        ci=c.ci,
        ci_method=c.ci_method,
        hypothesis=hypothesis,
        method=c.method,
        statistic=c.statistic,
        p_value=c.p_value,
        p_adjusted=c.p_adjusted,
        verdict=c.verdict,
        reason=c.reason,
    )


def _value(c: Tested) -> float:
    assert c.value is not None
    return c.value


def _where(c: Tested) -> str:
    return str(c.feature) if c.group is None else f"{c.feature} ({c.group})"


def _describe(c: Tested) -> str:
    bits = ["undefined" if c.value is None else fmt(c.value), f"n={c.n}"]
    if c.ci is not None:
        bits.append(f"CI {fmt(c.ci[0])} to {fmt(c.ci[1])}")
    if c.reason is not None and c.verdict == "inconclusive":
        bits.append(c.reason)
    return f"{_where(c)} ({', '.join(bits)})"
