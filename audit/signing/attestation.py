"""``attestation.json``: a DSSE envelope over an in-toto Statement v1 naming every bundle file.

Envelope (DSSE v1, https://github.com/secure-systems-lab/dsse/blob/master/envelope.md)::

    {"payload": base64(statement), "payloadType": "application/vnd.in-toto+json",
     "signatures": [{"keyid": sha256-hex of the raw Ed25519 public key, "sig": base64(sig)}]}

The signature is Ed25519 over the pre-authentication encoding (PAE) of type and payload::

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

(LEN = decimal byte length), so the payload type is signed too and cannot be swapped.

Statement (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "report.json", "digest": {"sha256": "..."}}, ...],  # every file
     "predicateType": "https://audit.dev/attestation/report/v1",
     "predicate": {name, report_id, version, previous, model, dataset, policy, outcome, tool, actor,
                   checkpoint, signed_at}}

``signed_at`` is the signing time; a verifier accepts the signature only if it falls inside the
signing key's validity window. ``checkpoint`` is the access-log checkpoint at signing time (null
until the access log provides one).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, ValidationError

from audit.digest import sha256_file
from audit.errors import InputError, IntegrityError

from .keys import SigningIdentity

__all__ = [
    "ATTESTATION_FILE",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "ReportPredicate",
    "bundle_files",
    "bundle_signer",
    "open_envelope",
    "pae",
    "predicate_from_report",
    "sign_bundle",
    "sign_envelope",
]

ATTESTATION_FILE = "attestation.json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://audit.dev/attestation/report/v1"


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
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [
            {"keyid": keyid, "sig": base64.b64encode(key.sign(message)).decode("ascii")}
            for key, keyid in signers
        ],
    }


def open_envelope(envelope: Any) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    """Parse (not verify) a DSSE envelope: payload type, payload bytes, ``(keyid, sig)`` pairs.

    Raises ``IntegrityError`` naming the malformed part.
    """
    if not isinstance(envelope, Mapping):
        raise IntegrityError("the envelope is not a JSON object")
    extra = set(envelope) - {"payload", "payloadType", "signatures"}
    if extra:
        raise IntegrityError(f"the envelope has unexpected fields {sorted(extra)}")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise IntegrityError("the envelope has no payloadType")
    try:
        payload = base64.b64decode(envelope.get("payload", ""), validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise IntegrityError("the envelope payload is not valid base64") from None
    raw_sigs = envelope.get("signatures")
    if not isinstance(raw_sigs, list) or not raw_sigs:
        raise IntegrityError("the envelope carries no signatures")
    sigs = []
    for i, entry in enumerate(raw_sigs):
        try:
            sigs.append((str(entry["keyid"]), base64.b64decode(entry["sig"], validate=True)))
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise IntegrityError(f"signature {i} of the envelope is malformed") from None
    return payload_type, payload, sigs


class _Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None
    version: str | None
    sha256: str | None


class ReportPredicate(BaseModel):
    """The predicate of ``https://audit.dev/attestation/report/v1`` (validated on both sides)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    report_id: str
    version: int
    previous: str | None
    model: _Artifact | None  # None when recorded decisions were audited (no model)
    dataset: _Artifact
    policy: _Artifact
    outcome: Literal["pass", "fail"]
    tool: dict[str, str]
    actor: dict[str, Any]
    checkpoint: dict[str, Any] | None = None
    signed_at: str

    def signed_at_time(self) -> datetime:
        moment = datetime.fromisoformat(self.signed_at.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _artifact(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if section is None:
        return None
    version = section.get("version")
    return {
        "name": section.get("name"),
        "version": None if version is None else str(version),
        "sha256": section.get("sha256"),
    }


def predicate_from_report(
    report: Mapping[str, Any], *, checkpoint: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The predicate fields taken from a report document (report.json), minus ``signed_at``."""
    subject = report["subject"]
    return {
        "name": subject.get("name"),
        "report_id": report["report_id"],
        "version": report["version"],
        "previous": report.get("previous"),
        "model": _artifact(subject["model"]),
        "dataset": _artifact(subject["dataset"]),
        "policy": _artifact(subject["policy"]),
        "outcome": report["outcome"],
        "tool": dict(report["tool"]),
        "actor": dict(report["actor"]),
        "checkpoint": dict(checkpoint) if checkpoint is not None else None,
    }


def bundle_files(folder: Path) -> list[str]:
    """Every file of the bundle except ``attestation.json``, as sorted relative POSIX paths.

    Hidden files and files in subfolders count too: anything in the folder is part of what a
    reader might trust, so nothing may sit there unattested.
    """
    names = [
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if (p.is_file() or p.is_symlink()) and not p.is_dir()
    ]
    return sorted(n for n in names if n != ATTESTATION_FILE)


def sign_bundle(
    folder: Path,
    identity: SigningIdentity,
    *,
    predicate: Mapping[str, Any],
    now: datetime | None = None,
) -> None:
    """Sign a freshly rendered bundle in place: PAdES-sign report.pdf, then write the attestation.

    Order matters: the PDF signature changes report.pdf, so the digests are taken after it, and
    attestation.json is written last, over the final bytes of every other file. ``predicate``
    holds the fields of ``ReportPredicate`` except ``signed_at`` (see
    ``predicate_from_report``); ``signed_at`` is ``now`` (UTC, default the current time).
    Call it on the temporary folder before the bundle is renamed into place.
    """
    folder = Path(folder)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    fields = dict(predicate)
    fields["signed_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        checked = ReportPredicate.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(f"attestation predicate: field {loc}: {first['msg']}") from None
    if not identity.attestation.accepts(moment):
        raise InputError(
            f"the attestation key {identity.keyid[:16]}… is not valid at {fields['signed_at']} "
            f"(window {identity.attestation.not_before:%Y-%m-%d} to "
            f"{identity.attestation.not_after:%Y-%m-%d})",
            hint="rotate the key: `audit keys rotate`",
        )
    if (folder / ATTESTATION_FILE).exists():
        raise InputError(f"{folder} is already signed ({ATTESTATION_FILE} exists)")
    pdf = folder / "report.pdf"
    if pdf.is_file():
        from .pdf import sign_pdf  # pyHanko is imported only when there is a PDF to sign

        sign_pdf(pdf, identity)
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": name, "digest": {"sha256": sha256_file(folder / name)}}
            for name in bundle_files(folder)
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": checked.model_dump(mode="json"),
    }
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
    envelope = sign_envelope(payload, PAYLOAD_TYPE, [(identity.attestation_key, identity.keyid)])
    (folder / ATTESTATION_FILE).write_text(json.dumps(envelope, indent=2) + "\n")


def bundle_signer(
    identity: SigningIdentity,
    *,
    checkpoint: Callable[[], Mapping[str, Any] | None] | Mapping[str, Any] | None = None,
) -> Callable[[dict[str, Any], Path], None]:
    """A bundle renderer (``audit.report.Renderer``) that signs the bundle; put it LAST.

    ``checkpoint`` is the access-log checkpoint, or a function returning it at signing time.
    """

    def render(report: dict[str, Any], folder: Path) -> None:
        point = checkpoint() if callable(checkpoint) else checkpoint
        sign_bundle(folder, identity, predicate=predicate_from_report(report, checkpoint=point))

    return render
