"""``audit approve`` and ``audit gate`` as library calls: sign off one verified report, and the
deployment decision for one registered model (the signed records: :mod:`audit.pipeline.approval`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ..bundles import Bundle
from .approval import APPROVE_ACTION, GateDecision
from .session import Session, report_resource


@dataclass(frozen=True)
class Approved:
    bundle: Bundle
    approver: str
    record: Path  # the signed approval file


def approve(
    session: Session, target: Path, *, keyring: Path | None = None, note: str = ""
) -> Approved:
    """Approve the verified, passing bundle at ``target`` as the session's actor (needs
    report:approve), signed with the actor's own approval key (created and enrolled on first
    use). Verified against ``keyring``, else the home's trust configuration."""
    from .anchoring import history, verify_published
    from .approval import approve as record_approval
    from .trust import approver_key

    bundle = Bundle.open(target)
    actor = session.guard("approve", report_resource(bundle.path))
    verified = verify_published(session, bundle.path, keyring=keyring, rollback_check=False)
    verified.raise_for_problems()
    ctx = session.access
    report_id = verified.predicate.report_id if verified.predicate else None
    published = next(
        (e for e in history(session).publishes if (e.details or {}).get("report_id") == report_id),
        None,
    )
    key, keyid = approver_key(session.home, ctx.log, actor, ctx.rbac.sha256)
    out = record_approval(
        bundle.path,
        session.home,
        key,
        keyid,
        approver=actor,
        log=ctx.log,
        rbac_sha256=ctx.rbac.sha256,
        note=note,
        published=published,
    )
    return Approved(bundle, actor.label, out)


def gate(
    session: Session,
    model_ref: str,
    policy_file: Path,
    reports: Path,
    *,
    max_age_days: int = 365,
) -> GateDecision:
    """May the registered model ``model_ref`` (name@version) be deployed under ``policy_file``?
    See :func:`audit.pipeline.approval.gate`; keys come from the home's trust configuration
    only, the report from the home's access log."""
    from ..errors import InputError
    from ..policy import load_policy
    from ..spec import REF_PATTERN
    from .anchoring import history
    from .approval import gate as decide

    m = REF_PATTERN.match(model_ref)
    if not m:
        raise InputError(
            f"--model {model_ref!r} is not name@version", hint="for example adult-gbm@1"
        )
    session.guard("gate", f"model:{model_ref}")
    registry = session.registry()
    artifact = registry.get("model", m["name"], m["version"])
    registry.path_of(artifact)  # the registered bytes must still match their digest
    policy = load_policy(policy_file)
    log = session.access.log
    logged = {
        str(e.details.get("approval_sha256")): list(e.details.get("groups", []))
        for e in log.entries_with_action(APPROVE_ACTION)
        if e.details and e.decision == "allow"
    }
    return decide(
        artifact.sha256,
        policy.sha256,
        reports,
        session.home,
        session.trust().keyring,
        history(session),
        session.access.rbac,
        logged,
        max_age=timedelta(days=max_age_days),
    )
