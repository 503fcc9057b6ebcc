"""Signed report bundles that anyone holding the keyring can verify, and nobody can quietly alter.

Two signatures per bundle: ``attestation.json`` (DSSE envelope over an in-toto statement listing
the sha256 of every file, Ed25519) and a PAdES signature inside ``report.pdf`` (pyHanko, P-256
certificate from a local CA). ``verify_bundle`` trusts only the keyring it is given.

Modules, bottom up: ``dsse`` (envelopes, PAE, key ids; imports nothing else from here),
``times``, ``certs`` (X.509), ``keys`` (identity and keyring storage), ``rotation``, ``pdf``
(PAdES), ``attestation`` (signing a bundle), ``verify``.
"""

from .attestation import (
    ATTESTATION_FILE,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    ReportPredicate,
    bundle_signer,
    predicate_from_report,
    sign_bundle,
)
from .dsse import keyid_of, pae
from .keys import (
    KeyRecord,
    Keyring,
    SigningIdentity,
    export_keyring,
    identity_key_records,
    init_identity,
    load_identity,
    load_keyring,
)
from .rotation import Rotation, accept_rotation, rotate_identity
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
