"""Judge the evidence of an audit against a policy's rules.

Each rule gives one :class:`Finding`. A per-group rule is judged on every group large enough to
judge (``min_group_size``); its reported value is the worst group's. Nothing is silently passed:
a rule whose metric cannot be computed, or whose groups are all too small, is ``skipped`` with the
reason.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..errors import InputError
from .schema import (
    BETWEEN_METRICS,
    ExplanationRule,
    FairnessRule,
    PerformanceRule,
    Policy,
)

Status = Literal["pass", "fail", "warn", "skipped"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": op.ge,
    ">": op.gt,
    "<=": op.le,
    "<": op.lt,
}
_WORDS = {">=": "at least", ">": "above", "<=": "at most", "<": "below"}


@dataclass(frozen=True)
class Breach:
    feature: str | None
    group: str | None
    value: float


@dataclass(frozen=True)
class Finding:
    """The judgement of one rule, with the evidence that decided it."""

    id: str
    kind: str
    metric: str
    severity: str
    status: Status
    value: float | None
    threshold: float
    operator: str
    feature: str | None
    group: str | None
    message: str
    ci: list[float] | None = None
    breaches: list[Breach] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evidence:
    """What rules are judged on: the JSON-ready sections of the report."""

    fairness: Mapping[str, Any]
    performance: Mapping[str, Any]
    explanations: Mapping[str, Any]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _status(rule: Any, ok: bool) -> Status:
    if ok:
        return "pass"
    return "fail" if rule.severity == "error" else "warn"


def _finding(rule: Any, status: Status, value: float | None, message: str, **kw: Any) -> Finding:
    return Finding(
        id=rule.id,
        kind=rule.kind,
        metric=rule.metric,
        severity=rule.severity,
        status=status,
        value=value,
        threshold=rule.threshold,
        operator=rule.operator,
        feature=kw.pop("feature", getattr(rule, "feature", None)),
        group=kw.pop("group", getattr(rule, "group", None)),
        message=message,
        **kw,
    )


def _scalar(rule: Any, value: float | None, what: str, missing: str) -> Finding:
    if value is None:
        return _finding(rule, "skipped", None, f"not assessable: {missing}")
    ok = _OPS[rule.operator](value, rule.threshold)
    verdict = "meets" if ok else "does not meet"
    msg = f"{what} is {_fmt(value)}; {verdict} {_WORDS[rule.operator]} {_fmt(rule.threshold)}"
    return _finding(rule, _status(rule, ok), value, msg)


def _fairness(rule: FairnessRule, policy: Policy, ev: Evidence) -> Finding:
    features = dict(ev.fairness)
    if rule.feature is not None:
        if rule.feature not in features:
            raise InputError(
                f"{policy.where(rule.id)}: rule {rule.id!r} names feature {rule.feature!r}, "
                f"which the audit does not have (features: {', '.join(features)})",
                hint="use one of the spec's sensitive_features, or their intersection joined by '&'",
            )
        features = {rule.feature: features[rule.feature]}
    min_n = rule.min_group_size or policy.document.min_group_size
    check = _OPS[rule.operator]

    if rule.metric in BETWEEN_METRICS:
        values = {f: d.get(rule.metric) for f, d in features.items()}
        judged = {f: v for f, v in values.items() if v is not None}
        if not judged:
            return _finding(rule, "skipped", None, f"not assessable: {rule.metric} is undefined")
        breaches = [Breach(f, None, v) for f, v in judged.items() if not check(v, rule.threshold)]
        worst_f = _worst(judged, rule.operator)
        value = judged[worst_f]
        ok = not breaches
        msg = (
            f"{rule.metric} for {worst_f} is {_fmt(value)}; "
            f"{'meets' if ok else 'does not meet'} {_WORDS[rule.operator]} {_fmt(rule.threshold)}"
        )
        return _finding(rule, _status(rule, ok), value, msg, feature=worst_f, breaches=breaches)

    judged_g: dict[tuple[str, str], float] = {}
    too_small: list[str] = []
    group_seen = False
    for fname, fdata in features.items():
        for gname, g in fdata["groups"].items():
            if rule.group is not None and gname != rule.group:
                continue
            group_seen = True
            if g["n"] < min_n:
                too_small.append(f"{fname}={gname} (n={g['n']})")
                continue
            v = g.get(rule.metric)
            if v is not None:
                judged_g[(fname, gname)] = v
    if rule.group is not None and not group_seen:
        raise InputError(
            f"{policy.where(rule.id)}: rule {rule.id!r} names group {rule.group!r}, which does not "
            f"occur in {', '.join(features)}",
            hint="check the group's spelling against the dataset's values",
        )
    if not judged_g:
        reason = (
            f"every group is smaller than {min_n}" if too_small else f"{rule.metric} is undefined"
        )
        return _finding(rule, "skipped", None, f"not assessable: {reason}")
    breaches = [Breach(f, g, v) for (f, g), v in judged_g.items() if not check(v, rule.threshold)]
    wf, wg = _worst(judged_g, rule.operator)
    value = judged_g[(wf, wg)]
    ok = not breaches
    if ok:
        msg = (
            f"all {len(judged_g)} groups have {rule.metric} {_WORDS[rule.operator]} "
            f"{_fmt(rule.threshold)} (worst: {wf}={wg}, {_fmt(value)})"
        )
    else:
        names = ", ".join(f"{b.feature}={b.group} ({_fmt(b.value)})" for b in breaches[:5])
        more = f" and {len(breaches) - 5} more" if len(breaches) > 5 else ""
        msg = (
            f"{len(breaches)} of {len(judged_g)} groups not {_WORDS[rule.operator]} "
            f"{_fmt(rule.threshold)}: {names}{more}"
        )
    if too_small:
        msg += f"; not judged (fewer than {min_n} rows): {', '.join(too_small)}"
    return _finding(rule, _status(rule, ok), value, msg, feature=wf, group=wg, breaches=breaches)


def _worst(values: Mapping[Any, float], operator: str) -> Any:
    """The key whose value is furthest on the failing side of the comparison."""
    pick = min if operator in (">=", ">") else max
    return pick(values, key=lambda k: values[k])


def evaluate(policy: Policy, evidence: Evidence) -> list[Finding]:
    """Judge every rule of ``policy`` on ``evidence``, in the policy's order."""
    findings = []
    for rule in policy.rules:
        if isinstance(rule, FairnessRule):
            findings.append(_fairness(rule, policy, evidence))
        elif isinstance(rule, PerformanceRule):
            findings.append(
                _scalar(
                    rule,
                    evidence.performance.get(rule.metric),
                    f"overall {rule.metric}",
                    f"{rule.metric} is undefined for this audit",
                )
            )
        elif isinstance(rule, ExplanationRule):
            ex = evidence.explanations
            if ex.get("status") != "computed":
                findings.append(
                    _finding(
                        rule,
                        "skipped",
                        None,
                        f"not assessable: explanations skipped ({ex.get('reason', 'no reason given')})",
                    )
                )
                continue
            if rule.metric == "sensitive_share":
                value = ex.get("sensitive_share")
            else:
                value = (ex.get("additivity") or {}).get("max_abs_error")
            findings.append(_scalar(rule, value, rule.metric, f"{rule.metric} is undefined"))
    return findings


def outcome(findings: list[Finding]) -> Literal["pass", "fail"]:
    """``fail`` when any blocking (``error``) rule failed; warnings and skips do not block."""
    return "fail" if any(f.status == "fail" for f in findings) else "pass"


def summarise(findings: list[Finding]) -> dict[str, int]:
    return {
        "rules": len(findings),
        "passed": sum(f.status == "pass" for f in findings),
        "failed": sum(f.status == "fail" for f in findings),
        "warned": sum(f.status == "warn" for f in findings),
        "skipped": sum(f.status == "skipped" for f in findings),
    }
