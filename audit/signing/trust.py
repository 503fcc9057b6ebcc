"""The trust configuration: which key may sign what, signed by the administrator's key.

``<home>/trust.json`` is a DSSE envelope (payload type ``application/vnd.audit.trust+json``)
over a keyring document (see :func:`audit.signing.keys.keyring_document`) plus a serial
number, signed by the administrator's Ed25519 key. Every key in it has a *purpose*:

==========  ==================================================================
bundle      a runner's identity: attestation.json and (through its CA) report.pdf
approval    one approver's sign-offs; ``principal`` names the approver
token       access tokens (``audit token issue``)
log         access-log checkpoints and the inclusion proofs inside bundles
admin       this document
==========  ==================================================================

Verifiers, the gate and token checks take their keys from here and nowhere else: not from an
environment variable, a flag, or a file beside a bundle. The administrator's key is pinned by
the access log (the first ``keys:trust`` entry records it, each later one the digest of the
document it wrote), which :mod:`audit.pipeline.trust` checks on every load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.digest import canonical_json
from audit.errors import IntegrityError

from .dsse import keyid_of, sign_envelope, verify_envelope
from .keys import Keyring, keyring_document, keyring_from_document

__all__ = ["TRUST_FILE", "TRUST_TYPE", "TrustDocument", "read_trust", "sign_trust"]

TRUST_FILE = "trust.json"
TRUST_TYPE = "application/vnd.audit.trust+json"


@dataclass(frozen=True)
class TrustDocument:
    """A verified trust configuration: its serial number and the keyring it declares."""

    serial: int
    keyring: Keyring
    admin_keyid: str


def sign_trust(ring: Keyring, serial: int, admin_key: Ed25519PrivateKey) -> bytes:
    """The bytes of trust.json declaring ``ring``, signed by ``admin_key``."""
    admin_id = keyid_of(admin_key.public_key())
    if ring.keys.get(admin_id) is None or ring.keys[admin_id].purpose != "admin":
        raise IntegrityError("the trust configuration must list its own admin key")
    payload = canonical_json({"serial": serial, "admin": admin_id, **keyring_document(ring)})
    envelope = sign_envelope(payload, TRUST_TYPE, [(admin_key, admin_id)])
    return (json.dumps(envelope, indent=2) + "\n").encode()


def read_trust(raw: bytes, admin: Ed25519PublicKey, where: str) -> TrustDocument:
    """Parse trust.json and check it is signed by the pinned ``admin`` key (IntegrityError)."""
    admin_id = keyid_of(admin)
    try:
        envelope = json.loads(raw)
    except (ValueError, RecursionError):
        raise IntegrityError(f"{where}: not valid JSON") from None
    opened, checks = verify_envelope(envelope, {admin_id: admin})
    if opened.payload_type != TRUST_TYPE:
        raise IntegrityError(f"{where}: payload type {opened.payload_type!r} is not {TRUST_TYPE}")
    if not any(c.outcome == "valid" for c in checks):
        raise IntegrityError(
            f"{where} is not signed by the administrator's key {admin_id[:16]}… that the access "
            "log pins (edited, or signed by someone else)",
            hint="restore trust.json from backup; run `audit log verify`",
        )
    try:
        data: dict[str, Any] = json.loads(opened.payload)
        serial = int(data.pop("serial"))
        declared = str(data.pop("admin"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(f"{where}: malformed trust configuration ({exc})") from None
    ring = keyring_from_document(data, where)
    if declared != admin_id or ring.keys.get(admin_id) is None:
        raise IntegrityError(f"{where}: the document does not name its signer as admin")
    return TrustDocument(serial, ring, admin_id)
