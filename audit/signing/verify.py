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
7. ``log-proof.json`` anchors the bundle in the access log: its checkpoint is signed by a *log*
   key of the keyring, the audit path leads from the ``report:publish`` entry to the signed
   root, and the entry names this system, version, report id, report.json and attestation
   digests; the signing key was valid at the entry's time (the log's clock, not the signer's);
   a bundle in a ``<name>/v<N>`` tree sits in its own system's folder;
8. with the log's history (``LogHistory``: the home's log, or an export), the entry is in that
   log, and the ``previous`` digest is the log's record of the version before. The latest
   version the log (or the folder) knows is reported: an intact older version verifies and
   says that newer ones exist; when the caller asks for the latest (``rollback_check``, the
   CLI's ``--latest``), an older, validly signed version presented as current is a rollback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from audit.access import Entry, LogProof
from audit.bundles.bundle import PROOF_FILE, read_report
from audit.digest import sha256_file
from audit.errors import InputError, IntegrityError
from audit.safefs import is_plain_dir, read_file

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
from .times import parse_utc, utc_text

__all__ = ["LogHistory", "VerificationResult", "latest_version_beside", "verify_bundle"]

PUBLISH_ACTION = "report:publish"


@dataclass(frozen=True)
class LogHistory:
    """What an access log says was published: its id and its ``report:publish`` entries."""

    log_id: str
    publishes: tuple[Entry, ...]
    source: str = "the access log"

    def of(self, name: str | None) -> list[Entry]:
        return [e for e in self.publishes if (e.details or {}).get("name") == name]


_VERSION_DIR = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of ``verify_bundle``: intact when ``problems`` is empty."""

    problems: tuple[str, ...]
    predicate: ReportPredicate | None = None
    keyid: str | None = None
    #: the latest version of the system the log (or the bundle's folder) knows, when known
    latest: int | None = None

    @property
    def newer(self) -> bool:
        """An intact older version: the log (or the folder) knows a later one."""
        v = self.predicate.version if self.predicate is not None else None
        return v is not None and self.latest is not None and self.latest > v

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
    found = [_VERSION_DIR.match(p.name) for p in folder.parent.iterdir() if is_plain_dir(p)]
    return max((int(m[1]) for m in found if m), default=None)


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
    if match and predicate.name is not None and folder.parent.name != predicate.name:
        problems.append(
            f"{folder.parent.name}/{folder.name}: this is a bundle of system "
            f"{predicate.name!r}, put in the folder of {folder.parent.name!r} (substituted)"
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


def _anchoring(
    folder: Path, predicate: ReportPredicate, ring: Keyring, record: KeyRecord
) -> tuple[LogProof | None, list[str]]:
    """The bundle's proof of its ``report:publish`` entry, and what is wrong with it."""
    where = PROOF_FILE
    path = folder / where
    if not path.exists() and not path.is_symlink():
        return None, [f"{where}: missing: the bundle is not anchored in the access log"]
    try:
        proof = LogProof.parse(read_file(path, limit=1 << 20), where)
    except InputError as exc:
        return None, [exc.message]
    problems = [f"{where}: {p}" for p in proof.problems(ring.public("log"))]
    if problems:
        return None, problems
    entry = proof.entry
    details = entry.details or {}
    if entry.action != PUBLISH_ACTION:
        return None, [f"{where}: the logged entry is a {entry.action!r}, not a publication"]
    expected = {
        "name": predicate.name,
        "version": predicate.version,
        "report_id": predicate.report_id,
        "previous": predicate.previous,
        "outcome": predicate.outcome,
    }
    for key, value in expected.items():
        if details.get(key) != value:
            problems.append(
                f"{where}: the log recorded {key} {details.get(key)!r}, the attestation says "
                f"{value!r} (another bundle's entry)"
            )
    for key, name in (("report_sha256", "report.json"), ("attestation_sha256", ATTESTATION_FILE)):
        file = folder / name
        if file.is_file() and sha256_file(file) != details.get(key):
            problems.append(f"{where}: the log recorded another {name} (sha256 differs)")
    logged_at = parse_utc(entry.time)
    if not record.accepts(logged_at):
        problems.append(
            f"{ATTESTATION_FILE}: signed by key {record.keyid[:16]}…, which was not valid when "
            f"the bundle was logged at {entry.time} (key window {utc_text(record.not_before)} "
            f"to {utc_text(record.not_after)}, status {record.status}): a retired key's "
            "signature back-dated"
        )
    if predicate.signed_at_time() > logged_at:
        problems.append(
            f"{ATTESTATION_FILE}: claims to be signed at {predicate.signed_at}, after it was "
            f"logged at {entry.time}"
        )
    return proof, problems


def _history(
    proof: LogProof, predicate: ReportPredicate, history: LogHistory, rollback_check: bool
) -> tuple[list[str], int | None]:
    """The bundle against the log's record of every version of its system, and the latest
    version that record knows."""
    entry = proof.entry
    same = history.of(predicate.name)
    if not any(e.seq == entry.seq and e.hash == entry.hash for e in same):
        return [
            f"{PROOF_FILE}: entry {entry.seq} is not in {history.source} (the log was rewritten, "
            "or the proof belongs to another log)"
        ], None
    problems = []
    version = predicate.version
    earlier = [e for e in same if int((e.details or {}).get("version", 0)) < version]
    if earlier:
        want = "sha256:" + str((earlier[-1].details or {}).get("report_sha256"))
        if predicate.previous != want:
            problems.append(
                f"previous: the report pins {predicate.previous}, but the log's record of "
                f"version {(earlier[-1].details or {}).get('version')} is {want} (history swapped)"
            )
    elif predicate.previous is not None:
        problems.append("previous: the report pins a predecessor the log never recorded")
    later = [int((e.details or {}).get("version", 0)) for e in same]
    latest = max(later, default=version)
    if rollback_check and latest > version:
        problems.append(
            f"rollback: this is version {version} of {predicate.name} (report id "
            f"{predicate.report_id}), but {history.source} records version {latest}, and "
            "the latest was asked for (--latest)"
        )
    return problems, latest


def verify_bundle(
    folder: Path,
    keyring: Path | Keyring,
    *,
    latest_version: int | None = None,
    history: LogHistory | None = None,
    rollback_check: bool = True,
) -> VerificationResult:
    """Verify the bundle in ``folder`` against ``keyring`` only (see the module doc).

    ``history``: the access log's record of publications (rollback, substitution and history
    swaps are judged against it); ``latest_version``: without a log, the highest version the
    caller knows of. Raises ``InputError`` for a missing folder or a bad keyring (the
    verifier's own input); everything wrong with the bundle itself is returned as problems.
    """
    folder = Path(folder)
    if folder.is_symlink():
        return VerificationResult((f"{folder} is a symbolic link, not a bundle folder",))
    if not folder.is_dir():
        raise InputError(
            f"bundle folder {folder} does not exist", hint="give a reports/<name>/v<N>"
        )
    ring = keyring if isinstance(keyring, Keyring) else load_keyring(Path(keyring))
    bundle_keys = Keyring(ring.of("bundle"), ring.pdf_roots, ring.pdf_signers, ring.source)
    att = folder / ATTESTATION_FILE
    if not att.is_file():
        return VerificationResult((f"{ATTESTATION_FILE}: missing, the bundle is not signed",))
    try:
        envelope = json.loads(read_file(att, limit=16 << 20))
    except (ValueError, RecursionError, InputError):
        return VerificationResult((f"{ATTESTATION_FILE}: not valid JSON",))
    payload, record, problems = _authenticate(envelope, bundle_keys)
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
    proof, anchor_problems = _anchoring(folder, predicate, ring, record)
    problems += anchor_problems
    if (folder / "report.pdf").is_file():
        moment = parse_utc(proof.entry.time) if proof is not None else signed_at
        problems += verify_pdf(folder / "report.pdf", ring, moment=moment)
    latest = latest_version
    if proof is not None and history is not None:
        found, latest = _history(proof, predicate, history, rollback_check)
        problems += found
    elif rollback_check and latest_version is not None and predicate.version != latest_version:
        problems.append(
            f"rollback: this is version {predicate.version} of {predicate.name or 'the report'} "
            f"(report id {predicate.report_id}), but the latest version is {latest_version}, "
            "and the latest was asked for (--latest)"
        )
    return VerificationResult(
        tuple(problems), predicate=predicate, keyid=record.keyid, latest=latest
    )
