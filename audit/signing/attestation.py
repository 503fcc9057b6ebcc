"""``attestation.json``: a DSSE envelope over an in-toto Statement v1 naming every bundle file.

The envelope format, PAE and Ed25519 signing are in :mod:`audit.signing.dsse`; the payload type
is ``application/vnd.in-toto+json``.

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

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from audit.bundles.bundle import PROOF_FILE
from audit.contract import Artifact, PolicyInfo, Report
from audit.digest import canonical_json, sha256_file
from audit.errors import InputError

from .dsse import sign_envelope
from .keys import SigningIdentity
from .pdf import sign_pdf
from .times import parse_utc, utc_text

__all__ = [
    "ATTESTATION_FILE",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "ReportPredicate",
    "bundle_files",
    "bundle_signer",
    "predicate_from_report",
    "sign_bundle",
]

ATTESTATION_FILE = "attestation.json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://audit.dev/attestation/report/v1"


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
        return parse_utc(self.signed_at)


def _artifact(section: Artifact | PolicyInfo | None) -> dict[str, Any] | None:
    if section is None:
        return None
    return {"name": section.name, "version": section.version, "sha256": section.sha256}


def predicate_from_report(
    report: Report, *, checkpoint: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The predicate fields taken from the typed report, minus ``signed_at``."""
    subject = report.subject
    return {
        "name": subject.name,
        "report_id": report.report_id,
        "version": report.version,
        "previous": report.previous,
        "model": _artifact(subject.model),
        "dataset": _artifact(subject.dataset),
        "policy": _artifact(subject.policy),
        "outcome": report.outcome,
        "tool": report.tool.to_json(),
        "actor": report.actor.to_json(),
        "checkpoint": dict(checkpoint) if checkpoint is not None else None,
    }


def bundle_files(folder: Path) -> list[str]:
    """Every file of the bundle except ``attestation.json`` and ``log-proof.json`` (the log's
    proof of the attestation, written after it), as sorted relative POSIX paths.

    Hidden files and files in subfolders count too: anything in the folder is part of what a
    reader might trust, so nothing may sit there unattested.
    """
    names = [
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if (p.is_file() or p.is_symlink()) and not p.is_dir()
    ]
    return sorted(n for n in names if n not in (ATTESTATION_FILE, PROOF_FILE))


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
    fields["signed_at"] = utc_text(moment)
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
    payload = canonical_json(statement)
    envelope = sign_envelope(payload, PAYLOAD_TYPE, [(identity.attestation_key, identity.keyid)])
    (folder / ATTESTATION_FILE).write_text(json.dumps(envelope, indent=2) + "\n")


def bundle_signer(
    identity: SigningIdentity,
    *,
    checkpoint: Callable[[], Mapping[str, Any] | None] | Mapping[str, Any] | None = None,
) -> Callable[[Report, Path], None]:
    """The publishing step that signs a rendered bundle (after every renderer has written).

    ``checkpoint`` is the access-log checkpoint, or a function returning it at signing time.
    """

    def render(report: Report, folder: Path) -> None:
        point = checkpoint() if callable(checkpoint) else checkpoint
        sign_bundle(folder, identity, predicate=predicate_from_report(report, checkpoint=point))

    return render
