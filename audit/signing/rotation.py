"""Key rotation: a new attestation key and PDF signer certificate, announced by the old key.

Rotation replaces the attestation key and the PDF signer certificate (the CA stays the trust
root). The old key signs a statement announcing the new one, so someone who trusts only the old
keyring can accept the new key (``accept_rotation``); the old key stays in the exported keyring
as ``retired`` with ``not_after`` set to the rotation time, so bundles signed before the
rotation still verify and nothing it signs afterwards does. Statements are stored in the
identity folder as ``rotations/<n>-<keyid>.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.digest import canonical_json
from audit.errors import InputError, IntegrityError

from .certs import cert_fingerprint, make_signer
from .dsse import keyid_of, open_envelope, sign_envelope
from .keys import (
    KeyRecord,
    Keyring,
    SigningIdentity,
    load_identity,
    read_private_key,
    record_from_json,
    save_identity,
    write_public,
)
from .times import parse_utc, utc_text

__all__ = ["ROTATION_PAYLOAD_TYPE", "Rotation", "accept_rotation", "rotate_identity"]

ROTATION_PAYLOAD_TYPE = "application/vnd.audit.key-rotation+json"
_ROTATION_TYPE = "https://audit.dev/key-rotation/v1"


@dataclass(frozen=True)
class Rotation:
    """Result of ``rotate_identity``: the new identity and the statement announcing it."""

    identity: SigningIdentity
    old_keyid: str
    new_keyid: str
    statement: Path


def rotate_identity(
    path: Path,
    *,
    passphrase: str | None = None,
    valid_days: int = 365,
    now: datetime | None = None,
) -> Rotation:
    """Replace the attestation key and PDF signer certificate, announced by the old key.

    The statement (a DSSE envelope, payload type ``ROTATION_PAYLOAD_TYPE``) says: key
    ``old_keyid`` hands over to ``new_keyid`` (public key, window) at ``rotated_at``; it is signed
    by the old key and countersigned by the new one (proof of possession). The old key is kept in
    ``identity.json`` as ``retired`` with ``not_after = rotated_at``; its private key file is
    replaced, so it can sign nothing more.
    """
    old = load_identity(path, passphrase)
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    not_after = moment + timedelta(days=valid_days)
    ca_key = read_private_key(old.folder / "ca.key.pem", passphrase)
    new_att = Ed25519PrivateKey.generate()
    new_record = KeyRecord(keyid_of(new_att.public_key()), new_att.public_key(), moment, not_after)
    signer_key, signer_cert = make_signer(old.common_name, ca_key, old.ca_cert, moment, not_after)
    retired_old = KeyRecord(
        old.attestation.keyid,
        old.attestation.public_key,
        old.attestation.not_before,
        min(moment, old.attestation.not_after),
        "retired",
    )
    payload = canonical_json(
        {
            "_type": _ROTATION_TYPE,
            "old_keyid": old.keyid,
            "new_key": new_record.to_json(),
            "new_pdf_signer": cert_fingerprint(signer_cert),
            "rotated_at": utc_text(moment),
        }
    )
    envelope = sign_envelope(
        payload,
        ROTATION_PAYLOAD_TYPE,
        [(old.attestation_key, old.keyid), (new_att, new_record.keyid)],
    )
    new = SigningIdentity(
        folder=old.folder,
        common_name=old.common_name,
        attestation_key=new_att,
        attestation=new_record,
        signer_key=signer_key,
        signer_cert=signer_cert,
        ca_cert=old.ca_cert,
        retired=(retired_old, *old.retired),
        retired_signers=(cert_fingerprint(old.signer_cert), *old.retired_signers),
    )
    rot_dir = old.folder / "rotations"
    rot_dir.mkdir(exist_ok=True)
    seq = len(list(rot_dir.glob("*.json"))) + 1
    statement = rot_dir / f"{seq:04d}-{new_record.keyid[:16]}.json"
    write_public(statement, json.dumps(envelope, indent=2).encode() + b"\n")
    save_identity(new, passphrase, None)
    return Rotation(identity=new, old_keyid=old.keyid, new_keyid=new.keyid, statement=statement)


def accept_rotation(keyring: Keyring, statement: Mapping[str, Any]) -> Keyring:
    """A keyring that also trusts the key a rotation statement announces.

    The statement must be signed by a key ``keyring`` already trusts at ``rotated_at`` and
    countersigned by the new key; otherwise ``IntegrityError``. The old key's window is cut at
    ``rotated_at`` and it is marked retired. The new key is never trusted because the statement
    says so alone: only because a trusted key signed it.
    """
    envelope = open_envelope(statement)
    if envelope.payload_type != ROTATION_PAYLOAD_TYPE:
        raise IntegrityError(
            f"not a key-rotation statement (payload type {envelope.payload_type!r})"
        )
    try:
        body = json.loads(envelope.payload)
        old_id = body["old_keyid"]
        new_record = record_from_json(body["new_key"], "rotation statement: new_key")
        rotated_at = parse_utc(body["rotated_at"])
        new_signer = str(body["new_pdf_signer"]).lower()
    except (ValueError, KeyError, TypeError, InputError) as exc:
        raise IntegrityError(f"malformed key-rotation statement: {exc}") from None
    old = keyring.keys.get(old_id)
    if old is None or not old.accepts(rotated_at):
        raise IntegrityError(
            f"the rotation is announced by key {old_id[:16]}…, which this keyring does not trust "
            f"at {utc_text(rotated_at)}"
        )
    signed_by = envelope.signed_by(
        {old.keyid: old.public_key, new_record.keyid: new_record.public_key}
    )
    if old.keyid not in signed_by or new_record.keyid not in signed_by:
        raise IntegrityError("the rotation statement is not signed by both the old and new key")
    keys = dict(keyring.keys)
    keys[old.keyid] = KeyRecord(
        old.keyid, old.public_key, old.not_before, min(old.not_after, rotated_at), "retired"
    )
    keys[new_record.keyid] = new_record
    return Keyring(
        keys=keys,
        pdf_roots=keyring.pdf_roots,
        pdf_signers=keyring.pdf_signers | {new_signer},
        source=keyring.source,
    )
