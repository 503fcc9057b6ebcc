"""Verify a report bundle against a keyring the verifier already trusts.

Trust comes only from the keyring passed in: a key or certificate inside or beside the bundle is
never used, and a key id in the envelope is only a lookup hint (the signature must verify with
the keyring's key of that id). The checks, each adding one line per problem:

1. ``attestation.json`` is a DSSE envelope whose payload type is the in-toto one;
2. a signature verifies over PAE(type, payload) with a keyring key, at an attested signing time
   inside that key's validity window (and the key is not revoked) - if not, nothing in the
   payload is believed and verification stops here;
3. the payload is an in-toto Statement v1 with our predicate type and a valid predicate;
4. the subjects are exactly the bundle's files (none missing, none extra) with equal sha256;
5. report.json agrees with the predicate (report id, version, previous, outcome), and the
   folder ``v<N>`` matches the version;
6. report.pdf's PAdES signature passes ``audit.signing.pdf.verify_pdf`` (strict);
7. with ``latest_version`` (from the registry of reports), the bundle is that version: an older,
   validly signed version presented as current is a rollback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from audit.bundles.bundle import read_report
from audit.digest import sha256_file
from audit.errors import InputError, IntegrityError

from .attestation import (
    ATTESTATION_FILE,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    ReportPredicate,
    bundle_files,
)
from .dsse import verify_envelope
from .keys import KeyRecord, Keyring, load_keyring
from .pdf import verify_pdf
from .times import utc_text

__all__ = ["VerificationResult", "latest_version_beside", "verify_bundle"]

_VERSION_DIR = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of ``verify_bundle``: intact when ``problems`` is empty."""

    problems: tuple[str, ...]
    predicate: ReportPredicate | None = None
    keyid: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise ``IntegrityError`` (exit 3) listing every problem, if there is any."""
        if self.problems:
            raise IntegrityError(
                "\n".join(self.problems),
                hint="the bundle may have been modified, replaced or signed by an untrusted key; "
                "do not rely on it",
            )


def latest_version_beside(folder: Path) -> int | None:
    """Highest ``v<N>`` among the bundle folder's siblings, or None if it is not in such a tree."""
    folder = Path(folder)
    if not _VERSION_DIR.match(folder.name):
        return None
    found = [_VERSION_DIR.match(p.name) for p in folder.parent.iterdir() if p.is_dir()]
    return max(int(m[1]) for m in found if m)


def _authenticate(
    envelope: Any, keyring: Keyring
) -> tuple[bytes | None, KeyRecord | None, list[str]]:
    """Payload and the keyring key that signed it, or the problems preventing that."""
    trusted = {keyid: record.public_key for keyid, record in keyring.keys.items()}
    try:
        opened, checks = verify_envelope(envelope, trusted)
    except IntegrityError as exc:
        return None, None, [f"{ATTESTATION_FILE}: {exc.message}"]
    problems = []
    if opened.payload_type != PAYLOAD_TYPE:
        problems.append(
            f"{ATTESTATION_FILE}: payload type is {opened.payload_type!r}, expected {PAYLOAD_TYPE!r}"
        )
    for check in checks:
        keyid = check.keyid
        if check.outcome == "untrusted":
            problems.append(
                f"{ATTESTATION_FILE}: signed by key {keyid[:16]}…, which is not in the keyring "
                f"{keyring.source}"
            )
        elif check.outcome == "invalid":
            problems.append(
                f"{ATTESTATION_FILE}: the signature by key {keyid[:16]}… does not verify: the "
                "payload or its type was changed"
            )
        elif opened.payload_type == PAYLOAD_TYPE:
            return opened.payload, keyring.keys[keyid], []
    if not problems:  # pragma: no cover - open_envelope guarantees at least one signature
        problems.append(f"{ATTESTATION_FILE}: no signature")
    return None, None, problems


def _statement(payload: bytes) -> tuple[dict[str, Any] | None, ReportPredicate | None, list[str]]:
    where = ATTESTATION_FILE
    try:
        statement = json.loads(payload)
    except (ValueError, RecursionError):
        return None, None, [f"{where}: the signed payload is not JSON"]
    if not isinstance(statement, dict):
        return None, None, [f"{where}: the signed payload is not a JSON object"]
    problems = []
    if statement.get("_type") != STATEMENT_TYPE:
        problems.append(f"{where}: statement _type is {statement.get('_type')!r}")
    if statement.get("predicateType") != PREDICATE_TYPE:
        problems.append(
            f"{where}: predicateType is {statement.get('predicateType')!r}, "
            f"expected {PREDICATE_TYPE!r}"
        )
    try:
        predicate = ReportPredicate.model_validate(statement.get("predicate"))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return statement, None, [*problems, f"{where}: predicate field {loc}: {first['msg']}"]
    return statement, predicate, problems


def _subjects(folder: Path, statement: dict[str, Any]) -> list[str]:
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        return [f"{ATTESTATION_FILE}: the statement lists no subjects"]
    problems = []
    expected: dict[str, str] = {}
    for i, entry in enumerate(subjects):
        try:
            name, digest = str(entry["name"]), str(entry["digest"]["sha256"]).lower()
        except (KeyError, TypeError):
            problems.append(f"{ATTESTATION_FILE}: subject {i} is malformed")
            continue
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or name == ATTESTATION_FILE or name in expected:
            problems.append(f"{ATTESTATION_FILE}: subject name {name!r} is not allowed")
            continue
        expected[name] = digest
    present = set(bundle_files(folder))
    for name in sorted(set(expected) - present):
        problems.append(f"{name}: listed in the attestation but missing from the bundle")
    for name in sorted(present - set(expected)):
        problems.append(f"{name}: extra file, not covered by the attestation")
    for name in sorted(set(expected) & present):
        path = folder / name
        if path.is_symlink() or not path.is_file():
            problems.append(f"{name}: not a regular file")
        elif sha256_file(path) != expected[name]:
            problems.append(f"{name}: sha256 differs from the attested digest (file modified)")
    return problems


def _consistency(folder: Path, predicate: ReportPredicate) -> list[str]:
    problems = []
    match = _VERSION_DIR.match(folder.name)
    if match and int(match[1]) != predicate.version:
        problems.append(
            f"{folder.name}: the folder claims version {match[1]} but the attestation is for "
            f"version {predicate.version}"
        )
    report_path = folder / "report.json"
    if not report_path.is_file():
        return problems
    try:
        report = read_report(report_path)
    except InputError:
        return [*problems, "report.json: not a readable report document"]
    fields = {k: getattr(report, k) for k in ("report_id", "version", "previous", "outcome")}
    for key, value in fields.items():
        if getattr(predicate, key) != value:
            problems.append(
                f"report.json: {key} is {value!r} but the attestation says "
                f"{getattr(predicate, key)!r}"
            )
    return problems


def verify_bundle(
    folder: Path, keyring: Path | Keyring, *, latest_version: int | None = None
) -> VerificationResult:
    """Verify the bundle in ``folder`` against ``keyring`` only (see the module doc).

    Raises ``InputError`` for a missing folder or a bad keyring (the verifier's own input);
    everything wrong with the bundle itself is returned as problems.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(
            f"bundle folder {folder} does not exist", hint="give a reports/<name>/v<N>"
        )
    ring = keyring if isinstance(keyring, Keyring) else load_keyring(Path(keyring))
    att = folder / ATTESTATION_FILE
    if not att.is_file():
        return VerificationResult((f"{ATTESTATION_FILE}: missing, the bundle is not signed",))
    try:
        envelope = json.loads(att.read_bytes())
    except (ValueError, RecursionError):
        return VerificationResult((f"{ATTESTATION_FILE}: not valid JSON",))
    payload, record, problems = _authenticate(envelope, ring)
    if payload is None or record is None:
        return VerificationResult(tuple(problems))
    statement, predicate, problems = _statement(payload)
    if statement is None or predicate is None:
        return VerificationResult(tuple(problems), keyid=record.keyid)
    signed_at = predicate.signed_at_time()
    if record.status == "revoked":
        problems.append(f"{ATTESTATION_FILE}: the signing key {record.keyid[:16]}… is revoked")
    elif not record.accepts(signed_at):
        problems.append(
            f"{ATTESTATION_FILE}: signed at {utc_text(signed_at)}, outside the validity window of key "
            f"{record.keyid[:16]}… ({utc_text(record.not_before)} to {utc_text(record.not_after)})"
        )
    problems += _subjects(folder, statement)
    problems += _consistency(folder, predicate)
    if (folder / "report.pdf").is_file():
        problems += verify_pdf(folder / "report.pdf", ring, moment=signed_at)
    if latest_version is not None and predicate.version != latest_version:
        problems.append(
            f"rollback: this is version {predicate.version} of {predicate.name or 'the report'} "
            f"(report id {predicate.report_id}), but the latest version is {latest_version}"
        )
    return VerificationResult(tuple(problems), predicate=predicate, keyid=record.keyid)
