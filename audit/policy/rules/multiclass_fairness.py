"""Multiclass fairness rules: a fairness rule judged on each class's one-vs-rest fairness.

A ``multiclass_fairness`` rule takes every field of a ``fairness`` rule (metric, feature, group,
operator, threshold, mode ...) and adds:

- ``classes``: the classes judged (default: every class of the audit);
- ``summary``:

  - ``per_class`` (default): the fairness rule is judged on each class's section
    (``multiclass.by_class[c]``) exactly as on a binary audit's; the finding is the worst
    class's, its breaches and tests name their feature ``"<class>:<feature>"``;
  - ``macro``: the mean over the classes (``multiclass.macro``): of a between-group summary,
    or of a group's rate (``tpr``, ``ppv`` ...), judged on the point estimate;
  - ``worst``: the worst class's between-group summary (``multiclass.worst``), point estimate.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import Field, model_validator

from ...errors import InputError
from ..evidence import Evidence
from ..findings import Breach, Finding
from ..metrics import BETWEEN_METRICS
from .fairness import FairnessRule
from .interface import PolicyContext
from .judging import OPS, finding, fmt, select_features, skip, status, verdict, worst_key

#: The per-group rates ``summary: macro`` can judge (means over classes the report holds).
MACRO_RATES = ("tpr", "fpr", "fnr", "ppv", "accuracy", "impact_ratio")
_LABEL_RATES = ("tpr", "fpr", "fnr", "ppv", "accuracy")
_RANK = {"fail": 4, "warn": 3, "waived": 2, "pass": 1, "skipped": 0}


class MulticlassFairnessRule(FairnessRule):
    """A fairness rule per class of a multiclass audit (see the module docstring)."""

    kind: Literal["multiclass_fairness"]  # type: ignore[assignment]
    classes: list[str] | None = Field(
        None, min_length=1, description="the classes judged (default: every class)"
    )
    summary: Literal["per_class", "macro", "worst"] = Field(
        "per_class",
        description="per_class: each class's fairness; macro: the mean over classes; "
        "worst: the worst class's between-group summary",
    )

    @model_validator(mode="after")
    def _summary(self) -> MulticlassFairnessRule:
        if self.summary != "per_class" and self.mode != "point":
            raise ValueError(f"summary {self.summary!r} is judged on the point estimate only")
        if self.summary == "worst" and self.metric not in BETWEEN_METRICS:
            raise ValueError(
                "summary 'worst' takes a between-group metric "
                f"({', '.join(BETWEEN_METRICS)}); use per_class for {self.metric}"
            )
        if self.summary == "macro" and self.metric not in (*BETWEEN_METRICS, *MACRO_RATES):
            raise ValueError(
                f"summary 'macro' takes a between-group metric or one of {', '.join(MACRO_RATES)}"
            )
        if self.summary != "per_class" and self.classes is not None:
            raise ValueError(f"`classes` applies to summary per_class, not {self.summary}")
        return self

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        mc = evidence.multiclass
        if mc is None:
            return skip(self, "the audit is not multiclass (task: multiclass)", mode=self.mode)
        if self.summary == "macro":
            return self._macro(policy, evidence)
        if self.summary == "worst":
            return self._worst(policy, evidence)
        chosen = self.classes or list(mc.classes)
        unknown = [c for c in chosen if c not in mc.by_class]
        if unknown:
            raise InputError(
                f"{policy.where(self.id)}: rule {self.id!r} names class(es) "
                f"{', '.join(map(repr, unknown))}, which the audit does not have "
                f"(classes: {', '.join(mc.classes)})",
                hint="name classes of the model (or of the spec's `classes:`)",
            )
        found = {
            c: FairnessRule.judge(self, policy, replace(evidence, fairness=mc.by_class[c]))
            for c in chosen
        }
        return _combine(self, found)

    def _macro(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        assert evidence.multiclass is not None
        if self.metric in _LABEL_RATES and not evidence.has_label:
            return skip(self, "the audit has no label", mode=self.mode)
        features = select_features(self, policy, evidence.multiclass.macro)
        values: dict[tuple[str, str | None], float] = {}
        for f, macro in features.items():
            if self.metric in BETWEEN_METRICS:
                v = macro.summaries.get(self.metric)
                if v is not None:
                    values[(f, None)] = v
                continue
            for g, rates in macro.groups.items():
                v = rates.get(self.metric)
                if v is not None and (self.group is None or g == self.group):
                    values[(f, g)] = v
        return self._point(values, f"macro {self.metric}", {})

    def _worst(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        assert evidence.multiclass is not None
        features = select_features(self, policy, evidence.multiclass.worst)
        values: dict[tuple[str, str | None], float] = {}
        where: dict[tuple[str, str | None], str] = {}
        for f, worst in features.items():
            if self.metric in worst:
                values[(f, None)] = worst[self.metric].value
                where[(f, None)] = worst[self.metric].class_
        return self._point(values, f"worst-class {self.metric}", where)

    def _point(
        self,
        values: dict[tuple[str, str | None], float],
        what: str,
        classes: dict[tuple[str, str | None], str],
    ) -> Finding:
        if not values:
            return skip(self, f"{what} is undefined", mode=self.mode)

        def name(key: tuple[str, str | None]) -> str:
            return f"{classes[key]}:{key[0]}" if key in classes else key[0]

        breaches = [
            Breach(feature=name(k), group=k[1], value=v)
            for k, v in values.items()
            if not OPS[self.operator](v, self.threshold)
        ]
        worst = worst_key(values, self.operator)
        ok = not breaches
        at = name(worst) + (f"={worst[1]}" if worst[1] is not None else "")
        msg = f"{what} for {at} is {fmt(values[worst])}; {verdict(self, ok)}"
        return finding(
            self,
            status(self, ok),
            values[worst],
            msg,
            feature=name(worst),
            group=worst[1],
            breaches=breaches,
            mode=self.mode,
        )


def _combine(rule: MulticlassFairnessRule, found: dict[str, Finding]) -> Finding:
    """The worst class's finding, with every class's breaches and tests (feature ``c:f``)."""
    judged = {c: f for c, f in found.items() if f.status != "skipped"}
    if not judged:
        first = next(iter(found.values()))
        return first.model_copy(update={"message": f"every class: {first.message}"})
    top = max(_RANK[f.status] for f in judged.values())
    tied = {c: f for c, f in judged.items() if _RANK[f.status] == top}
    valued = {c: float(f.value) for c, f in tied.items() if f.value is not None}
    worst = worst_key(valued, rule.operator) if valued else next(iter(tied))
    chosen = found[worst]

    def named(c: str, feature: str | None) -> str:
        return f"{c}:{feature}" if feature is not None else c

    breaches = [
        b.model_copy(update={"feature": named(c, b.feature)})
        for c, f in found.items()
        for b in f.breaches
    ]
    tests = [
        t.model_copy(update={"feature": named(c, t.feature)})
        for c, f in found.items()
        for t in f.tests
    ]
    update = {
        "feature": named(worst, chosen.feature),
        "message": f"class {worst}: {chosen.message}",
        "breaches": breaches,
    }
    if tests:
        update["tests"] = tests
    return chosen.model_copy(update=update)
