"""Signed report bundles that anyone holding the keyring can verify, and nobody can quietly alter.

Two signatures per bundle: ``attestation.json`` (DSSE envelope over an in-toto statement listing
the sha256 of every file, Ed25519) and a PAdES signature inside ``report.pdf`` (pyHanko, P-256
certificate from a local CA). ``verify_bundle`` trusts only the keyring it is given.
"""

from .attestation import (
    ATTESTATION_FILE,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    ReportPredicate,
    bundle_signer,
    pae,
    predicate_from_report,
    sign_bundle,
)
from .keys import (
    KeyRecord,
    Keyring,
    Rotation,
    SigningIdentity,
    accept_rotation,
    export_keyring,
    identity_key_records,
    init_identity,
    keyid_of,
    load_identity,
    load_keyring,
    rotate_identity,
)
from .verify import VerificationResult, latest_version_beside, verify_bundle

__all__ = [
    "ATTESTATION_FILE",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "KeyRecord",
    "Keyring",
    "ReportPredicate",
    "Rotation",
    "SigningIdentity",
    "VerificationResult",
    "accept_rotation",
    "bundle_signer",
    "export_keyring",
    "identity_key_records",
    "init_identity",
    "keyid_of",
    "latest_version_beside",
    "load_identity",
    "load_keyring",
    "pae",
    "predicate_from_report",
    "rotate_identity",
    "sign_bundle",
    "verify_bundle",
]
