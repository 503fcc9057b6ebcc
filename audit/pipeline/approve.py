"""``audit approve`` as a library call (the signed record itself: :mod:`audit.pipeline.approval`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..bundles import Bundle
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
