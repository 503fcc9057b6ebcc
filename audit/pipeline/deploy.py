"""``audit approve`` and ``audit gate`` as library calls: sign off one verified report, and the
deployment decision for one registered model (the signed records: :mod:`audit.pipeline.approval`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ..bundles import Bundle
from .approval import GateDecision
from .session import Session, report_resource


@dataclass(frozen=True)
class Approved:
    bundle: Bundle
    approver: str
    record: Path  # the signed approval file


def approve(
    session: Session,
    target: Path,
    *,
    keyring: Path | None = None,
    note: str = "",
    keys: Path | None = None,
    passphrase_file: Path | None = None,
) -> Approved:
    """Approve the verified, passing bundle at ``target`` as the session's actor (needs
    report:approve); verified with ``keyring``, else the local identity's own keyring."""
    from ..signing import Keyring, export_keyring, load_identity
    from .approval import approve as record_approval

    bundle = Bundle.open(target)
    actor = session.guard("approve", report_resource(bundle.path))
    ident = load_identity(session.keys_dir(keys), session.passphrase(passphrase_file))
    ring: Keyring | Path = keyring or export_keyring(ident, session.keys_dir() / "keyring.json")
    out = record_approval(bundle.path, session.home, ident, ring, approver=actor.label, note=note)
    return Approved(bundle, actor.label, out)


def gate(
    session: Session,
    model_ref: str,
    policy_file: Path,
    reports: Path,
    *,
    keyring: Path | None = None,
    max_age_days: int = 365,
) -> GateDecision:
    """May the registered model ``model_ref`` (name@version) be deployed under ``policy_file``?
    See :func:`audit.pipeline.approval.gate`; ``keyring`` defaults to the local identity's."""
    from ..errors import InputError
    from ..policy import load_policy
    from ..signing import export_keyring
    from ..spec import REF_PATTERN
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
    if keyring is None:
        keyring = session.keys_dir() / "keyring.json"
        export_keyring(session.keys_dir(), keyring)
    return decide(
        artifact.sha256,
        policy.sha256,
        reports,
        session.home,
        keyring,
        max_age=timedelta(days=max_age_days),
    )
