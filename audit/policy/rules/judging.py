"""The machinery rule kinds share to judge evidence and word their findings.

A per-group rule is judged on every group large enough to judge (``min_group_size``); its reported
value is the worst group's. Nothing is silently passed: a rule whose metric cannot be computed, or
whose groups are all too small, is ``skipped`` with the reason.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ...contract import FeatureFairness, GroupFairness, ProfileGroup
from ...errors import InputError
from ..findings import Breach, Finding, Status
from .interface import PolicyContext

F = TypeVar("F")

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": op.ge,
    ">": op.gt,
    "<=": op.le,
    "<": op.lt,
}
WORDS = {">=": "at least", ">": "above", "<=": "at most", "<": "below"}


def fmt(v: float) -> str:
    return f"{v:.4g}"


def status(rule: Any, ok: bool) -> Status:
    if ok:
        return "pass"
    return "fail" if rule.severity == "error" else "warn"


def verdict(rule: Any, ok: bool) -> str:
    """``meets at least 0.8`` or ``does not meet at least 0.8``."""
    return f"{'meets' if ok else 'does not meet'} {WORDS[rule.operator]} {fmt(rule.threshold)}"


def some(items: Sequence[str], most: int = 5) -> str:
    """The first ``most`` items, and how many more there are."""
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def finding(rule: Any, status: Status, value: float | None, message: str, **kw: Any) -> Finding:
    """The rule's finding; metric, threshold, operator, feature and group default to the rule's."""
    return Finding(
        id=rule.id,
        kind=rule.kind,
        metric=kw.pop("metric", getattr(rule, "metric", "")),
        severity=rule.severity,
        status=status,
        value=value,
        threshold=kw.pop("threshold", getattr(rule, "threshold", 0.0)),
        operator=kw.pop("operator", getattr(rule, "operator", ">=")),
        feature=kw.pop("feature", getattr(rule, "feature", None)),
        group=kw.pop("group", getattr(rule, "group", None)),
        message=message,
        # every finding states all of these, null or empty where they do not apply
        **{"ci": None, "mode": None, "breaches": [], "waiver": None, "comparison": None, **kw},
    )


def skip(rule: Any, reason: str, **kw: Any) -> Finding:
    return finding(rule, "skipped", None, f"not assessable: {reason}", **kw)


def scalar(rule: Any, value: float | None, what: str, missing: str) -> Finding:
    """Compare one number with the rule's threshold (skipped with ``missing`` when it is None)."""
    if value is None:
        return skip(rule, missing)
    ok = OPS[rule.operator](value, rule.threshold)
    return finding(rule, status(rule, ok), value, f"{what} is {fmt(value)}; {verdict(rule, ok)}")


def worst_key(values: Mapping[Any, float], operator: str) -> Any:
    """The key whose value is furthest on the failing side of the comparison."""
    pick = min if operator in (">=", ">") else max
    return pick(values, key=lambda k: values[k])


def select_features(rule: Any, policy: PolicyContext, available: Mapping[str, F]) -> dict[str, F]:
    """The features the rule judges: its ``feature``, or every one available."""
    feature = getattr(rule, "feature", None)
    if feature is None:
        return dict(available)
    if feature not in available:
        raise InputError(
            f"{policy.where(rule.id)}: rule {rule.id!r} names feature {feature!r}, which the "
            f"audit does not have (features: {', '.join(available) or 'none'})",
            hint="use one of the spec's sensitive_features, or their intersection joined by '&'",
        )
    return {feature: available[feature]}


def select_groups(
    rule: Any, policy: PolicyContext, features: Mapping[str, FeatureFairness], min_n: int
) -> tuple[dict[tuple[str, str], GroupFairness], list[str]]:
    """The groups a per-group rule judges, and the ones too small (or marked) to judge."""
    judged: dict[tuple[str, str], GroupFairness] = {}
    not_judged: list[str] = []
    seen = False
    wanted = getattr(rule, "group", None)
    for fname, fdata in features.items():
        for gname, g in fdata.groups.items():
            if wanted is not None and gname != wanted:
                continue
            seen = True
            if g.excluded:
                not_judged.append(f"{fname}={gname} (excluded: {g.excluded})")
                continue
            if g.n < min_n or g.status == "insufficient_data":
                not_judged.append(f"{fname}={gname} (n={g.n})")
                continue
            judged[(fname, gname)] = g
    if wanted is not None and not seen:
        raise InputError(
            f"{policy.where(rule.id)}: rule {rule.id!r} names group {wanted!r}, which does not "
            f"occur in {', '.join(features)}",
            hint="check the group's spelling against the dataset's values",
        )
    return judged, not_judged


def per_group(
    rule: Any,
    metric: str,
    judged: Mapping[tuple[str, str], GroupFairness | ProfileGroup],
    not_judged: list[str],
    min_n: int,
    breached: Callable[[tuple[str, str], float], bool],
    note: str = "",
) -> Finding:
    """Judge ``metric`` in every judged group; the finding reports the worst group."""
    raw = {k: g.metric(metric) for k, g in judged.items()}
    values: dict[tuple[str, str], float] = {k: v for k, v in raw.items() if v is not None}
    if not values:
        reason = f"every group is smaller than {min_n}" if not_judged else f"{metric} is undefined"
        return skip(rule, reason)
    breaches = [
        Breach(feature=f, group=g, value=v) for (f, g), v in values.items() if breached((f, g), v)
    ]
    wf, wg = worst_key(values, rule.operator)
    value = values[(wf, wg)]
    ok = not breaches
    if ok:
        msg = (
            f"all {len(values)} groups have {metric} {WORDS[rule.operator]} "
            f"{fmt(rule.threshold)}{note} (worst: {wf}={wg}, {fmt(value)})"
        )
    else:
        names = some([f"{b.feature}={b.group} ({fmt(b.value)})" for b in breaches])
        msg = (
            f"{len(breaches)} of {len(values)} groups not {WORDS[rule.operator]} "
            f"{fmt(rule.threshold)}{note}: {names}"
        )
    if not_judged:
        msg += (
            f"; not judged (fewer than {min_n} rows or insufficient data): {', '.join(not_judged)}"
        )
    worst = judged[(wf, wg)]
    ci = worst.ci.get(metric) if isinstance(worst, GroupFairness) else None
    return finding(
        rule, status(rule, ok), value, msg, feature=wf, group=wg, breaches=breaches, ci=ci
    )
