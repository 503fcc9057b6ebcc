"""DSSE v1 envelopes signed with Ed25519: the one place that signs and verifies them.

Envelope (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md)::

    {"payload": base64(body), "payloadType": "...",
     "signatures": [{"keyid": sha256-hex of the raw Ed25519 public key, "sig": base64(sig)}]}

Each signature is Ed25519 over the pre-authentication encoding of type and body::

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

(LEN = decimal byte length), so the payload type is signed too and cannot be swapped. Bundle
attestations, approvals and key-rotation statements are all such envelopes; they differ only in
payload type and in which keys they trust. This module imports nothing else from audit.signing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.digest import key_id, raw_public_key
from audit.errors import IntegrityError

__all__ = [
    "Envelope",
    "SignatureCheck",
    "b64decode",
    "b64encode",
    "keyid_of",
    "open_envelope",
    "pae",
    "raw_public_key",
    "sign_envelope",
    "verify_envelope",
]


def b64encode(data: bytes) -> str:
    """Standard base64 (with padding) as ASCII text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: Any) -> bytes:
    """Strict standard base64: raises ``ValueError`` on any character outside the alphabet."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"not valid base64: {exc}") from None


def keyid_of(public_key: Ed25519PublicKey) -> str:
    """Key id: sha256 hex of the raw 32-byte Ed25519 public key (:func:`audit.digest.key_id`)."""
    return key_id(public_key)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of ``payload_type`` and ``payload``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign_envelope(
    payload: bytes, payload_type: str, signers: Sequence[tuple[Ed25519PrivateKey, str]]
) -> dict[str, Any]:
    """A DSSE envelope over ``payload``, one signature per ``(key, keyid)``."""
    message = pae(payload_type, payload)
    return {
        "payload": b64encode(payload),
        "payloadType": payload_type,
        "signatures": [
            {"keyid": keyid, "sig": b64encode(key.sign(message))} for key, keyid in signers
        ],
    }


@dataclass(frozen=True)
class SignatureCheck:
    """One signature of an envelope: ``valid``, by a key not ``trusted``, or ``invalid``."""

    keyid: str
    outcome: Literal["valid", "untrusted", "invalid"]


@dataclass(frozen=True)
class Envelope:
    """A parsed (not yet verified) DSSE envelope. Nothing in ``payload`` is authentic until
    :meth:`verify` finds a valid signature by a key the caller trusts."""

    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]  # (keyid, signature) in envelope order

    def verify(self, trusted: Mapping[str, Ed25519PublicKey]) -> tuple[SignatureCheck, ...]:
        """Check every signature over PAE(type, payload) against ``trusted`` (key id -> key).

        The key id is only a lookup hint: a signature counts as valid only if it verifies with
        the trusted key of that id. The payload type is signed but not compared here: the caller
        checks it is the one it expects.
        """
        message = pae(self.payload_type, self.payload)
        checks = []
        for keyid, sig in self.signatures:
            key = trusted.get(keyid)
            if key is None:
                checks.append(SignatureCheck(keyid, "untrusted"))
                continue
            try:
                key.verify(sig, message)
            except InvalidSignature:
                checks.append(SignatureCheck(keyid, "invalid"))
                continue
            checks.append(SignatureCheck(keyid, "valid"))
        return tuple(checks)

    def signed_by(self, trusted: Mapping[str, Ed25519PublicKey]) -> list[str]:
        """Key ids of ``trusted`` whose signature verifies, in envelope order."""
        return [c.keyid for c in self.verify(trusted) if c.outcome == "valid"]


def open_envelope(envelope: Any) -> Envelope:
    """Parse (not verify) a DSSE envelope; raises ``IntegrityError`` naming the malformed part."""
    if not isinstance(envelope, Mapping):
        raise IntegrityError("the envelope is not a JSON object")
    extra = set(envelope) - {"payload", "payloadType", "signatures"}
    if extra:
        raise IntegrityError(f"the envelope has unexpected fields {sorted(extra)}")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise IntegrityError("the envelope has no payloadType")
    try:
        payload = b64decode(envelope.get("payload", ""))
    except ValueError:
        raise IntegrityError("the envelope payload is not valid base64") from None
    raw_sigs = envelope.get("signatures")
    if not isinstance(raw_sigs, list) or not raw_sigs:
        raise IntegrityError("the envelope carries no signatures")
    sigs = []
    for i, entry in enumerate(raw_sigs):
        try:
            sigs.append((str(entry["keyid"]), b64decode(entry["sig"])))
        except (KeyError, TypeError, ValueError):
            raise IntegrityError(f"signature {i} of the envelope is malformed") from None
    return Envelope(payload_type, payload, tuple(sigs))


def verify_envelope(
    envelope: Any, trusted: Mapping[str, Ed25519PublicKey]
) -> tuple[Envelope, tuple[SignatureCheck, ...]]:
    """Parse ``envelope`` and check its signatures against ``trusted`` (see :meth:`Envelope.verify`).

    Raises ``IntegrityError`` if the envelope is malformed.
    """
    opened = open_envelope(envelope)
    return opened, opened.verify(trusted)
