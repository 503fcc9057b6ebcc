"""Judge the evidence of an audit against a policy's rules.

Each rule judges itself (``rule.judge(policy, evidence)``, see :mod:`.rules`) and gives one
:class:`Finding`; in an audit with no label a rule that needs one is skipped instead
(:mod:`.rules.labels`). A failure covered by a current waiver is ``waived`` (shown, never hidden); an
expired waiver no longer applies, and the finding says so.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from .evidence import Evidence
from .findings import Finding, Waiver
from .rules.continuous_fairness import task_skip
from .rules.judging import skip
from .rules.labels import label_skip
from .schema import Policy


def _apply_waivers(policy: Policy, finding: Finding, today: date) -> Finding:
    """The finding with the policy's latest waiver for its rule recorded, and applied if current."""
    waivers = [w for w in policy.waivers if w.rule == finding.id]
    if not waivers:
        return finding
    waiver = max(waivers, key=lambda w: w.expires)
    info = Waiver(
        reason=waiver.reason,
        approved_by=waiver.approved_by,
        expires=waiver.expires.isoformat(),
        active=waiver.expires >= today,
    )
    if finding.status not in ("fail", "warn"):
        return finding.model_copy(update={"waiver": info})
    if waiver.expires < today:
        msg = f"{finding.message} [waiver by {waiver.approved_by} expired on {waiver.expires}: not applied]"
        return finding.model_copy(update={"message": msg, "waiver": info})
    msg = f"{finding.message} [WAIVED until {waiver.expires} by {waiver.approved_by}: {waiver.reason}]"
    return finding.model_copy(update={"status": "waived", "message": msg, "waiver": info})


def evaluate(policy: Policy, evidence: Evidence, today: date | None = None) -> list[Finding]:
    """Judge every rule of ``policy`` on ``evidence``, in the policy's (resolved) order."""
    today = today or date.today()
    return [_apply_waivers(policy, _judge(rule, policy, evidence), today) for rule in policy.rules]


#: The rule kind that judges fairness in an audit whose task is not binary.
_TASK_RULES = {"multiclass": "multiclass_fairness", "regression": "continuous_fairness"}


def _judge(rule: Any, policy: Policy, evidence: Evidence) -> Finding:
    """The rule's own judgement, or "not assessable: the audit has no label" where it needs
    the label and the audit has none."""
    skipped = task_skip(rule, evidence) or (None if evidence.has_label else label_skip(rule))
    if skipped is None and rule.kind == "fairness" and evidence.task in _TASK_RULES:
        reason = f"{evidence.task} audit: use {_TASK_RULES[evidence.task]}"
        skipped = skip(rule, reason, mode=rule.mode)
    return skipped if skipped is not None else rule.judge(policy, evidence)


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
        "inconclusive": sum(f.verdict == "inconclusive" for f in findings),
    }
