"""Signing identities, keyrings, attestations and PDF signatures, checked by independent means.

A real bundle is built once per module: report.json from the example report, report.html and a
real WeasyPrint report.pdf, plus junit.xml and summary.md; it is then signed with a fresh
identity. The results are checked against things that do not share our code: the DSSE spec's
published PAE example, ``hashlib`` digests of every file, ``cryptography``'s own Ed25519 and
X.509 checks, a JSON Schema of the DSSE envelope and in-toto Statement v1, and poppler's
``pdfsig`` for the PDF signature.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import shutil
import stat
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pypdf import PdfReader

from audit.contract import Report
from audit.errors import InputError, IntegrityError
from audit.report import bundle_renderers
from audit.signing import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    SigningIdentity,
    accept_rotation,
    bundle_signer,
    export_keyring,
    init_identity,
    load_identity,
    load_keyring,
    pae,
    predicate_from_report,
    rotate_identity,
    sign_bundle,
    verify_bundle,
)
from tests.helpers import AnchorLog

FIXTURE = Path(__file__).parent / "fixtures" / "report_example.json"
PASSPHRASE = "correct horse battery staple"

# DSSE envelope and in-toto Statement v1, written from the two specifications.
ENVELOPE_SCHEMA = {
    "type": "object",
    "required": ["payload", "payloadType", "signatures"],
    "additionalProperties": False,
    "properties": {
        "payload": {"type": "string", "contentEncoding": "base64"},
        "payloadType": {"type": "string"},
        "signatures": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["sig"],
                "properties": {"keyid": {"type": "string"}, "sig": {"type": "string"}},
            },
        },
    },
}
STATEMENT_SCHEMA = {
    "type": "object",
    "required": ["_type", "subject", "predicateType", "predicate"],
    "properties": {
        "_type": {"const": "https://in-toto.io/Statement/v1"},
        "subject": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "digest"],
                "properties": {
                    "name": {"type": "string"},
                    "digest": {
                        "type": "object",
                        "required": ["sha256"],
                        "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                    },
                },
            },
        },
        "predicateType": {"type": "string", "format": "uri"},
        "predicate": {"type": "object"},
    },
}


def make_bundle(folder: Path, report: dict[str, Any], pdf_from: Path | None = None) -> Path:
    """An unsigned bundle as the bundle writer leaves it before signing."""
    folder.mkdir(parents=True)
    (folder / "report.json").write_bytes(Report.model_validate(report).to_bytes())
    if pdf_from is None:
        typed = Report.model_validate(report)
        for render in bundle_renderers()[:2]:  # report.html and report.pdf
            render(typed, folder)
    else:
        shutil.copy(pdf_from / "report.html", folder / "report.html")
        shutil.copy(pdf_from / "report.pdf", folder / "report.pdf")
    (folder / "junit.xml").write_text('<testsuite name="audit" tests="0"/>\n')
    (folder / "summary.md").write_text(f"# Audit {report['report_id']}\n")
    return folder


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signing")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(FIXTURE.read_text())
    doc["version"], doc["previous"] = 1, None
    return doc


@pytest.fixture(scope="module")
def identity(work: Path) -> SigningIdentity:
    init_identity(work / "keys", common_name="Model Risk Team", passphrase=PASSPHRASE)
    return load_identity(work / "keys", PASSPHRASE)


@pytest.fixture(scope="module")
def testlog(work: Path) -> AnchorLog:
    return AnchorLog(work)


@pytest.fixture(scope="module")
def keyring_path(work: Path, identity: SigningIdentity, testlog: AnchorLog) -> Path:
    export_keyring(work / "keys", work / "keyring.json")
    return testlog.keyring(work / "keyring.json")


@pytest.fixture(scope="module")
def unsigned(work: Path, report: dict[str, Any]) -> Path:
    return make_bundle(work / "unsigned" / "v1", report)


@pytest.fixture(scope="module")
def bundle(
    work: Path,
    unsigned: Path,
    identity: SigningIdentity,
    report: dict[str, Any],
    testlog: AnchorLog,
) -> Path:
    folder = work / "reports" / report["subject"]["name"] / "v1"
    folder.parent.mkdir(parents=True)
    shutil.copytree(unsigned, folder)
    sign_bundle(folder, identity, predicate=predicate_from_report(Report.model_validate(report)))
    testlog.anchor(folder, identity.keyid)
    return folder


def envelope_of(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "attestation.json").read_text()))


def statement_of(folder: Path) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(envelope_of(folder)["payload"])))


# -- keys --------------------------------------------------------------------------------------


def test_private_keys_are_0600_and_encrypted(work: Path, identity: SigningIdentity) -> None:
    keys = work / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for name in ("attestation.key.pem", "ca.key.pem", "signer.key.pem"):
        path = keys / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        # cryptography itself refuses to open it without, and opens it with, the passphrase
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(path.read_bytes(), password=None)
        serialization.load_pem_private_key(path.read_bytes(), password=PASSPHRASE.encode())


def test_load_identity_needs_the_right_passphrase(work: Path, identity: SigningIdentity) -> None:
    with pytest.raises(InputError, match="encrypted"):
        load_identity(work / "keys")
    with pytest.raises(InputError, match="passphrase"):
        load_identity(work / "keys", "wrong")


def test_unencrypted_identity_and_no_overwrite(tmp_path: Path) -> None:
    init_identity(tmp_path / "k", common_name="Plain")
    pem = (tmp_path / "k" / "attestation.key.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert load_identity(tmp_path / "k").common_name == "Plain"
    with pytest.raises(InputError, match="already exists"):
        init_identity(tmp_path / "k", common_name="Again")


def test_certificates_have_the_key_usages_pdf_signing_needs(identity: SigningIdentity) -> None:
    ca, signer = identity.ca_cert, identity.signer_cert
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    usage = signer.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment  # content_commitment = nonRep.
    assert signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    signer.verify_directly_issued_by(ca)  # raises if the CA did not sign it
    ca.verify_directly_issued_by(ca)


def test_keyring_key_ids_are_sha256_of_raw_public_keys(
    keyring_path: Path, identity: SigningIdentity
) -> None:
    doc = json.loads(keyring_path.read_text())
    assert set(doc) >= {"keys", "pdf_roots", "pdf_signers"}
    (entry,) = [k for k in doc["keys"] if k["purpose"] == "bundle"]
    raw = base64.b64decode(entry["public_key"])
    assert entry["keyid"] == hashlib.sha256(raw).hexdigest()
    expected_raw = identity.attestation_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert raw == expected_raw
    assert entry["algorithm"] == "ed25519" and entry["status"] == "active"
    assert entry["not_before"] < entry["not_after"]
    root = x509.load_pem_x509_certificate(doc["pdf_roots"][0].encode())
    assert root == identity.ca_cert
    der = identity.signer_cert.public_bytes(serialization.Encoding.DER)
    assert doc["pdf_signers"] == ["sha256:" + hashlib.sha256(der).hexdigest()]
    assert "PRIVATE" not in keyring_path.read_text()


def test_keyring_input_errors_name_the_field(tmp_path: Path, keyring_path: Path) -> None:
    doc = json.loads(keyring_path.read_text())
    bad = copy.deepcopy(doc)
    bad["keys"][0]["algorithm"] = "rsa"
    (tmp_path / "a.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match=r"keys\.0\.algorithm"):
        load_keyring(tmp_path / "a.json")
    bad = copy.deepcopy(doc)
    bad["keys"][0]["keyid"] = "0" * 64
    (tmp_path / "b.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="does not match its public key"):
        load_keyring(tmp_path / "b.json")
    (tmp_path / "c.json").write_text(json.dumps({"keys": []}))
    with pytest.raises(InputError, match="no keys"):
        load_keyring(tmp_path / "c.json")
    with pytest.raises(InputError, match="does not exist"):
        load_keyring(tmp_path / "missing.json")


# -- attestation -------------------------------------------------------------------------------


def test_pae_matches_the_dsse_spec_example() -> None:
    # https://github.com/secure-systems-lab/dsse/blob/master/protocol.md#test-vectors
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_envelope_and_statement_follow_the_specs(bundle: Path, identity: SigningIdentity) -> None:
    envelope = envelope_of(bundle)
    jsonschema.validate(envelope, ENVELOPE_SCHEMA)
    assert envelope["payloadType"] == "application/vnd.in-toto+json" == PAYLOAD_TYPE
    payload = base64.b64decode(envelope["payload"])
    statement = json.loads(payload)
    jsonschema.validate(statement, STATEMENT_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert statement["predicateType"] == PREDICATE_TYPE
    # the signature verifies with cryptography over a PAE built here by hand
    (sig,) = envelope["signatures"]
    raw = identity.attestation_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert sig["keyid"] == hashlib.sha256(raw).hexdigest()
    message = b"DSSEv1 %d %s %d %s" % (
        len(PAYLOAD_TYPE),
        PAYLOAD_TYPE.encode(),
        len(payload),
        payload,
    )
    Ed25519PublicKey.from_public_bytes(raw).verify(base64.b64decode(sig["sig"]), message)


def test_subjects_are_every_file_with_its_sha256(bundle: Path) -> None:
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement_of(bundle)["subject"]}
    on_disk = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in bundle.iterdir()
        if p.name not in ("attestation.json", "log-proof.json")  # the log's proof comes after
    }
    assert subjects == on_disk
    assert set(on_disk) == {"report.json", "report.html", "report.pdf", "junit.xml", "summary.md"}


def test_predicate_records_the_report(bundle: Path, report: dict[str, Any]) -> None:
    predicate = statement_of(bundle)["predicate"]
    assert predicate["report_id"] == report["report_id"]
    assert predicate["version"] == report["version"] == 1
    assert predicate["previous"] is None
    assert predicate["outcome"] == report["outcome"]
    for part in ("model", "dataset", "policy"):
        assert predicate[part]["sha256"] == report["subject"][part]["sha256"]
        assert predicate[part]["name"] == report["subject"][part]["name"]
    assert predicate["tool"] == report["tool"]
    assert predicate["actor"] == report["actor"]
    assert predicate["checkpoint"] is None
    signed = datetime.fromisoformat(predicate["signed_at"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - signed) < timedelta(minutes=10)


def test_fresh_bundle_verifies(bundle: Path, keyring_path: Path) -> None:
    result = verify_bundle(bundle, keyring_path)
    assert result.problems == ()
    assert result.ok
    result.raise_for_problems()  # does not raise
    assert verify_bundle(bundle, keyring_path, latest_version=1).ok


def test_checkpoint_is_recorded(
    work: Path,
    unsigned: Path,
    identity: SigningIdentity,
    report: dict[str, Any],
    keyring_path: Path,
    testlog: AnchorLog,
    bundle: Path,
) -> None:
    folder = work / "checkpointed" / "adult-income" / "v2"
    shutil.copytree(unsigned, folder)
    prev = "sha256:" + hashlib.sha256((bundle / "report.json").read_bytes()).hexdigest()
    typed = Report.model_validate({**report, "version": 2, "previous": prev})
    (folder / "report.json").write_bytes(typed.to_bytes())
    point = {"size": 12, "root": "ab" * 32, "signature": "xyz"}
    bundle_signer(identity, checkpoint=lambda: point)(typed, folder)
    assert statement_of(folder)["predicate"]["checkpoint"] == point
    testlog.anchor(folder, identity.keyid)
    assert verify_bundle(folder, keyring_path).ok


def test_signing_refuses_an_expired_key_and_bad_predicate(
    tmp_path: Path, unsigned: Path, report: dict[str, Any], identity: SigningIdentity
) -> None:
    folder = tmp_path / "v1"
    shutil.copytree(unsigned, folder)
    late = identity.attestation.not_after + timedelta(days=1)
    with pytest.raises(InputError, match="not valid at"):
        sign_bundle(
            folder,
            identity,
            predicate=predicate_from_report(Report.model_validate(report)),
            now=late,
        )
    bad = predicate_from_report(Report.model_validate(report)) | {"outcome": "maybe"}
    with pytest.raises(InputError, match="outcome"):
        sign_bundle(folder, identity, predicate=bad)
    assert not (folder / "attestation.json").exists()


# -- PDF signature -----------------------------------------------------------------------------


def test_signed_pdf_is_an_incremental_update_of_the_rendered_one(
    bundle: Path, unsigned: Path
) -> None:
    original = (unsigned / "report.pdf").read_bytes()
    signed = (bundle / "report.pdf").read_bytes()
    assert signed.startswith(original) and len(signed) > len(original)
    reader = PdfReader(bundle / "report.pdf")
    assert len(reader.pages) == len(PdfReader(unsigned / "report.pdf").pages)
    fields = reader.get_fields() or {}
    sig_fields = [f for f in fields.values() if f.get("/FT") == "/Sig"]
    assert len(sig_fields) == 1
    assert sig_fields[0]["/V"]["/SubFilter"] == "/ETSI.CAdES.detached"


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="pdfsig (poppler-utils) not installed")
def test_pdfsig_reports_the_signature_valid(bundle: Path) -> None:
    out = subprocess.run(
        ["pdfsig", str(bundle / "report.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert out.count("Signature #") == 1
    assert "Signature Validation: Signature is Valid." in out
    assert "Total document signed" in out
    assert "Signer Certificate Common Name: Model Risk Team" in out
    assert "ETSI.CAdES.detached" in out


# -- rotation ----------------------------------------------------------------------------------


def test_rotation_keeps_old_bundles_valid_and_is_announced_by_the_old_key(
    tmp_path: Path, unsigned: Path, report: dict[str, Any]
) -> None:
    keys = tmp_path / "keys"
    log = AnchorLog(tmp_path)
    start = datetime.now(UTC) - timedelta(days=2)
    old = init_identity(keys, common_name="Rotating", now=start)
    export_keyring(old, tmp_path / "old-ring.json")
    log.keyring(tmp_path / "old-ring.json")

    def signed(version: int, identity: SigningIdentity, now: datetime | None = None) -> Path:
        folder = tmp_path / f"b{version}" / "adult-income" / f"v{version}"
        shutil.copytree(unsigned, folder)
        before = tmp_path / f"b{version - 1}" / "adult-income" / f"v{version - 1}" / "report.json"
        prev = "sha256:" + hashlib.sha256(before.read_bytes()).hexdigest() if version > 1 else None
        typed = Report.model_validate({**report, "version": version, "previous": prev})
        (folder / "report.json").write_bytes(typed.to_bytes())
        sign_bundle(folder, identity, predicate=predicate_from_report(typed), now=now)
        log.anchor(folder, identity.keyid)
        return folder

    before = signed(1, old)
    time.sleep(1.05)  # rotate_identity's times are whole seconds; the log's are microseconds
    rotation = rotate_identity(keys)
    assert rotation.old_keyid == old.keyid != rotation.new_keyid
    assert load_identity(keys).keyid == rotation.new_keyid
    new_ring = export_keyring(keys, tmp_path / "new-ring.json")
    log.keyring(tmp_path / "new-ring.json")
    assert new_ring.keys[old.keyid].status == "retired"
    assert new_ring.keys[old.keyid].not_after <= datetime.now(UTC)
    after = signed(2, rotation.identity)

    assert verify_bundle(before, tmp_path / "new-ring.json").ok
    assert verify_bundle(after, tmp_path / "new-ring.json").ok
    # the retired key still signs, back-dating its signed_at into its window: the log's time
    # of the publication, after the retirement, is what counts
    late = signed(3, old, now=start + timedelta(hours=1))
    found = verify_bundle(late, tmp_path / "new-ring.json")
    assert any("back-dated" in p for p in found.problems), found.problems
    # the old keyring does not know the new key ...
    assert not verify_bundle(after, tmp_path / "old-ring.json").ok
    # ... until it accepts the statement, which verifies only because the old key signed it
    statement = json.loads(rotation.statement.read_text())
    assert envelope_keyids(statement) == {old.keyid, rotation.new_keyid}
    updated = accept_rotation(load_keyring(tmp_path / "old-ring.json"), statement)
    assert verify_bundle(after, updated).ok
    assert verify_bundle(before, updated).ok

    # a statement from a key the keyring does not trust is refused
    stranger = init_identity(tmp_path / "stranger", common_name="Mallory")
    with pytest.raises(IntegrityError, match="does not trust"):
        accept_rotation(export_keyring(stranger, tmp_path / "s.json"), statement)
    forged = dict(statement) | {"payload": base64.b64encode(b'{"old_keyid": "x"}').decode()}
    with pytest.raises(IntegrityError):
        accept_rotation(load_keyring(tmp_path / "old-ring.json"), forged)


def envelope_keyids(envelope: dict[str, Any]) -> set[str]:
    return {s["keyid"] for s in envelope["signatures"]}
