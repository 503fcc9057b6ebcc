"""Attacks on a signed bundle: each must be caught (integrity error, exit 3) and named.

One real bundle (report.json, report.html, WeasyPrint report.pdf, junit.xml, summary.md) is
signed once per module as v1 and v2 of one report; every attack works on a copy. PDF attacks are
made with pyHanko's own writer (incremental updates, a second signature) and pypdf (rewriting
the file without its signature), the way an attacker would, so the strict PDF check - not only
the file digest - must name each of them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pypdf import PdfReader, PdfWriter

from audit.contract import Report
from audit.errors import IntegrityError
from audit.report import bundle_renderers
from audit.signing import (
    SigningIdentity,
    VerificationResult,
    export_keyring,
    init_identity,
    latest_version_beside,
    predicate_from_report,
    rotate_identity,
    sign_bundle,
    verify_bundle,
)
from audit.signing.pdf import sign_pdf, verify_pdf
from tests.helpers import AnchorLog

FIXTURE = Path(__file__).parent / "fixtures" / "report_example.json"
NAME = json.loads(FIXTURE.read_text())["subject"]["name"]
FILES = ["report.json", "report.html", "report.pdf", "junit.xml", "summary.md"]


def make_bundle(folder: Path, report: dict[str, Any], pdf_from: Path | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "report.json").write_bytes(Report.model_validate(report).to_bytes())
    if pdf_from is None:
        typed = Report.model_validate(report)
        for render in bundle_renderers()[:2]:  # report.html and report.pdf
            render(typed, folder)
    else:
        for name in ("report.html", "report.pdf"):
            (folder / name).write_bytes((pdf_from / name).read_bytes())
    (folder / "junit.xml").write_text('<testsuite name="audit" tests="0"/>\n')
    (folder / "summary.md").write_text(f"# Audit {report['report_id']} v{report['version']}\n")
    return folder


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attacks")


@pytest.fixture(scope="module")
def identity(work: Path) -> SigningIdentity:
    return init_identity(work / "keys", common_name="Model Risk Team")


@pytest.fixture(scope="module")
def anchors(work: Path) -> AnchorLog:
    return AnchorLog(work)


@pytest.fixture(scope="module")
def keyring(work: Path, identity: SigningIdentity, anchors: AnchorLog) -> Path:
    export_keyring(identity, work / "keyring.json")
    return anchors.keyring(work / "keyring.json")


@pytest.fixture(scope="module")
def reports(work: Path, identity: SigningIdentity, anchors: AnchorLog) -> Path:
    """reports/credit/v1 and v2 of one audited system, v2 pointing back at v1."""
    base: dict[str, Any] = json.loads(FIXTURE.read_text())
    root = work / "reports" / NAME
    v1 = dict(base, version=1, previous=None)
    make_bundle(work / "unsigned-v1", v1)
    shutil.copytree(work / "unsigned-v1", root / "v1")
    sign_bundle(root / "v1", identity, predicate=predicate_from_report(Report.model_validate(v1)))
    anchors.anchor(root / "v1", identity.keyid)
    prev = "sha256:" + hashlib.sha256((root / "v1" / "report.json").read_bytes()).hexdigest()
    v2 = dict(base, version=2, previous=prev, report_id="4d1d6c38-1a1e-4c0e-9a7e-5f3b8a2c9e11")
    make_bundle(root / "v2", v2, pdf_from=work / "unsigned-v1")
    sign_bundle(root / "v2", identity, predicate=predicate_from_report(Report.model_validate(v2)))
    anchors.anchor(root / "v2", identity.keyid)
    return root


@pytest.fixture
def victim(tmp_path: Path, reports: Path) -> Path:
    """A fresh copy of the signed v1 bundle, to attack."""
    folder = tmp_path / NAME / "v1"
    shutil.copytree(reports / "v1", folder)
    return folder


def caught(result: VerificationResult, *needles: str) -> str:
    """Assert the attack failed verification (exit 3) and each needle names a problem."""
    assert not result.ok, "attack was not detected"
    with pytest.raises(IntegrityError) as info:
        result.raise_for_problems()
    assert info.value.exit_code == 3
    text = "\n".join(result.problems)
    for needle in needles:
        assert needle in text, f"{needle!r} not in problems:\n{text}"
    return text


def test_the_untouched_bundles_verify(reports: Path, keyring: Path, victim: Path) -> None:
    assert verify_bundle(reports / "v2", keyring, latest_version=2).problems == ()
    assert verify_bundle(victim, keyring).problems == ()


# -- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*FILES, "attestation.json"])
def test_flipped_byte_in_each_file(victim: Path, keyring: Path, name: str) -> None:
    path = victim / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = verify_bundle(victim, keyring)
    if name == "attestation.json":
        caught(result, "attestation.json")
    else:
        caught(result, f"{name}: sha256 differs from the attested digest")


@pytest.mark.parametrize("name", FILES)
def test_file_removed(victim: Path, keyring: Path, name: str) -> None:
    (victim / name).unlink()
    caught(verify_bundle(victim, keyring), f"{name}: listed in the attestation but missing")


def test_attestation_removed(victim: Path, keyring: Path) -> None:
    (victim / "attestation.json").unlink()
    caught(verify_bundle(victim, keyring), "attestation.json: missing, the bundle is not signed")


@pytest.mark.parametrize("name", ["notes.txt", ".hidden", "extra/report.pdf"])
def test_file_added(victim: Path, keyring: Path, name: str) -> None:
    (victim / name).parent.mkdir(exist_ok=True)
    (victim / name).write_text("trust me\n")
    caught(verify_bundle(victim, keyring), f"{name}: extra file, not covered by the attestation")


# -- envelope ---------------------------------------------------------------------------------


def edit_envelope(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "attestation.json"
    envelope = json.loads(path.read_text())
    change(envelope)
    path.write_text(json.dumps(envelope))


def test_payload_edited(victim: Path, keyring: Path) -> None:
    def flip_outcome(envelope: dict[str, Any]) -> None:
        statement = json.loads(base64.b64decode(envelope["payload"]))
        statement["predicate"]["outcome"] = "pass"
        envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()

    edit_envelope(victim, flip_outcome)
    caught(verify_bundle(victim, keyring), "does not verify: the payload or its type was changed")


def test_payload_type_changed(victim: Path, keyring: Path) -> None:
    edit_envelope(victim, lambda e: e.update(payloadType="application/json"))
    caught(
        verify_bundle(victim, keyring),
        "payload type is 'application/json'",
        "does not verify",
    )


def test_envelope_of_another_bundle(victim: Path, reports: Path, keyring: Path) -> None:
    shutil.copy(reports / "v2" / "attestation.json", victim / "attestation.json")
    caught(
        verify_bundle(victim, keyring),
        "report.json: sha256 differs",
        "summary.md: sha256 differs",
        "the folder claims version 1 but the attestation is for version 2",
    )


def test_key_not_in_keyring(
    tmp_path: Path, work: Path, victim: Path, keyring: Path, reports: Path
) -> None:
    # Mallory re-signs the bundle with her own identity and ships her keyring beside it.
    mallory = init_identity(tmp_path / "mallory", common_name="Model Risk Team")
    (victim / "attestation.json").unlink()
    (victim / "report.pdf").write_bytes((work / "unsigned-v1" / "report.pdf").read_bytes())
    report = json.loads((victim / "report.json").read_text())
    sign_bundle(victim, mallory, predicate=predicate_from_report(Report.model_validate(report)))
    export_keyring(mallory, victim.parent / "keyring.json")  # beside the bundle: ignored
    text = caught(verify_bundle(victim, keyring), "which is not in the keyring")
    assert mallory.keyid[:16] in text
    # and she cannot borrow the trusted key's id: the signature must verify with that key
    trusted_id = json.loads(keyring.read_text())["keys"][0]["keyid"]
    edit_envelope(victim, lambda e: e["signatures"][0].update(keyid=trusted_id))
    caught(verify_bundle(victim, keyring), f"signature by key {trusted_id[:16]}… does not verify")


def test_key_outside_its_validity_window(
    tmp_path: Path, work: Path, reports: Path, keyring: Path
) -> None:
    # The key was retired by a rotation; a thief of the old key signs afterwards.
    keys = tmp_path / "keys"
    old = init_identity(keys, common_name="Model Risk Team")
    rotate_identity(keys, now=datetime.now(UTC) - timedelta(hours=1))
    ring = tmp_path / "ring.json"
    export_keyring(keys, ring)
    folder = tmp_path / NAME / "v1"
    shutil.copytree(work / "unsigned-v1", folder)
    report = json.loads((folder / "report.json").read_text())
    sign_bundle(folder, old, predicate=predicate_from_report(Report.model_validate(report)))
    caught(verify_bundle(folder, ring), f"outside the validity window of key {old.keyid[:16]}")


def test_revoked_key(tmp_path: Path, victim: Path, keyring: Path) -> None:
    doc = json.loads(keyring.read_text())
    doc["keys"][0]["status"] = "revoked"
    (tmp_path / "ring.json").write_text(json.dumps(doc))
    caught(verify_bundle(victim, tmp_path / "ring.json"), "is revoked")


# -- PDF --------------------------------------------------------------------------------------


def pdf_problems(folder: Path, keyring: Path) -> str:
    """Verify, assert failure, and return the report.pdf lines (the PDF check's own verdict)."""
    text = caught(verify_bundle(folder, keyring), "report.pdf: sha256 differs")
    return "\n".join(line for line in text.splitlines() if line.startswith("report.pdf: "))


def incremental(path: Path, change: Callable[[IncrementalPdfFileWriter], None]) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(path.read_bytes()))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    path.write_bytes(out.getvalue())


def test_pdf_incremental_update_page_content(victim: Path, keyring: Path) -> None:
    def paint_over(w: IncrementalPdfFileWriter) -> None:
        stream = generic.StreamObject(stream_data=b"q 1 1 1 rg 50 50 400 200 re f Q")
        w.add_stream_to_page(0, w.add_object(stream))

    incremental(victim / "report.pdf", paint_over)
    text = pdf_problems(victim, keyring)
    assert "incremental update(s) were added after the signature" in text
    assert "does not cover the whole file" in text


def test_pdf_incremental_update_metadata_only(victim: Path, keyring: Path) -> None:
    def retitle(w: IncrementalPdfFileWriter) -> None:
        info = generic.DictionaryObject(
            {generic.NameObject("/Title"): generic.TextStringObject("Approved")}
        )
        w.set_info(w.add_object(info))  # a new document information dictionary, nothing else

    incremental(victim / "report.pdf", retitle)
    assert "incremental update(s) were added after the signature" in pdf_problems(victim, keyring)


def test_pdf_bytes_appended_after_eof(victim: Path, keyring: Path) -> None:
    with (victim / "report.pdf").open("ab") as fh:
        fh.write(b"\n% appended after the end\n")
    assert "does not cover the whole file" in pdf_problems(victim, keyring)


def test_pdf_second_signature(victim: Path, keyring: Path, identity: SigningIdentity) -> None:
    # even a second signature by the trusted signer itself is refused: exactly one is expected
    sign_pdf(victim / "report.pdf", identity, field_name="Countersignature")
    assert "carries 2 signatures; exactly one is expected" in pdf_problems(victim, keyring)


def test_pdf_signature_removed(victim: Path, keyring: Path) -> None:
    reader = PdfReader(victim / "report.pdf")
    writer = PdfWriter()
    for page in reader.pages:
        if "/Annots" in page:
            del page["/Annots"]
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    (victim / "report.pdf").write_bytes(out.getvalue())
    assert len(PdfReader(victim / "report.pdf").pages) == len(reader.pages)
    assert "carries no PDF signature" in pdf_problems(victim, keyring)


def test_pdf_resigned_by_an_untrusted_certificate(
    tmp_path: Path, work: Path, victim: Path, keyring: Path
) -> None:
    mallory = init_identity(tmp_path / "mallory", common_name="Model Risk Team")
    (victim / "report.pdf").write_bytes((work / "unsigned-v1" / "report.pdf").read_bytes())
    sign_pdf(victim / "report.pdf", mallory)
    text = pdf_problems(victim, keyring)
    assert "does not chain to a root in the keyring" in text
    assert "not an expected signer" in text


def test_pdf_signer_not_expected(tmp_path: Path, victim: Path, keyring: Path) -> None:
    # the keyring trusts the CA but expects another signer certificate
    doc = json.loads(keyring.read_text())
    doc["pdf_signers"] = ["sha256:" + "0" * 64]
    (tmp_path / "ring.json").write_text(json.dumps(doc))
    caught(verify_bundle(victim, tmp_path / "ring.json"), "not an expected signer in the keyring")
    assert verify_pdf(victim / "report.pdf", verify_keyring(keyring)) == []


def verify_keyring(path: Path) -> Any:
    from audit.signing import load_keyring

    return load_keyring(path)


# -- rollback ---------------------------------------------------------------------------------


def test_older_version_presented_as_current(reports: Path, keyring: Path, tmp_path: Path) -> None:
    assert latest_version_beside(reports / "v1") == 2
    caught(
        verify_bundle(reports / "v1", keyring, latest_version=2),
        "rollback: this is version 1",
        "the latest version is 2",
    )
    # renaming the old bundle to look like a new version does not help
    fake = tmp_path / NAME / "v3"
    shutil.copytree(reports / "v1", fake)
    caught(
        verify_bundle(fake, keyring, latest_version=3),
        "the folder claims version 3 but the attestation is for version 1",
        "rollback",
    )


# -- malformed input never crashes the verifier --------------------------------------------------


@pytest.mark.parametrize("name", ["report.pdf", "attestation.json"])
def test_random_corruption_is_reported_not_raised(
    tmp_path: Path, reports: Path, keyring: Path, name: str
) -> None:
    import random

    rng = random.Random(7)
    original = (reports / "v1" / name).read_bytes()
    for trial in range(12):
        folder = tmp_path / f"t{trial}" / "v1"
        shutil.copytree(reports / "v1", folder)
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if bytes(data) == original:
            continue
        (folder / name).write_bytes(bytes(data))
        caught(verify_bundle(folder, keyring), name)
