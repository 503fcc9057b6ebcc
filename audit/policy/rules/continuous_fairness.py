"""Continuous-fairness rules: a regression audit's metric against a threshold.

The metric (:mod:`audit.contract.continuous_metrics`) decides what is judged:

- a per-group metric (``mean_prediction_ratio``, ``mae``, ``ks_statistic`` ...) is judged in every
  compared group of ``feature`` (or of every feature and intersection), optionally one ``group``;
  a comparison with the reference group is not judged in the reference group itself;
- a per-feature summary (``bounded_group_loss``, ``mae_difference``, ``ks_max`` ...) once per
  feature;
- an overall metric (``mae_overall``, ``rmse_overall``, ``r2``) once.

``mode: point`` judges the estimate. ``mode: bound`` judges the confidence interval: a breach when
the whole interval is on the failing side, no breach when it is all on the passing side,
otherwise inconclusive (counted as ``on_inconclusive`` says, the policy's by default). A metric
that needs the outcome is not assessable in an audit without a label; in an audit that is not
``task: regression`` the rule is skipped with that reason.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ...contract import NO_LABEL, Regression
from ...contract.continuous_metrics import BY_NAME, OVERALL_KEY, names
from ...errors import InputError
from ..evidence import Evidence
from ..findings import Breach, Finding
from .inference import status_of
from .interface import Comparison, PolicyContext
from .judging import OPS, WORDS, finding, fmt, select_features, skip, some

#: Metrics without an interval: ``mode: bound`` cannot judge them.
_NO_INTERVAL = ("ks_p_value", "r2")


class ContinuousFairnessRule(Comparison):
    """Compare a regression metric (per group, per feature or overall) with a threshold."""

    metrics = names()

    kind: Literal["continuous_fairness"]
    feature: str | None = None
    group: str | None = None
    min_group_size: int | None = Field(None, ge=1)
    mode: Literal["point", "bound"] = "point"
    on_inconclusive: Literal["fail", "warn", "pass"] | None = Field(
        None, description="override what an inconclusive finding counts as for this rule"
    )

    @model_validator(mode="after")
    def _scope(self) -> ContinuousFairnessRule:
        scope = BY_NAME[self.metric].scope
        if self.group is not None and scope != "group":
            raise ValueError(f"`group` applies to a per-group metric; {self.metric} is {scope}")
        if self.feature is not None and scope == "overall":
            raise ValueError(f"`feature` does not apply to the overall metric {self.metric}")
        if self.mode == "bound" and self.metric in _NO_INTERVAL:
            raise ValueError(f"{self.metric} has no interval: use mode 'point'")
        return self

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        reg = evidence.regression
        kw: dict[str, Any] = {"mode": self.mode}
        if reg is None:
            return skip(self, "not a regression audit (task: regression)", **kw)
        meta = BY_NAME[self.metric]
        if meta.needs_label and not reg.labelled:
            return skip(self, NO_LABEL, **kw)
        items = self._items(policy, reg)
        if not items:
            return skip(self, f"{self.metric} is undefined for every comparison", **kw)
        return self._conclude(policy, items)

    def _items(
        self, policy: PolicyContext, reg: Regression
    ) -> dict[tuple[str | None, str | None], tuple[float | None, list[float] | None]]:
        """(feature, group) -> (value, interval) of everything the rule judges."""
        meta = BY_NAME[self.metric]
        if meta.scope == "overall":
            key = OVERALL_KEY[self.metric]
            value = getattr(reg.overall, key)
            return {(None, None): (value, reg.overall.ci.get(key))} if value is not None else {}
        features = select_features(self, policy, reg.features)
        out: dict[tuple[str | None, str | None], tuple[float | None, list[float] | None]] = {}
        if meta.scope == "feature":
            for fname, fdata in features.items():
                found = fdata.summaries.get(self.metric)
                if found is not None and found.value is not None:
                    out[(fname, None)] = (found.value, found.ci)
            return out
        min_n = self.min_group_size or policy.min_group_size
        seen = False
        for fname, fdata in features.items():
            for gname, g in fdata.groups.items():
                if self.group is not None and gname != self.group:
                    continue
                seen = True
                skipped = g.excluded or g.status != "ok" or g.n < min_n
                if skipped or (meta.vs_reference and gname == fdata.reference_group):
                    continue
                value = g.metric(self.metric)
                if value is not None:
                    out[(fname, gname)] = (value, g.ci.get(self.metric))
        if self.group is not None and not seen:
            raise InputError(
                f"{policy.where(self.id)}: rule {self.id!r} names group {self.group!r}, which "
                f"does not occur in {', '.join(features)}",
                hint="check the group's spelling against the dataset's values",
            )
        return out

    def _verdict(self, value: float | None, ci: list[float] | None) -> str:
        meets = OPS[self.operator]
        if self.mode == "point":
            return "no_breach" if value is not None and meets(value, self.threshold) else "breach"
        if ci is None:
            return "inconclusive"
        low, high = (meets(v, self.threshold) for v in ci)
        if low and high:
            return "no_breach"
        return "breach" if not (low or high) else "inconclusive"

    def _conclude(
        self,
        policy: PolicyContext,
        items: dict[tuple[str | None, str | None], tuple[float | None, list[float] | None]],
    ) -> Finding:
        verdicts = {k: self._verdict(v, ci) for k, (v, ci) in items.items()}
        on_inconclusive = self.on_inconclusive or policy.on_inconclusive
        state = status_of(list(verdicts.values()), self.severity, on_inconclusive)  # type: ignore[arg-type]
        valued = {k: v for k, (v, _) in items.items() if v is not None}
        pool = [k for k in valued if verdicts[k] == "breach"] or list(valued)
        pick = min if self.operator in (">=", ">") else max
        worst = pick(pool, key=lambda k: valued[k])
        value, ci = items[worst]

        def where(k: tuple[str | None, str | None]) -> str:
            f, g = k
            return "overall" if f is None else (f if g is None else f"{f}={g}")

        what = f"{self.metric} {WORDS[self.operator]} {fmt(self.threshold)}"
        how = "point estimate" if self.mode == "point" else "confidence interval"
        breached = [k for k, v in verdicts.items() if v == "breach"]
        unclear = [k for k, v in verdicts.items() if v == "inconclusive"]
        parts = [f"{what} (judged on the {how}) in {len(items)} comparison(s)"]
        if breached:
            parts.append(
                f"breach in {len(breached)}: "
                + some([f"{where(k)} ({fmt(valued[k])})" for k in breached if k in valued])
            )
        if unclear:
            parts.append(
                f"inconclusive in {len(unclear)}: "
                + some([f"{where(k)} ({fmt(valued[k])}, CI {_span(items[k][1])})" for k in unclear])
            )
        if not breached and not unclear:
            parts.append(f"no breach (worst: {where(worst)}, {fmt(valued[worst])})")
        overall = "breach" if breached else "inconclusive" if unclear else "no_breach"
        extra: dict[str, Any] = {}
        if self.mode == "bound":
            extra = {"verdict": overall, "on_inconclusive": on_inconclusive}
        return finding(
            self,
            state,
            value,
            "; ".join(parts),
            feature=worst[0],
            group=worst[1],
            ci=ci,
            mode=self.mode,
            breaches=[
                Breach(feature=k[0], group=k[1], value=valued[k]) for k in breached if k in valued
            ],
            **extra,
        )


def _span(ci: list[float] | None) -> str:
    return "none" if ci is None else f"{fmt(ci[0])}-{fmt(ci[1])}"


def task_skip(rule: Any, evidence: Evidence) -> Finding | None:
    """The finding of a binary-classification rule in a ``task: regression`` audit: ``fairness``
    and ``performance`` rules judge decisions and confusion counts the audit does not have, so
    they are not assessable (never passed, never an error about a missing feature)."""
    if evidence.task != "regression" or rule.kind not in ("fairness", "performance"):
        return None
    return skip(
        rule,
        f"task: regression audit: a {rule.kind} rule judges binary decisions; use kind "
        "continuous_fairness (e.g. mean_prediction_ratio, mae, r2)",
        **({"mode": rule.mode} if rule.kind == "fairness" else {}),
    )
