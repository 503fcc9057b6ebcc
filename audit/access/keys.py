"""Ed25519 key files for log checkpoints and tokens, until ``audit.signing`` owns key management.

A private key is a PKCS#8 PEM file created with mode 0600; a public key a SubjectPublicKeyInfo
PEM file. A key is named by its id, the SHA-256 hex of the raw 32-byte public key (the same id as
``audit.signing.keyid_of``), so a verifier can pick the right trusted key without trusting
anything else the signer says.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..digest import key_id
from ..errors import InputError
from ..safefs import read_file

#: Public keys, or a mapping of key id to public key (or to a keyring record), see :func:`keyring`.
TrustedKeys = Iterable[Ed25519PublicKey] | Mapping[str, Any]


def keyring(keys: TrustedKeys) -> dict[str, Ed25519PublicKey]:
    """Trusted public keys by key id.

    Accepts public keys, a mapping of key id to public key, or ``audit.signing.Keyring.keys``
    (key id to a record with a ``public_key`` attribute and a ``status``; revoked ones are
    dropped). Every id is recomputed from its key, so a mislabelled entry cannot be used.
    """
    if isinstance(keys, Mapping):
        found = []
        for value in keys.values():
            if getattr(value, "status", None) == "revoked":
                continue
            pub = getattr(value, "public_key", value)
            if isinstance(pub, Ed25519PublicKey):
                found.append(pub)
        return {key_id(k): k for k in found}
    return {key_id(k): k for k in keys}


def generate_key_file(path: Path) -> Ed25519PrivateKey:
    """Create a new Ed25519 private key at ``path`` (mode 0600; refuses to overwrite)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key (PKCS#8 PEM)."""
    key = _load(path, private=True)
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: not an Ed25519 private key", hint="use an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key (PEM), or derive it from a private key file."""
    key = _load(path, private=False)
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path}: not an Ed25519 public key", hint="use an Ed25519 key")
    return key


def public_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The public half as SubjectPublicKeyInfo PEM (what a verifier keeps in its keyring)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load(path: Path, *, private: bool) -> object:
    try:
        data = read_file(Path(path), limit=1 << 20)
    except InputError as exc:
        raise InputError(
            f"{path}: cannot read key file: {exc.message}", hint="check the path"
        ) from None
    try:
        if b"PRIVATE KEY" in data:
            return serialization.load_pem_private_key(data, password=None)
        if private:
            raise ValueError("no private key in the file")
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a PEM key file: {exc}") from None
