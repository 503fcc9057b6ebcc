"""Approvals and the deployment gate.

``approve`` records that a named person (or service) signed off one verified report: a DSSE
envelope signed with *that approver's own key* (purpose ``approval`` in the trust configuration,
bound to them), stored under ``<AUDIT_HOME>/approvals/`` and anchored in the access log
(``report:approve`` with the envelope's sha256); bundles are never modified. ``gate`` answers the
deployment question for one model digest from the access log's record of publications: is the
latest report of exactly this model verified, passing, made under the current policy, and
approved by someone the RBAC policy allows to approve?
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .. import jsonio
from ..access import AccessLog, Actor, Entry, Rbac
from ..access.identity import LABEL_PREFIX
from ..bundles import Bundle
from ..errors import AccessDenied, InputError, IntegrityError
from ..names import is_name
from ..safefs import create_file, read_file
from ..signing import Keyring
from ..signing.dsse import sign_envelope, verify_envelope
from ..signing.times import utc_text
from ..signing.verify import LogHistory, verify_bundle

APPROVAL_TYPE = "application/vnd.audit.approval+json"
APPROVE_ACTION = "report:approve"

Reason = Literal[
    "approved", "none", "failed", "not approved", "stale", "policy changed", "unverified"
]


def publisher(entry: Entry) -> str:
    """Who published a ``report:publish`` entry, as an approver is named (``service:x``)."""
    return LABEL_PREFIX.get(entry.actor_source, "") + entry.actor


def check_separation(approver: str, published: Entry, where: str) -> None:
    """Nobody approves an audit they ran (AccessDenied, exit 4): separation of duties holds
    even for someone who holds both roles, or switched roles in between."""
    if approver == publisher(published):
        raise AccessDenied(
            f"{approver} ran the audit {where} (access-log entry {published.seq}) and may not "
            "also approve it (separation of duties)",
            hint="ask someone else bound to the approver role to review and approve it",
        )


@dataclass(frozen=True)
class Approval:
    report_id: str
    version: int
    name: str
    report_sha256: str
    model_sha256: str | None
    policy_sha256: str
    approved_by: str
    approved_at: str
    note: str
    groups: tuple[str, ...] = field(default=())  # the approver's OS groups when they approved

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "groups": list(self.groups)}


def approve(
    bundle: Path,
    home: Path,
    key: Ed25519PrivateKey,
    keyid: str,
    *,
    approver: Actor,
    log: AccessLog,
    rbac_sha256: str,
    note: str = "",
    now: datetime | None = None,
    published: Entry | None = None,
) -> Path:
    """Record ``approver``'s signed approval of the (verified) ``bundle``; the approval file.

    Refuses (InputError) a bundle whose outcome is fail: a failed audit is waived in the
    policy, never approved around; and (AccessDenied) an approver who ran the audit
    (``published``: its ``report:publish`` entry).
    """
    opened = Bundle(bundle)
    report = opened.report
    if report.outcome != "pass":
        raise InputError(
            f"{bundle}: the audit failed; a failed report cannot be approved",
            hint="fix the model, or record a waiver in the policy and audit again",
        )
    if not is_name(report.report_id):
        # the id names the approval file: a crafted bundle must not choose where it is written
        raise IntegrityError(
            f"{bundle}: report id {report.report_id!r} is not a plain name; refusing to approve",
            hint="approve only bundles written by audit run",
        )
    if published is not None:
        check_separation(approver.label, published, str(bundle))
    model = report.subject.model
    record = Approval(
        report_id=report.report_id,
        version=report.version,
        name=report.subject.name,
        report_sha256=opened.report_sha256(),
        model_sha256=None if model is None else model.sha256,
        policy_sha256=report.subject.policy.sha256,
        approved_by=approver.label,
        approved_at=utc_text(now or datetime.now(UTC)),
        note=note,
        groups=tuple(approver.groups),
    )
    payload = json.dumps(record.to_dict(), sort_keys=True).encode()
    envelope = sign_envelope(payload, APPROVAL_TYPE, [(key, keyid)])
    folder = home / "approvals"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{record.report_id}.json"
    raw = (json.dumps(envelope, indent=2) + "\n").encode()
    create_file(out, raw)  # InputError if it exists (already approved), never through a link
    log.append(
        actor=approver,
        action=APPROVE_ACTION,
        resource=f"report:{record.name}/v{record.version}",
        decision="allow",
        reason="approval recorded",
        rbac_sha256=rbac_sha256,
        details={
            "report_id": record.report_id,
            "approval_sha256": hashlib.sha256(raw).hexdigest(),
            "keyid": keyid,
            "groups": list(approver.groups),
        },
    )
    return out


def read_approval(
    path: Path, keyring: Keyring, rbac: Rbac, logged: Mapping[str, Sequence[str]]
) -> Approval:
    """An approval signed by an *approval* key bound to its approver, recorded in the access
    log (``logged``: approval sha256 -> the approver's OS groups, as the tool logged them), by
    someone the RBAC policy lets approve that report (judged with those logged groups, not the
    ones the approval claims); IntegrityError otherwise."""
    try:
        raw = read_file(path, limit=1 << 20)
        envelope = jsonio.loads(raw, path, limit=16)
    except InputError as exc:
        raise IntegrityError(f"approval {path} is unreadable: {exc}") from None
    opened, checks = verify_envelope(envelope, keyring.public("approval"))
    if opened.payload_type != APPROVAL_TYPE:
        raise IntegrityError(f"approval {path} has payload type {opened.payload_type!r}")
    valid = [c.keyid for c in checks if c.outcome == "valid"]
    if not valid:
        raise IntegrityError(
            f"approval {path} is not signed by an approver's key of the trust configuration "
            "(signed by a runner's or an unknown key: forged)",
            hint="approvals are made with `audit approve` by someone holding report:approve",
        )
    try:
        data = json.loads(opened.payload)
        data["groups"] = tuple(data.get("groups", ()))
        approval = Approval(**data)
    except (ValueError, TypeError) as exc:
        raise IntegrityError(f"approval {path} is malformed: {exc}") from None
    holder = keyring.keys[valid[0]]
    if holder.principal != approval.approved_by:
        raise IntegrityError(
            f"approval {path} says it is by {approval.approved_by!r} but is signed with the key "
            f"of {holder.principal!r}"
        )
    digest = hashlib.sha256(raw).hexdigest()
    if digest not in logged:
        raise IntegrityError(f"approval {path} is not recorded in the access log")
    source, user = "os", approval.approved_by
    for kind, prefix in LABEL_PREFIX.items():
        if user.startswith(prefix):
            source, user = kind, user.removeprefix(prefix)
    who = Actor(
        user=user,
        uid=-1,
        source=source,  # type: ignore[arg-type]
        groups=tuple(logged[digest]) if source == "os" else (),
    )
    decision = rbac.decide(who, APPROVE_ACTION, f"report:{approval.name}/v{approval.version}")
    if not decision.allowed:
        raise IntegrityError(
            f"approval {path} is by {approval.approved_by!r}, whom {rbac.source} does not allow "
            f"to approve: {decision.reason}"
        )
    return approval


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    reason: Reason
    message: str
    bundle: Path | None = None


def gate(
    model_sha256: str,
    policy_sha256: str,
    reports: Path,
    home: Path,
    keyring: Keyring,
    record: LogHistory,
    rbac: Rbac,
    approvals_logged: Mapping[str, Sequence[str]],
    *,
    max_age: timedelta = timedelta(days=365),
    now: datetime | None = None,
) -> GateDecision:
    """May the model with ``model_sha256`` be deployed under the policy with ``policy_sha256``?

    The reports are the access log's publications of that exact model digest (``record``),
    never a folder scan. Under the current policy, the latest audit fixes the dataset, so the
    evidence is one triple (model, policy and dataset digests). The gate opens on the newest
    report of that triple that passed, verifies, is no older than ``max_age`` and carries a
    valid approval, provided no report of the triple failed after it: a later passing re-run
    (a CI job's ``audit run``) does not close the gate, a later failure does. A bundle missing,
    unreadable or altered fails closed (IntegrityError).
    """
    now = now or datetime.now(UTC)
    mine = [e for e in record.publishes if (e.details or {}).get("model_sha256") == model_sha256]
    if not mine:
        return GateDecision(
            False, "none", f"the access log records no audit of model sha256:{model_sha256[:12]}"
        )
    under = [e for e in mine if (e.details or {}).get("policy_sha256") == policy_sha256]
    if not under:
        latest = mine[-1].details or {}
        where = f"{reports / str(latest.get('name')) / ('v' + str(latest.get('version')))}"
        return GateDecision(
            False,
            "policy changed",
            f"{where} (v{latest.get('version')}) was judged under policy sha256:"
            f"{str(latest.get('policy_sha256'))[:12]}, the current policy is sha256:"
            f"{policy_sha256[:12]}: audit again",
        )
    dataset = (under[-1].details or {}).get("dataset_sha256")
    triple = [e for e in under if (e.details or {}).get("dataset_sha256") == dataset]
    failed = [k for k, e in enumerate(triple) if (e.details or {}).get("outcome") != "pass"]
    after = triple[failed[-1] + 1 :] if failed else triple
    if not after:
        last = triple[-1].details or {}
        folder = reports / str(last.get("name")) / f"v{last.get('version')}"
        return GateDecision(
            False,
            "failed",
            f"the latest audit of this model failed: {folder} (v{last.get('version')})",
            folder,
        )
    closed: GateDecision | None = None
    for entry in reversed(after):  # the newest passing report first
        decision = _judge_one(
            entry,
            model_sha256,
            reports,
            home,
            keyring,
            record,
            rbac,
            approvals_logged,
            max_age,
            now,
        )
        if decision.allowed:
            return decision
        closed = closed or decision  # the newest report's reason is the one to tell
    assert closed is not None
    return closed


def _judge_one(
    entry: Entry,
    model_sha256: str,
    reports: Path,
    home: Path,
    keyring: Keyring,
    record: LogHistory,
    rbac: Rbac,
    approvals_logged: Mapping[str, Sequence[str]],
    max_age: timedelta,
    now: datetime,
) -> GateDecision:
    """One passing publication of the triple: open if its bundle verifies, is fresh and is
    validly approved (by someone other than who ran it)."""
    details = entry.details or {}
    name, version = str(details.get("name")), details.get("version")
    bundle = reports / name / f"v{version}"
    where = f"{bundle} (v{version})"
    if not (bundle / "report.json").is_file():
        raise IntegrityError(
            f"gate closed: the access log records {name} v{version} (entry {entry.seq}) as an "
            f"audit of this model, but {bundle} is missing or unreadable",
            hint="restore the bundle, or give the reports folder it was written to (--output)",
        )
    verification = verify_bundle(bundle, keyring, history=record, rollback_check=False)
    if not verification.ok:
        raise IntegrityError(
            f"gate closed: {where} does not verify: " + "; ".join(verification.problems)
        )
    report = Bundle(bundle).report
    if report.outcome != "pass":  # the log said pass: the verified report must agree
        raise IntegrityError(f"gate closed: {where} failed, but the access log records a pass")
    created = datetime.fromisoformat(report.created_at.replace("Z", "+00:00"))
    if now - created > max_age:
        return GateDecision(
            False,
            "stale",
            f"{where} is from {report.created_at}, older than {max_age.days} days",
            bundle,
        )
    if not is_name(report.report_id):
        raise IntegrityError(f"{where}: report id {report.report_id!r} is not a plain name")
    approval_file = home / "approvals" / f"{report.report_id}.json"
    if not approval_file.exists() and not approval_file.is_symlink():
        return GateDecision(
            False, "not approved", f"{where} passed but is not approved (audit approve)", bundle
        )
    approval = read_approval(approval_file, keyring, rbac, approvals_logged)
    if approval.approved_by == publisher(entry):
        raise IntegrityError(
            f"gate closed: {where} was approved by {approval.approved_by}, who ran the audit "
            "(separation of duties)"
        )
    if (
        approval.report_sha256 != Bundle(bundle).report_sha256()
        or approval.model_sha256 != model_sha256
    ):
        raise IntegrityError(
            f"gate closed: the approval of {report.report_id} is for other content"
        )
    return GateDecision(
        True,
        "approved",
        f"{where} passed, verifies, and was approved by {approval.approved_by} on "
        f"{approval.approved_at}",
        bundle,
    )
