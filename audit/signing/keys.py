"""Signing identities (private, on the signer's machine) and keyrings (public, for verifiers).

A signing identity is a folder holding two kinds of keys, because a bundle carries two signatures:

* an **attestation key** (Ed25519) signing the DSSE envelope ``attestation.json``, which binds the
  sha256 of every file of the bundle; and
* a small **local certificate authority** (P-256, ``BasicConstraints ca=True``, ``keyCertSign``)
  and a **PDF signer certificate** (P-256, ``digitalSignature`` + ``nonRepudiation``) it issued,
  used for the PAdES signature inside ``report.pdf`` so PDF readers show the document as signed.

Files in the folder (private keys PKCS#8 PEM, mode 0600, encrypted when a passphrase is given;
the folder itself is 0700)::

    identity.json           key ids, subjects, validity windows, history of retired keys
    attestation.key.pem     current Ed25519 attestation key
    ca.key.pem  ca.cert.pem         local certificate authority
    signer.key.pem  signer.cert.pem PDF signer key and certificate
    rotations/<n>-<keyid>.json      key-rotation statements (DSSE, signed by the old key)

A **keyring** is the public half that verifiers trust: attestation public keys with their
validity windows, the CA certificate as the only PDF trust root, and the sha256 fingerprints of
the PDF signer certificates the verifier expects. Key id = sha256 hex of the raw 32-byte Ed25519
public key, so the id is a commitment to the key; a verifier still recomputes it and refuses a
keyring entry whose id does not match its key.

Key rotation (a new key announced by the old one) lives in :mod:`audit.signing.rotation`; the
X.509 certificates in :mod:`audit.signing.certs`; key ids and envelopes in :mod:`audit.signing.dsse`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from audit.errors import InputError
from audit.safefs import write_file

from .certs import cert_fingerprint, cert_pem, make_ca, make_signer
from .dsse import b64decode, b64encode, keyid_of, raw_public_key
from .times import parse_utc, utc_text

__all__ = [
    "KeyRecord",
    "Keyring",
    "SigningIdentity",
    "export_keyring",
    "Purpose",
    "identity_key_records",
    "keyring_document",
    "keyring_from_document",
    "init_identity",
    "load_identity",
    "load_keyring",
    "read_private_key",
    "record_from_json",
    "save_identity",
    "write_public",
]

_IDENTITY_FORMAT = "audit-signing-identity/v1"

Status = Literal["active", "retired", "revoked"]

#: What a key may sign. ``bundle``: a runner's attestation and PDF signature; ``approval``: one
#: approver's sign-off (the record names the approver); ``token``: access tokens; ``log``:
#: access-log checkpoints; ``admin``: the trust configuration itself.
Purpose = Literal["bundle", "approval", "token", "log", "admin"]
PURPOSES: tuple[str, ...] = ("bundle", "approval", "token", "log", "admin")


@dataclass(frozen=True)
class KeyRecord:
    """One attestation public key and the window in which its signatures are accepted.

    A signature made at time ``t`` (the attested ``signed_at``) verifies only if
    ``not_before <= t <= not_after`` and the status is not ``revoked``.
    """

    keyid: str
    public_key: Ed25519PublicKey
    not_before: datetime
    not_after: datetime
    status: Status = "active"
    purpose: Purpose = "bundle"
    principal: str | None = None  # who holds the key (the approver, the runner's identity)

    def accepts(self, moment: datetime) -> bool:
        return self.status != "revoked" and self.not_before <= moment <= self.not_after

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "keyid": self.keyid,
            "algorithm": "ed25519",
            "public_key": b64encode(raw_public_key(self.public_key)),
            "not_before": utc_text(self.not_before),
            "not_after": utc_text(self.not_after),
            "status": self.status,
            "purpose": self.purpose,
        }
        if self.principal is not None:
            out["principal"] = self.principal
        return out


@dataclass(frozen=True)
class SigningIdentity:
    """A loaded signing identity: the private keys that sign bundles, and their public history."""

    folder: Path
    common_name: str
    attestation_key: Ed25519PrivateKey = field(repr=False)
    attestation: KeyRecord
    signer_key: ec.EllipticCurvePrivateKey = field(repr=False)
    signer_cert: x509.Certificate
    ca_cert: x509.Certificate
    retired: tuple[KeyRecord, ...] = ()
    retired_signers: tuple[str, ...] = ()

    @property
    def keyid(self) -> str:
        return self.attestation.keyid


@dataclass(frozen=True)
class Keyring:
    """What a verifier trusts: attestation keys by id, PDF trust roots, expected PDF signers."""

    keys: Mapping[str, KeyRecord]
    pdf_roots: tuple[x509.Certificate, ...]
    pdf_signers: frozenset[str]
    source: str = "<keyring>"

    def of(self, purpose: str) -> dict[str, KeyRecord]:
        """The keys that may sign ``purpose`` (a bundle key never verifies a token, ...)."""
        return {k: r for k, r in self.keys.items() if r.purpose == purpose}

    def public(self, purpose: str) -> dict[str, Ed25519PublicKey]:
        """Public keys of ``purpose`` by key id, revoked ones left out."""
        return {k: r.public_key for k, r in self.of(purpose).items() if r.status != "revoked"}


# --------------------------------------------------------------------------- writing files


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` with mode 0600 from the first byte (no window where others can read it),
    through a fresh sibling: a name planted beside it (a symlink) cannot redirect the key."""
    write_file(path, data, mode=0o600)


def write_public(path: Path, data: bytes) -> None:
    write_file(path, data, mode=0o644)


def _key_pem(key: Any, passphrase: str | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        if passphrase
        else serialization.NoEncryption()
    )
    return bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )


def _record_json(identity: SigningIdentity) -> dict[str, Any]:
    return {
        "format": _IDENTITY_FORMAT,
        "common_name": identity.common_name,
        "attestation": identity.attestation.to_json(),
        "retired": [r.to_json() for r in identity.retired],
        "pdf_signer": {
            "sha256": cert_fingerprint(identity.signer_cert),
            "subject": identity.signer_cert.subject.rfc4514_string(),
            "not_after": utc_text(identity.signer_cert.not_valid_after_utc),
        },
        "retired_signers": list(identity.retired_signers),
        "ca": {
            "sha256": cert_fingerprint(identity.ca_cert),
            "subject": identity.ca_cert.subject.rfc4514_string(),
        },
    }


def save_identity(identity: SigningIdentity, passphrase: str | None, ca_key: Any | None) -> None:
    folder = identity.folder
    _write_private(folder / "attestation.key.pem", _key_pem(identity.attestation_key, passphrase))
    _write_private(folder / "signer.key.pem", _key_pem(identity.signer_key, passphrase))
    write_public(folder / "signer.cert.pem", cert_pem(identity.signer_cert))
    if ca_key is not None:
        _write_private(folder / "ca.key.pem", _key_pem(ca_key, passphrase))
        write_public(folder / "ca.cert.pem", cert_pem(identity.ca_cert))
    # identity.json last: a crash before it leaves the previous identity.json describing keys
    # that no longer match, which load_identity detects instead of signing with a mismatch.
    write_public(
        folder / "identity.json", json.dumps(_record_json(identity), indent=2).encode() + b"\n"
    )


def init_identity(
    path: Path,
    *,
    common_name: str,
    passphrase: str | None = None,
    valid_days: int = 365,
    now: datetime | None = None,
) -> SigningIdentity:
    """Create a new signing identity in the folder ``path`` (created, mode 0700).

    Generates the Ed25519 attestation key (valid ``valid_days`` from now), a local CA (valid
    10 years) and a PDF signer certificate issued by it (valid ``valid_days``). Refuses to
    overwrite an existing identity: use ``rotate_identity`` to replace keys.
    """
    if not common_name.strip():
        raise InputError("the signing identity needs a common name", hint="pass --name 'Team X'")
    if valid_days < 1:
        raise InputError(f"valid_days must be at least 1, got {valid_days}")
    folder = Path(path)
    if (folder / "identity.json").exists():
        raise InputError(
            f"a signing identity already exists in {folder}",
            hint="use `audit keys rotate` to replace its keys, or choose another folder",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
    except OSError as exc:
        raise InputError(f"cannot create the key folder {folder}: {exc.strerror}") from None
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    not_after = moment + timedelta(days=valid_days)
    att = Ed25519PrivateKey.generate()
    ca_key, ca_cert = make_ca(common_name, moment)
    signer_key, signer_cert = make_signer(common_name, ca_key, ca_cert, moment, not_after)
    identity = SigningIdentity(
        folder=folder,
        common_name=common_name,
        attestation_key=att,
        attestation=KeyRecord(keyid_of(att.public_key()), att.public_key(), moment, not_after),
        signer_key=signer_key,
        signer_cert=signer_cert,
        ca_cert=ca_cert,
    )
    save_identity(identity, passphrase, ca_key)
    return identity


# --------------------------------------------------------------------------- loading


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"signing identity file {path} is missing",
            hint="create an identity with `audit keys init`, or point --keys at its folder",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def read_private_key(path: Path, passphrase: str | None) -> Any:
    data = _read(path)
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        return serialization.load_pem_private_key(data, password=password)
    except TypeError:
        if password is None:
            raise InputError(
                f"{path} is encrypted", hint="give the passphrase (--passphrase-file)"
            ) from None
        raise InputError(f"{path} is not encrypted, but a passphrase was given") from None
    except ValueError:
        raise InputError(
            f"cannot open the private key {path}: wrong passphrase, or not a PKCS#8 PEM key",
            hint="check the passphrase given for this key folder",
        ) from None


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError:
        raise InputError(f"{path} is not a PEM certificate") from None


def record_from_json(entry: Mapping[str, Any], where: str) -> KeyRecord:
    try:
        raw = b64decode(entry["public_key"])
        public = Ed25519PublicKey.from_public_bytes(raw)
        record = KeyRecord(
            keyid=entry["keyid"],
            public_key=public,
            not_before=parse_utc(entry["not_before"]),
            not_after=parse_utc(entry["not_after"]),
            status=entry.get("status", "active"),
            purpose=entry.get("purpose", "bundle"),
            principal=entry.get("principal"),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"{where}: malformed key entry ({exc})") from None
    if keyid_of(public) != record.keyid:
        raise InputError(
            f"{where}: key id {record.keyid[:16]}… does not match its public key",
            hint="the key id must be the sha256 of the raw public key; re-export the keyring",
        )
    return record


def load_identity(path: Path, passphrase: str | None = None) -> SigningIdentity:
    """Load the signing identity in folder ``path``, checking that its files belong together."""
    folder = Path(path)
    try:
        meta = json.loads(_read(folder / "identity.json"))
        common_name = meta["common_name"]
        att_meta = meta["attestation"]
        retired_meta = meta.get("retired", [])
        retired_signers = tuple(meta.get("retired_signers", []))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{folder / 'identity.json'} is malformed ({exc})") from None
    att = read_private_key(folder / "attestation.key.pem", passphrase)
    signer_key = read_private_key(folder / "signer.key.pem", passphrase)
    if not isinstance(att, Ed25519PrivateKey):
        raise InputError(f"{folder / 'attestation.key.pem'} is not an Ed25519 key")
    if not isinstance(signer_key, ec.EllipticCurvePrivateKey):
        raise InputError(f"{folder / 'signer.key.pem'} is not an elliptic-curve key")
    record = record_from_json(att_meta, str(folder / "identity.json"))
    signer_cert = _load_cert(folder / "signer.cert.pem")
    ca_cert = _load_cert(folder / "ca.cert.pem")
    if keyid_of(att.public_key()) != record.keyid:
        raise InputError(
            f"{folder / 'attestation.key.pem'} does not match the key id in identity.json",
            hint="the key folder is inconsistent (interrupted rotation?); restore it from backup",
        )
    if signer_cert.public_key() != signer_key.public_key():
        raise InputError(f"{folder / 'signer.cert.pem'} does not match signer.key.pem")
    return SigningIdentity(
        folder=folder,
        common_name=common_name,
        attestation_key=att,
        attestation=record,
        signer_key=signer_key,
        signer_cert=signer_cert,
        ca_cert=ca_cert,
        retired=tuple(record_from_json(r, str(folder / "identity.json")) for r in retired_meta),
        retired_signers=retired_signers,
    )


# --------------------------------------------------------------------------- keyring


class _KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keyid: str
    algorithm: Literal["ed25519"]
    public_key: str
    not_before: str
    not_after: str
    status: Status = "active"
    purpose: Purpose = "bundle"
    principal: str | None = None


class _KeyringModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: list[_KeyEntry]
    pdf_roots: list[str] = []
    pdf_signers: list[str] = []
    rotations: list[dict[str, Any]] = []


def identity_key_records(folder: Path) -> list[KeyRecord]:
    """The public key records (current and retired) of an identity folder; no passphrase needed."""
    where = str(folder / "identity.json")
    try:
        meta = json.loads(_read(folder / "identity.json"))
        keys = [record_from_json(meta["attestation"], where)]
        keys += [record_from_json(r, where) for r in meta.get("retired", [])]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{where} is malformed ({exc})") from None
    return keys


def export_keyring(source: SigningIdentity | Path, out: Path) -> Keyring:
    """Write the public keyring of an identity (or identity folder) to ``out`` as JSON.

    Lists the current key (``active``) and every retired key with its window, the CA certificate
    as the only PDF trust root, the fingerprints of the current and retired PDF signer
    certificates, and the rotation statements. Contains nothing secret; reading it from a folder
    decrypts no private key, so no passphrase is needed.
    """
    if isinstance(source, SigningIdentity):
        folder = source.folder
        keys = [source.attestation, *source.retired]
        signers = [cert_fingerprint(source.signer_cert), *source.retired_signers]
        ca_cert = source.ca_cert
    else:
        folder = Path(source)
        where = str(folder / "identity.json")
        keys = identity_key_records(folder)
        try:
            meta = json.loads(_read(folder / "identity.json"))
            signers = [meta["pdf_signer"]["sha256"], *meta.get("retired_signers", [])]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{where} is malformed ({exc})") from None
        ca_cert = _load_cert(folder / "ca.cert.pem")
    rot_dir = folder / "rotations"
    rotations = (
        [json.loads(p.read_bytes()) for p in sorted(rot_dir.glob("*.json"))]
        if rot_dir.is_dir()
        else []
    )
    document = {
        "keys": [k.to_json() for k in keys],
        "pdf_roots": [cert_pem(ca_cert).decode("ascii")],
        "pdf_signers": signers,
        "rotations": rotations,
    }
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_public(out, json.dumps(document, indent=2).encode() + b"\n")
    except OSError as exc:
        raise InputError(f"cannot write the keyring {out}: {exc.strerror}") from None
    return _keyring_from_model(_KeyringModel.model_validate(document), str(out))


def keyring_from_document(document: Any, source: str) -> Keyring:
    """A keyring from its JSON document (the exported file, or a trust configuration's)."""
    try:
        model = _KeyringModel.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"keyring {source}: field {loc or '(root)'}: {first['msg']}",
            hint='expected {"keys": [...], "pdf_roots": [...], "pdf_signers": [...]}',
        ) from None
    if not model.keys:
        raise InputError(f"keyring {source} lists no keys", hint="an empty keyring trusts nothing")
    return _keyring_from_model(model, source)


def keyring_document(ring: Keyring) -> dict[str, Any]:
    """The JSON document of ``ring`` (what :func:`keyring_from_document` reads back)."""
    return {
        "keys": [r.to_json() for r in ring.keys.values()],
        "pdf_roots": [cert_pem(c).decode("ascii") for c in ring.pdf_roots],
        "pdf_signers": sorted(ring.pdf_signers),
    }


def _keyring_from_model(model: _KeyringModel, source: str) -> Keyring:
    keys: dict[str, KeyRecord] = {}
    for i, entry in enumerate(model.keys):
        record = record_from_json(entry.model_dump(), f"{source}: keys[{i}]")
        keys[record.keyid] = record
    roots = []
    for i, pem in enumerate(model.pdf_roots):
        try:
            roots.append(x509.load_pem_x509_certificate(pem.encode("ascii")))
        except ValueError:
            raise InputError(f"{source}: pdf_roots[{i}] is not a PEM certificate") from None
    return Keyring(
        keys=keys,
        pdf_roots=tuple(roots),
        pdf_signers=frozenset(s.lower() for s in model.pdf_signers),
        source=source,
    )


def load_keyring(path: Path) -> Keyring:
    """Read and validate a keyring JSON file (the verifier's trust anchor)."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(
            f"keyring {path} does not exist", hint="get it from the signer: `audit keys export`"
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the keyring {path}: {exc}") from None
    return keyring_from_document(data, str(path))
