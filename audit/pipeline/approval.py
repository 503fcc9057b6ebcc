"""Approvals and the deployment gate.

``approve`` records that a named person (or service) signed off one verified report: a DSSE
envelope, signed with the local signing identity, stored under ``<AUDIT_HOME>/approvals/``
(bundles are never modified). ``gate`` answers the deployment question for one model digest:
is there an approved, verified, passing report for exactly this model under the current policy?
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from ..bundles import Bundle, BundleStore
from ..errors import InputError, IntegrityError
from ..signing import Keyring, SigningIdentity, load_keyring, verify_bundle
from ..signing.dsse import sign_envelope, verify_envelope
from ..signing.times import utc_text

APPROVAL_TYPE = "application/vnd.audit.approval+json"

Reason = Literal[
    "approved", "none", "failed", "not approved", "stale", "policy changed", "unverified"
]


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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def approve(
    bundle: Path,
    home: Path,
    identity: SigningIdentity,
    keyring: Keyring | Path,
    *,
    approver: str,
    note: str = "",
    now: datetime | None = None,
) -> Path:
    """Verify ``bundle`` and record a signed approval of it; return the approval file.

    Refuses (IntegrityError) a bundle that does not verify, and (InputError) one whose outcome
    is fail: a failed audit is waived in the policy, never approved around.
    """
    result = verify_bundle(bundle, keyring)
    result.raise_for_problems()
    opened = Bundle(bundle)
    report = opened.report
    if report.outcome != "pass":
        raise InputError(
            f"{bundle}: the audit failed; a failed report cannot be approved",
            hint="fix the model, or record a waiver in the policy and audit again",
        )
    model = report.subject.model
    record = Approval(
        report_id=report.report_id,
        version=report.version,
        name=report.subject.name,
        report_sha256=opened.report_sha256(),
        model_sha256=None if model is None else model.sha256,
        policy_sha256=report.subject.policy.sha256,
        approved_by=approver,
        approved_at=utc_text(now or datetime.now(UTC)),
        note=note,
    )
    payload = json.dumps(record.to_dict(), sort_keys=True).encode()
    envelope = sign_envelope(payload, APPROVAL_TYPE, [(identity.attestation_key, identity.keyid)])
    folder = home / "approvals"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{record.report_id}.json"
    if out.exists():
        raise InputError(f"report {record.report_id} is already approved ({out})")
    tmp = out.with_suffix(".partial")
    tmp.write_text(json.dumps(envelope, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out


def read_approval(path: Path, keyring: Keyring) -> Approval:
    """An approval whose signature verifies against ``keyring``; IntegrityError otherwise."""
    try:
        envelope = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"approval {path} is unreadable: {exc}") from None
    trusted = {k: r.public_key for k, r in keyring.keys.items() if r.status != "revoked"}
    opened, checks = verify_envelope(envelope, trusted)
    if opened.payload_type != APPROVAL_TYPE:
        raise IntegrityError(f"approval {path} has payload type {opened.payload_type!r}")
    if any(check.outcome == "valid" for check in checks):
        return Approval(**json.loads(opened.payload))
    raise IntegrityError(f"approval {path} is not signed by a key in the keyring")


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
    keyring_path: Path,
    *,
    max_age: timedelta = timedelta(days=365),
    now: datetime | None = None,
) -> GateDecision:
    """May the model with ``model_sha256`` be deployed under the policy with ``policy_sha256``?

    Looks at the newest report of that exact model digest under ``reports``: it must pass, be no
    older than ``max_age``, have been made under the current policy, verify against the
    keyring, and carry a valid approval.
    """
    keyring = load_keyring(keyring_path)
    now = now or datetime.now(UTC)
    candidates: list[tuple[str, Any, Bundle]] = []
    store = BundleStore(reports)
    for name in store.systems():
        for version in store.versions(name):
            candidate = Bundle(reports / name / f"v{version}")
            try:
                found = candidate.report
            except InputError:
                continue
            model = found.subject.model
            if model is not None and model.sha256 == model_sha256:
                candidates.append((found.created_at, found.version, candidate))
    if not candidates:
        return GateDecision(
            False, "none", f"no audit report for model sha256:{model_sha256[:12]} under {reports}"
        )
    _, _, latest = max(candidates, key=lambda c: (c[0], c[1]))
    report = latest.report
    bundle = latest.path
    where = f"{bundle} (v{report.version})"
    if report.outcome != "pass":
        return GateDecision(
            False, "failed", f"the latest audit of this model failed: {where}", bundle
        )
    if report.subject.policy.sha256 != policy_sha256:
        return GateDecision(
            False,
            "policy changed",
            f"{where} was judged under policy sha256:{report.subject.policy.sha256[:12]}, "
            f"the current policy is sha256:{policy_sha256[:12]}: audit again",
            bundle,
        )
    created = datetime.fromisoformat(report.created_at.replace("Z", "+00:00"))
    if now - created > max_age:
        return GateDecision(
            False,
            "stale",
            f"{where} is from {report.created_at}, older than {max_age.days} days",
            bundle,
        )
    verification = verify_bundle(bundle, keyring)
    if not verification.ok:
        return GateDecision(
            False,
            "unverified",
            f"{where} does not verify: " + "; ".join(verification.problems),
            bundle,
        )
    approval_file = home / "approvals" / f"{report.report_id}.json"
    if not approval_file.is_file():
        return GateDecision(
            False, "not approved", f"{where} passed but is not approved (audit approve)", bundle
        )
    approval = read_approval(approval_file, keyring)
    if approval.report_sha256 != latest.report_sha256() or approval.model_sha256 != model_sha256:
        return GateDecision(
            False,
            "not approved",
            f"the approval of {report.report_id} is for other content",
            bundle,
        )
    return GateDecision(
        True,
        "approved",
        f"{where} passed, verifies, and was approved by {approval.approved_by} on {approval.approved_at}",
        bundle,
    )
