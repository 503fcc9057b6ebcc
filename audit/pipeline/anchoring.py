"""Versions anchored in the access log: every published bundle is a ``report:publish`` entry.

Publishing (:func:`publish_steps`) takes the version number from the folder *and* the log (a
deleted or moved version never frees its number), and after the bundle is signed appends the
entry (system, version, report id, digests of report.json and attestation.json, previous,
outcome, model and policy digests, signer), signs a checkpoint with the log key and writes the
inclusion proof into the bundle as ``log-proof.json`` — all under the log's write lock, refusing
a version the log already holds. ``verify`` and ``gate`` read the log's record back through
:func:`history`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..access import AccessLog, Actor, Entry, LogProof
from ..bundles.bundle import PROOF_FILE, REPORT_FILE
from ..contract import Report
from ..digest import sha256_file
from ..errors import IntegrityError
from ..safefs import create_file
from ..signing import ATTESTATION_FILE, SigningIdentity
from ..signing.verify import PUBLISH_ACTION, LogHistory, VerificationResult
from .session import Session

__all__ = [
    "PUBLISH_ACTION",
    "PublishSteps",
    "anchor_bundle",
    "history",
    "history_from_export",
    "publish_steps",
    "verify_published",
]


def history(session: Session) -> LogHistory:
    """The home's access log's record of every publication."""
    log = session.access.log
    return LogHistory(
        log.log_id,
        tuple(log.entries_with_action(PUBLISH_ACTION)),
        source=f"the access log {log.display if session.database else session.display(log.path)}",
    )


def _version(entry: Entry) -> int:
    try:
        return int((entry.details or {}).get("version", 0))
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class PublishSteps:
    """``floor(name)``: the highest version the log holds of ``name``; ``previous(name)``: the
    ``sha256:`` digest of its report.json as logged (None before the first); ``anchor``: the
    step that logs a signed bundle and writes its proof."""

    floor: Callable[[str], int]
    previous: Callable[[str], str | None]
    anchor: Callable[[Report, Path], None]


def publish_steps(session: Session, actor: Actor, identity: SigningIdentity) -> PublishSteps:
    """The steps that anchor a publication by ``actor``, signed by ``identity``, in the log."""
    from .trust import log_key

    ctx = session.access
    trust = session.trust()
    held = trust.keyring.keys.get(identity.keyid)
    if held is None or held.purpose != "bundle" or held.status != "active":
        raise IntegrityError(
            f"the signing key {identity.keyid[:16]}… of {session.display(identity.folder)} is not "
            "an active bundle key of the trust configuration; nothing it signs would verify",
            hint="an administrator enrolls a new identity with `audit keys init --keys DIR`",
        )

    def logged(name: str) -> list[Entry]:
        return [e for e in ctx.log.entries_with_action(PUBLISH_ACTION) if _name(e) == name]

    def floor(name: str) -> int:
        return max((_version(e) for e in logged(name)), default=0)

    def previous(name: str) -> str | None:
        same = logged(name)
        if not same:
            return None
        last = max(same, key=_version)
        return "sha256:" + str((last.details or {}).get("report_sha256"))

    def anchor(report: Report, folder: Path) -> None:
        key = log_key(session.home)
        if key is None:  # pragma: no cover - the trust configuration creates it
            raise IntegrityError("the audit home has no log key")
        anchor_bundle(folder, report, ctx.log, key, actor, ctx.rbac.sha256, identity.keyid)

    return PublishSteps(floor, previous, anchor)


def anchor_bundle(
    folder: Path,
    report: Report,
    log: AccessLog,
    key: Ed25519PrivateKey,
    actor: Actor,
    rbac_sha256: str,
    signer_keyid: str,
) -> LogProof:
    """Log the signed bundle in ``folder`` as a ``report:publish`` entry, sign a checkpoint with
    the log ``key``, and write the inclusion proof to ``log-proof.json`` (create-only).
    Refuses (IntegrityError) a version of the system the log already holds, or a lower one."""
    name, version = report.subject.name, report.version
    model = report.subject.model
    details: dict[str, Any] = {
        "name": name,
        "version": version,
        "report_id": report.report_id,
        "previous": report.previous,
        "outcome": report.outcome,
        "report_sha256": sha256_file(folder / REPORT_FILE),
        "attestation_sha256": sha256_file(folder / ATTESTATION_FILE),
        "model_sha256": None if model is None else model.sha256,
        "policy_sha256": report.subject.policy.sha256,
        "dataset_sha256": report.subject.dataset.sha256,
        "signer_keyid": signer_keyid,
    }

    def refuse(published: Sequence[Entry]) -> str | None:
        same = [e for e in published if _name(e) == name]
        for e in same:
            if _version(e) >= version:
                return (
                    f"version {_version(e)} of {name} is already in the access log (entry "
                    f"{e.seq}); refusing to publish version {version} beside it"
                )
        if same:
            last = max(same, key=_version)
            logged = "sha256:" + str((last.details or {}).get("report_sha256"))
            if report.previous != logged:
                return (
                    f"{name} v{_version(last)} was published while this audit was being "
                    f"written (its report pins another predecessor); run the audit again"
                )
        elif report.previous is not None:
            return f"the report pins a predecessor the access log never recorded for {name}"
        return None

    proof = log.anchor(
        actor=actor,
        action=PUBLISH_ACTION,
        resource=f"report:{name}/v{version}",
        reason="bundle signed and published",
        rbac_sha256=rbac_sha256,
        details=details,
        signing_key=key,
        refuse=refuse,
    )
    create_file(folder / PROOF_FILE, json.dumps(proof.to_dict(), indent=2) + "\n")
    return proof


def _name(entry: Entry) -> str | None:
    value = (entry.details or {}).get("name")
    return value if isinstance(value, str) else None


def history_from_export(path: Path, log_keys: Any) -> LogHistory:
    """The publications in a log export (``audit log export``), whose chain and checkpoint
    must verify against ``log_keys`` first (IntegrityError otherwise)."""
    from ..access import verify_export
    from ..safefs import read_file

    result = verify_export(path, log_keys)
    if not result.ok:
        raise IntegrityError(
            f"{path}: the log export does not verify: " + "; ".join(result.problems[:3]),
            hint="ask for a fresh export (audit log export)",
        )
    entries, log_id = [], ""
    for line in read_file(path).splitlines():
        if line.startswith(b'{"checkpoint":'):
            log_id = str(json.loads(line)["checkpoint"].get("log_id", ""))
        elif line.strip():
            entries.append(Entry.from_body(line))
    if not log_id:
        raise IntegrityError(f"{path}: the log export carries no signed checkpoint")
    publishes = tuple(e for e in entries if e.action == PUBLISH_ACTION)
    return LogHistory(log_id, publishes, source=f"the log export {path}")


def verify_published(
    session: Session,
    folder: Path,
    *,
    keyring: Path | None = None,
    log_export: Path | None = None,
    rollback_check: bool = True,
) -> VerificationResult:
    """``audit verify``: the bundle against the home's trust configuration (or the verifier's
    own ``keyring``) and the log's record (the home's log, or ``log_export``)."""
    from ..signing import latest_version_beside, load_keyring, verify_bundle

    ring = load_keyring(keyring) if keyring is not None else session.trust().keyring
    if log_export is not None:
        record: LogHistory | None = history_from_export(log_export, ring.public("log"))
    else:
        record = history(session)
        if not _same_log(folder, record.log_id):
            record = None  # a bundle of another home: judged by its proof alone
    latest = latest_version_beside(folder) if record is None else None
    return verify_bundle(
        folder, ring, latest_version=latest, history=record, rollback_check=rollback_check
    )


def _same_log(folder: Path, log_id: str) -> bool:
    from ..access import LogProof
    from ..errors import InputError
    from ..safefs import read_file

    try:
        proof = LogProof.parse(read_file(folder / PROOF_FILE, limit=1 << 20), PROOF_FILE)
    except InputError:
        return True  # no readable proof: verify says so; judge it against this log
    return proof.checkpoint.log_id == log_id
