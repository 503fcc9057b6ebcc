"""The PAdES signature inside report.pdf: made with pyHanko, verified strictly.

Signing adds one incremental update to WeasyPrint's PDF holding a single signature field
(``/SubFilter /ETSI.CAdES.detached``, i.e. PAdES baseline B-B, SHA-256, ECDSA P-256) made with the
identity's signer certificate; the CA certificate is embedded in the CMS so readers can build
the chain. PDF readers then show the document as signed, and ``pdfsig`` reports it valid.

Verification is stricter than a PDF reader's, because a report is never legitimately changed
after signing. It accepts report.pdf only if all hold:

* exactly one signature field is filled, of sub-filter ``ETSI.CAdES.detached``;
* its byte range covers the entire file (nothing appended after it, no incremental update, not
  even a metadata-only one) and it lives in the last revision;
* the CMS signature is intact (the digest of the covered bytes matches) and valid;
* the signer certificate chains to a root in the keyring's ``pdf_roots`` - never to a
  certificate found in the PDF - with the key usage ``nonRepudiation``;
* the signer certificate's sha256 is one of the keyring's ``pdf_signers``.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from .keys import Keyring, SigningIdentity

__all__ = ["PDF_SUBFILTER", "SIGNATURE_FIELD", "sign_pdf", "verify_pdf"]

PDF_SUBFILTER = "/ETSI.CAdES.detached"
SIGNATURE_FIELD = "AuditSignature"


def _asn1_cert(cert: Any) -> Any:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def sign_pdf(
    path: Path,
    identity: SigningIdentity,
    *,
    reason: str | None = None,
    field_name: str = SIGNATURE_FIELD,
) -> None:
    """PAdES-sign the PDF at ``path`` in place with ``identity``'s signer certificate.

    The signature goes into a new invisible field ``field_name``, in one incremental update.
    """
    from asn1crypto import keys as asn1_keys
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key_der = identity.signer_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    ca = _asn1_cert(identity.ca_cert)
    signer = signers.SimpleSigner(
        signing_cert=_asn1_cert(identity.signer_cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([ca]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason or "Audit report: issued and sealed by its signer",
        name=identity.common_name,
    )
    data = Path(path).read_bytes()
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=True)
    signers.sign_pdf(writer, meta, signer=signer, output=out)
    Path(path).write_bytes(out.getvalue())


def verify_pdf(path: Path, keyring: Keyring, *, moment: datetime | None = None) -> list[str]:
    """Problems with report.pdf's signature (empty if it passes every check in the module doc).

    ``moment`` is the time the certificate chain is validated at: the attested signing time when
    the caller has it (so a report stays verifiable after its signer certificate expires),
    otherwise now.
    """
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    name = Path(path).name
    if not keyring.pdf_roots:
        return [f"{name}: the keyring has no pdf_roots, so no PDF signature can be trusted"]
    if not keyring.pdf_signers:
        return [f"{name}: the keyring names no expected PDF signer (pdf_signers is empty)"]
    data = Path(path).read_bytes()
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        sigs = list(reader.embedded_signatures)
        last = reader.xrefs.total_revisions - 1
    except PdfReadError as exc:
        return [f"{name}: not a readable PDF ({exc})"]
    except Exception as exc:  # a hostile file may break the parser anywhere: never crash
        return [f"{name}: not a readable PDF ({type(exc).__name__}: {exc})"]
    if not sigs:
        return [f"{name}: carries no PDF signature"]
    if len(sigs) != 1:
        return [f"{name}: carries {len(sigs)} signatures; exactly one is expected"]
    sig = sigs[0]
    problems = []
    subfilter = str(sig.sig_object.get("/SubFilter"))
    if subfilter != PDF_SUBFILTER:
        problems.append(f"{name}: signature sub-filter is {subfilter}, expected {PDF_SUBFILTER}")
    if sig.signed_revision != last:
        problems.append(
            f"{name}: {last - sig.signed_revision} incremental update(s) were added after the "
            "signature"
        )
    context = ValidationContext(
        trust_roots=[_asn1_cert(c) for c in keyring.pdf_roots],
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=(moment or datetime.now(UTC)).astimezone(UTC),
    )
    try:
        status = validate_pdf_signature(sig, context)
    except Exception as exc:  # pyHanko raises many types on malformed CMS; all mean "invalid"
        return [*problems, f"{name}: the signature cannot be validated ({exc})"]
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        problems.append(
            f"{name}: the signature does not cover the whole file (coverage "
            f"{getattr(status.coverage, 'name', 'unknown')}): bytes or an incremental update "
            "were added after signing"
        )
    if not status.intact:
        problems.append(f"{name}: the signed bytes were changed (digest mismatch)")
    elif not status.valid:
        problems.append(f"{name}: the cryptographic signature is invalid")
    if not status.trusted:
        problems.append(
            f"{name}: the signer certificate does not chain to a root in the keyring "
            f"({status.trust_problem_indic})"
        )
    fingerprint = "sha256:" + hashlib.sha256(status.signing_cert.dump()).hexdigest()
    if fingerprint not in keyring.pdf_signers:
        subject = status.signing_cert.subject.human_friendly
        problems.append(
            f"{name}: signed by {subject} ({fingerprint[:23]}…), not an expected signer in the "
            "keyring"
        )
    return problems
