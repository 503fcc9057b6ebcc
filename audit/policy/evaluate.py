"""Judge the evidence of an audit against a policy's rules.

Each rule gives one :class:`Finding`. A per-group rule is judged on every group large enough to
judge (``min_group_size``); its reported value is the worst group's. Nothing is silently passed:
a rule whose metric cannot be computed, or whose groups are all too small, is ``skipped`` with the
reason. A failure covered by a current waiver is ``waived`` (shown, never hidden); an expired
waiver no longer applies, and the finding says so.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Literal

from ..errors import InputError
from .schema import (
    BETWEEN_METRICS,
    PER_GROUP_PERFORMANCE,
    DataRule,
    DocumentationRule,
    DriftRule,
    ExplanationRule,
    FairnessRule,
    PerformanceRule,
    Policy,
    RegressionRule,
)

Status = Literal["pass", "fail", "warn", "skipped", "waived"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": op.ge,
    ">": op.gt,
    "<=": op.le,
    "<": op.lt,
}
_WORDS = {">=": "at least", ">": "above", "<=": "at most", "<": "below"}
_MODE_WORDS = {
    "point": "judged on the point estimate",
    "bound": "judged on the confidence bound (a breach counts only if the whole interval breaches)",
    "significance": "judged on significance (a breach counts only if the difference from the "
    "reference group is statistically significant)",
}


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
    mode: str | None = None
    breaches: list[Breach] = field(default_factory=list)
    waiver: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None  # regression rules: baseline, current, change

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evidence:
    """What rules are judged on: the JSON-ready sections of the report, and the model's metadata."""

    fairness: Mapping[str, Any]
    performance: Mapping[str, Any]
    explanations: Mapping[str, Any]
    data: Mapping[str, Any] = field(default_factory=dict)
    model_metadata: Mapping[str, str] | None = None
    model_registered: bool = False
    baseline: Mapping[str, Any] | None = None
    drift: Mapping[str, Any] | None = None


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
        metric=kw.pop("metric", getattr(rule, "metric", "")),
        severity=rule.severity,
        status=status,
        value=value,
        threshold=kw.pop("threshold", getattr(rule, "threshold", 0.0)),
        operator=kw.pop("operator", getattr(rule, "operator", ">=")),
        feature=kw.pop("feature", getattr(rule, "feature", None)),
        group=kw.pop("group", getattr(rule, "group", None)),
        message=message,
        **kw,
    )


def _skip(rule: Any, reason: str, **kw: Any) -> Finding:
    return _finding(rule, "skipped", None, f"not assessable: {reason}", **kw)


def _scalar(rule: Any, value: float | None, what: str, missing: str) -> Finding:
    if value is None:
        return _skip(rule, missing)
    ok = _OPS[rule.operator](value, rule.threshold)
    verdict = "meets" if ok else "does not meet"
    msg = f"{what} is {_fmt(value)}; {verdict} {_WORDS[rule.operator]} {_fmt(rule.threshold)}"
    return _finding(rule, _status(rule, ok), value, msg)


def _worst(values: Mapping[Any, float], operator: str) -> Any:
    """The key whose value is furthest on the failing side of the comparison."""
    pick = min if operator in (">=", ">") else max
    return pick(values, key=lambda k: values[k])


def _features(rule: Any, policy: Policy, available: Mapping[str, Any]) -> dict[str, Any]:
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


def _groups(
    rule: Any, policy: Policy, features: Mapping[str, Any], min_n: int
) -> tuple[dict[tuple[str, str], Mapping[str, Any]], list[str]]:
    """The groups a per-group rule judges, and the ones too small (or marked) to judge."""
    judged: dict[tuple[str, str], Mapping[str, Any]] = {}
    not_judged: list[str] = []
    seen = False
    wanted = getattr(rule, "group", None)
    for fname, fdata in features.items():
        for gname, g in fdata["groups"].items():
            if wanted is not None and gname != wanted:
                continue
            seen = True
            if g.get("excluded"):
                not_judged.append(f"{fname}={gname} (excluded: {g['excluded']})")
                continue
            if g["n"] < min_n or g.get("status") == "insufficient_data":
                not_judged.append(f"{fname}={gname} (n={g['n']})")
                continue
            judged[(fname, gname)] = g
    if wanted is not None and not seen:
        raise InputError(
            f"{policy.where(rule.id)}: rule {rule.id!r} names group {wanted!r}, which does not "
            f"occur in {', '.join(features)}",
            hint="check the group's spelling against the dataset's values",
        )
    return judged, not_judged


def _per_group(
    rule: Any,
    metric: str,
    judged: Mapping[tuple[str, str], Mapping[str, Any]],
    not_judged: list[str],
    min_n: int,
    breached: Callable[[tuple[str, str], float], bool],
    note: str = "",
) -> Finding:
    raw = {k: g.get(metric) for k, g in judged.items()}
    values: dict[tuple[str, str], float] = {k: v for k, v in raw.items() if v is not None}
    if not values:
        reason = f"every group is smaller than {min_n}" if not_judged else f"{metric} is undefined"
        return _skip(rule, reason)
    breaches = [Breach(f, g, v) for (f, g), v in values.items() if breached((f, g), v)]
    wf, wg = _worst(values, rule.operator)
    value = values[(wf, wg)]
    ok = not breaches
    if ok:
        msg = (
            f"all {len(values)} groups have {metric} {_WORDS[rule.operator]} "
            f"{_fmt(rule.threshold)}{note} (worst: {wf}={wg}, {_fmt(value)})"
        )
    else:
        names = ", ".join(f"{b.feature}={b.group} ({_fmt(b.value)})" for b in breaches[:5])
        more = f" and {len(breaches) - 5} more" if len(breaches) > 5 else ""
        msg = (
            f"{len(breaches)} of {len(values)} groups not {_WORDS[rule.operator]} "
            f"{_fmt(rule.threshold)}{note}: {names}{more}"
        )
    if not_judged:
        msg += (
            f"; not judged (fewer than {min_n} rows or insufficient data): {', '.join(not_judged)}"
        )
    ci = (judged[(wf, wg)].get("ci") or {}).get(metric)
    return _finding(
        rule, _status(rule, ok), value, msg, feature=wf, group=wg, breaches=breaches, ci=ci
    )


def _fairness(rule: FairnessRule, policy: Policy, ev: Evidence) -> Finding:
    features = _features(rule, policy, ev.fairness)
    min_n = rule.min_group_size or policy.min_group_size
    check = _OPS[rule.operator]
    mode = rule.mode

    if rule.metric in BETWEEN_METRICS:
        values = {f: d.get(rule.metric) for f, d in features.items()}
        judged = {f: v for f, v in values.items() if v is not None}
        if not judged:
            return _skip(rule, f"{rule.metric} is undefined", mode=mode)

        def breached_between(f: str, v: float) -> bool:
            if check(v, rule.threshold):
                return False
            if mode == "bound":
                ci = _between_ci(features[f], rule.metric)
                return ci is not None and _bound_breaches(rule, ci)
            return True

        if mode == "bound" and not any(_between_ci(features[f], rule.metric) for f in judged):
            return _skip(rule, f"no confidence interval for {rule.metric}", mode=mode)
        breaches = [Breach(f, None, v) for f, v in judged.items() if breached_between(f, v)]
        worst_f = _worst(judged, rule.operator)
        value = judged[worst_f]
        ok = not breaches
        msg = (
            f"{rule.metric} for {worst_f} is {_fmt(value)}; "
            f"{'meets' if ok else 'does not meet'} {_WORDS[rule.operator]} {_fmt(rule.threshold)}"
        )
        if mode != "point":
            msg += f" ({_MODE_WORDS[mode]})"
        return _finding(
            rule,
            _status(rule, ok),
            value,
            msg,
            feature=worst_f,
            breaches=breaches,
            mode=mode,
            ci=_between_ci(features[worst_f], rule.metric),
        )

    judged_g, not_judged = _groups(rule, policy, features, min_n)
    metric = rule.metric

    def breached(key: tuple[str, str], v: float) -> bool:
        if check(v, rule.threshold):
            return False
        g = judged_g[key]
        if mode == "bound":
            ci = (g.get("ci") or {}).get(metric)
            return ci is not None and _bound_breaches(rule, ci)
        if mode == "significance":
            test_metric = "selection_rate" if metric == "impact_ratio" else metric
            if metric == "scoring_impact_ratio":
                test_metric = "scoring_rate"
            test = (g.get("tests") or {}).get(test_metric)
            return (
                test is not None
                and test.get("p_value") is not None
                and test["p_value"] < rule.alpha
            )
        return True

    if mode != "point":
        needed = "ci" if mode == "bound" else "tests"
        if not any(g.get(needed) for g in judged_g.values()):
            return _skip(
                rule,
                f"the audit has no {'intervals' if mode == 'bound' else 'tests'} for {metric}",
                mode=mode,
            )
    note = (
        ""
        if mode == "point"
        else f" ({_MODE_WORDS[mode]}"
        + (f", alpha {rule.alpha}" if mode == "significance" else "")
        + ")"
    )
    finding = _per_group(rule, metric, judged_g, not_judged, min_n, breached, note)
    return replace(finding, mode=mode)


def _between_ci(fdata: Mapping[str, Any], metric: str) -> list[float] | None:
    if metric == "equalized_odds_difference":
        return ((fdata.get("disparities") or {}).get("equalized_odds_difference") or {}).get("ci")
    base = {
        "demographic_parity_difference": ("selection_rate", "ci_difference"),
        "demographic_parity_ratio": ("selection_rate", "ci_ratio"),
        "equal_opportunity_difference": ("tpr", "ci_difference"),
    }[metric]
    return ((fdata.get("disparities") or {}).get(base[0]) or {}).get(base[1])


def _bound_breaches(rule: Any, ci: list[float]) -> bool:
    """True when even the end of the interval most favourable to the model breaches."""
    low, high = ci
    if rule.operator in (">=", ">"):
        return not _OPS[rule.operator](high, rule.threshold)
    return not _OPS[rule.operator](low, rule.threshold)


def _performance(rule: PerformanceRule, policy: Policy, ev: Evidence) -> Finding:
    if rule.scope == "overall":
        return _scalar(
            rule,
            ev.performance.get(rule.metric),
            f"overall {rule.metric}",
            f"{rule.metric} is undefined for this audit",
        )
    features = _features(rule, policy, ev.fairness)
    min_n = rule.min_group_size or policy.min_group_size
    metric = PER_GROUP_PERFORMANCE[rule.metric]
    judged, not_judged = _groups(rule, policy, features, min_n)
    if rule.scope == "per_group":
        check = _OPS[rule.operator]
        return _per_group(
            rule, metric, judged, not_judged, min_n, lambda _k, v: not check(v, rule.threshold)
        )
    gaps: dict[str, tuple[float, str, str]] = {}
    for fname in features:
        raw = {g: d.get(metric) for (f, g), d in judged.items() if f == fname}
        vals: dict[str, float] = {g: v for g, v in raw.items() if v is not None}
        if len(vals) >= 2:
            hi, lo = max(vals, key=vals.__getitem__), min(vals, key=vals.__getitem__)
            gaps[fname] = (vals[hi] - vals[lo], hi, lo)
    if not gaps:
        return _skip(rule, f"fewer than two groups with {metric} and at least {min_n} rows")
    worst = max(gaps, key=lambda f: gaps[f][0])
    gap, hi, lo = gaps[worst]
    ok = _OPS[rule.operator](gap, rule.threshold)
    msg = (
        f"largest {rule.metric} gap is {_fmt(gap)} in {worst} ({hi} vs {lo}); "
        f"{'meets' if ok else 'does not meet'} {_WORDS[rule.operator]} {_fmt(rule.threshold)}"
    )
    breaches = [
        Breach(f, None, g[0])
        for f, g in gaps.items()
        if not _OPS[rule.operator](g[0], rule.threshold)
    ]
    return _finding(rule, _status(rule, ok), gap, msg, feature=worst, breaches=breaches)


def _explanation(rule: ExplanationRule, ev: Evidence) -> Finding:
    ex = ev.explanations
    if ex.get("status") != "computed":
        return _skip(rule, f"explanations skipped ({ex.get('reason', 'no reason given')})")
    metric = rule.metric
    if metric == "additivity_max_abs_error":
        value = (ex.get("additivity") or {}).get("max_abs_error")
    elif metric == "sensitive_in_top_k":
        k = rule.k or 4
        top = [g["feature"] for g in ex.get("global", [])[:k]]
        sensitive = set(ex.get("sensitive_features") or [])
        hits = [f for f in top if f in sensitive]
        value = float(len(hits))
        ok = _OPS[rule.operator](value, rule.threshold)
        msg = (
            f"{len(hits)} sensitive feature(s) among the top {k} by mean |SHAP|"
            + (f" ({', '.join(hits)})" if hits else "")
            + f"; {'meets' if ok else 'does not meet'} {_WORDS[rule.operator]} {_fmt(rule.threshold)}"
        )
        return _finding(rule, _status(rule, ok), value, msg)
    elif metric == "reason_stability":
        stability = ((ex.get("reasons") or {}).get("stability")) or {}
        value = stability.get("mean")
        if value is None:
            return _skip(
                rule,
                "reason stability was not measured (no reason codes, or stability_replicas: 0)",
            )
    else:
        value = ex.get(metric)
    return _scalar(
        rule, value, metric.replace("_", " "), f"{metric} is not in this audit's explanations"
    )


def _data(rule: DataRule, policy: Policy, ev: Evidence) -> Finding:
    data = ev.data
    if not data:
        return _skip(rule, "the audit has no data profile")
    if rule.metric == "label_balance":
        return _scalar(
            rule,
            data.get("label_balance"),
            "share of the minority label",
            "label balance is undefined",
        )
    features = _features(rule, policy, data.get("features", {}))
    check = _OPS[rule.operator]
    if rule.metric == "unknown_share":
        values = {f: d.get("unknown_share") for f, d in features.items()}
        values = {f: v for f, v in values.items() if v is not None}
        if not values:
            return _skip(rule, "no unknown shares")
        breaches = [Breach(f, None, v) for f, v in values.items() if not check(v, rule.threshold)]
        worst = _worst(values, rule.operator)
        ok = not breaches
        msg = (
            f"share of rows with an unknown {worst} is {_fmt(values[worst])}; "
            f"{'meets' if ok else 'does not meet'} {_WORDS[rule.operator]} {_fmt(rule.threshold)}"
        )
        return _finding(
            rule, _status(rule, ok), values[worst], msg, feature=worst, breaches=breaches
        )
    metric = {"group_size": "n", "group_share": "share", "missing_share": "missing_share"}[
        rule.metric
    ]
    judged = {(f, g): d for f, fd in features.items() for g, d in fd["groups"].items()}
    finding = _per_group(rule, metric, judged, [], 0, lambda _k, v: not check(v, rule.threshold))
    return replace(finding, metric=rule.metric)


def _documentation(rule: DocumentationRule, ev: Evidence) -> Finding:
    kw: dict[str, Any] = {
        "metric": "model_metadata",
        "threshold": float(len(rule.require)),
        "operator": ">=",
    }
    if not ev.model_registered:
        return _finding(
            rule,
            _status(rule, False),
            0.0,
            "the model is not registered, so it has no documented "
            + ", ".join(rule.require)
            + " (register it with `audit registry add-model` and its metadata options)",
            **kw,
        )
    meta = ev.model_metadata or {}
    missing = [f for f in rule.require if not meta.get(f)]
    present = float(len(rule.require) - len(missing))
    if missing:
        msg = f"the model's registry entry lacks: {', '.join(missing)}"
    else:
        msg = f"the model's registry entry documents {', '.join(rule.require)}"
    return _finding(rule, _status(rule, not missing), present, msg, **kw)


def _regression(rule: RegressionRule, policy: Policy, ev: Evidence) -> Finding:
    kw: dict[str, Any] = {"threshold": rule.tolerance, "operator": "<="}
    base = ev.baseline
    if base is None:
        return _skip(rule, "no baseline report was given (audit run --baseline)", **kw)
    label = f"v{base.get('version')} ({str(base.get('report_id', ''))[:8]})"
    sign = 1.0 if rule.higher_is_better else -1.0
    pairs: dict[tuple[str | None, str | None], tuple[float, float]] = {}
    if rule.section == "performance":
        old, new = (base.get("performance") or {}).get(rule.metric), ev.performance.get(rule.metric)
        if old is not None and new is not None:
            pairs[(None, None)] = (old, new)
    else:
        current = _features(rule, policy, ev.fairness)
        baseline = base.get("fairness") or {}
        for fname, fdata in current.items():
            bdata = baseline.get(fname) or {}
            if rule.metric in BETWEEN_METRICS:
                old, new = bdata.get(rule.metric), fdata.get(rule.metric)
                if old is not None and new is not None:
                    pairs[(fname, None)] = (old, new)
                continue
            for gname, g in fdata["groups"].items():
                bg = (bdata.get("groups") or {}).get(gname)
                if (
                    not bg
                    or g["n"] < policy.min_group_size
                    or bg.get("n", 0) < policy.min_group_size
                ):
                    continue
                old, new = bg.get(rule.metric), g.get(rule.metric)
                if old is not None and new is not None:
                    pairs[(fname, gname)] = (old, new)
    if not pairs:
        return _skip(rule, f"{rule.metric} is not comparable with baseline {label}", **kw)
    worsening = {k: sign * (old - new) for k, (old, new) in pairs.items()}
    worst = max(worsening, key=worsening.__getitem__)
    breaches = [
        Breach(f, g, worsening[(f, g)])
        for (f, g) in worsening
        if worsening[(f, g)] > rule.tolerance
    ]
    ok = not breaches
    old, new = pairs[worst]
    where = "overall" if worst == (None, None) else "=".join(p for p in worst if p)
    msg = f"{rule.metric} of {where} went from {_fmt(old)} in baseline {label} to {_fmt(new)}: " + (
        f"worse by {_fmt(worsening[worst])}, beyond the tolerance {_fmt(rule.tolerance)}"
        if not ok
        else f"no change worse than the tolerance {_fmt(rule.tolerance)} "
        f"({len(pairs)} comparison{'s' if len(pairs) != 1 else ''})"
    )
    return _finding(
        rule,
        _status(rule, ok),
        worsening[worst],
        msg,
        feature=worst[0],
        group=worst[1],
        breaches=breaches,
        comparison={
            "baseline_report": base.get("report_id"),
            "baseline_version": base.get("version"),
            "baseline": old,
            "current": new,
            "change": new - old,
        },
        **kw,
    )


def _drift(rule: DriftRule, ev: Evidence) -> Finding:
    kw: dict[str, Any] = {"metric": "psi", "operator": "<=", "threshold": rule.threshold}
    drift = ev.drift
    if drift is None:
        return _skip(rule, "no reference_dataset was given, so drift was not measured", **kw)
    columns: dict[str, Mapping[str, Any]]
    if rule.target == "features":
        columns = dict(drift.get("features") or {})
        if rule.feature is not None:
            if rule.feature not in columns:
                raise InputError(
                    f"drift rule {rule.id!r} names feature {rule.feature!r}, which was not compared "
                    f"(compared: {', '.join(columns)})",
                    hint="name one of the model's input columns",
                )
            columns = {rule.feature: columns[rule.feature]}
    else:
        section = drift.get(rule.target)
        if section is None:
            return _skip(rule, f"no {rule.target} drift was measured", **kw)
        columns = {rule.target: section}
    judged: dict[tuple[str, str | None], tuple[float, float]] = {}
    for name, col in columns.items():
        if col.get("psi") is not None and col.get("p_value") is not None:
            judged[(name, None)] = (col["psi"], col["p_value"])
        if rule.per_group:
            for sens, groups in (col.get("groups") or {}).items():
                for g, d in groups.items():
                    if d.get("psi") is not None and d.get("p_value") is not None:
                        judged[(name, f"{sens}={g}")] = (d["psi"], d["p_value"])
    if not judged:
        return _skip(rule, "no column could be compared", **kw)
    breaches = [
        Breach(n, g, psi)
        for (n, g), (psi, p) in judged.items()
        if psi > rule.threshold and p < rule.alpha
    ]
    worst = max(judged, key=lambda k: judged[k][0])
    psi, p = judged[worst]
    where = worst[0] + (f" ({worst[1]})" if worst[1] else "")
    if breaches:
        names = ", ".join(
            f"{b.feature}{f' ({b.group})' if b.group else ''} PSI {_fmt(b.value)}"
            for b in breaches[:5]
        )
        more = f" and {len(breaches) - 5} more" if len(breaches) > 5 else ""
        msg = (
            f"{len(breaches)} of {len(judged)} comparisons drifted (PSI > {_fmt(rule.threshold)} "
            f"and p < {rule.alpha}): {names}{more}"
        )
    else:
        msg = (
            f"no drift in {len(judged)} comparisons (largest PSI {_fmt(psi)} for {where}, "
            f"p = {_fmt(p)}; drift means PSI > {_fmt(rule.threshold)} and p < {rule.alpha})"
        )
    feature, group = worst
    return _finding(
        rule,
        _status(rule, not breaches),
        psi,
        msg,
        feature=feature,
        group=group,
        breaches=breaches,
        **kw,
    )


def _judge(rule: Any, policy: Policy, ev: Evidence) -> Finding:
    if isinstance(rule, FairnessRule):
        return _fairness(rule, policy, ev)
    if isinstance(rule, PerformanceRule):
        return _performance(rule, policy, ev)
    if isinstance(rule, ExplanationRule):
        return _explanation(rule, ev)
    if isinstance(rule, DataRule):
        return _data(rule, policy, ev)
    if isinstance(rule, RegressionRule):
        return _regression(rule, policy, ev)
    if isinstance(rule, DriftRule):
        return _drift(rule, ev)
    return _documentation(rule, ev)


def _apply_waivers(policy: Policy, finding: Finding, today: date) -> Finding:
    waivers = [w for w in policy.waivers if w.rule == finding.id]
    if not waivers:
        return finding
    waiver = max(waivers, key=lambda w: w.expires)
    info = {
        "reason": waiver.reason,
        "approved_by": waiver.approved_by,
        "expires": waiver.expires.isoformat(),
        "active": waiver.expires >= today,
    }
    if finding.status not in ("fail", "warn"):
        return replace(finding, waiver=info)
    if waiver.expires < today:
        msg = f"{finding.message} [waiver by {waiver.approved_by} expired on {waiver.expires}: not applied]"
        return replace(finding, message=msg, waiver=info)
    msg = f"{finding.message} [WAIVED until {waiver.expires} by {waiver.approved_by}: {waiver.reason}]"
    return replace(finding, status="waived", message=msg, waiver=info)


def iter_findings(policy: Policy, evidence: Evidence, today: date) -> Iterator[Finding]:
    for rule in policy.rules:
        yield _apply_waivers(policy, _judge(rule, policy, evidence), today)


def evaluate(policy: Policy, evidence: Evidence, today: date | None = None) -> list[Finding]:
    """Judge every rule of ``policy`` on ``evidence``, in the policy's (resolved) order."""
    return list(iter_findings(policy, evidence, today or date.today()))


def outcome(findings: list[Finding]) -> Literal["pass", "fail"]:
    """``fail`` when any blocking (``error``) rule failed; warnings, waivers and skips do not block."""
    return "fail" if any(f.status == "fail" for f in findings) else "pass"


def summarise(findings: list[Finding]) -> dict[str, int]:
    return {
        "rules": len(findings),
        "passed": sum(f.status == "pass" for f in findings),
        "failed": sum(f.status == "fail" for f in findings),
        "warned": sum(f.status == "warn" for f in findings),
        "waived": sum(f.status == "waived" for f in findings),
        "skipped": sum(f.status == "skipped" for f in findings),
    }
