"""The audit home's trust configuration, kept honest by the access log.

``<home>/trust.json`` (see :mod:`audit.signing.trust`) declares every key and what it may sign;
``<home>/keys/`` holds the private halves, one per purpose::

    keys/admin.key.pem       signs trust.json            (purpose admin)
    keys/log.key.pem         signs log checkpoints       (purpose log)
    keys/token.key.pem       signs access tokens         (purpose token)
    keys/attestation.key.pem the runner identity's key   (purpose bundle; audit.signing.keys)
    keys/approvers/<user>.key.pem  one approver's key    (purpose approval, principal <user>)

Every change to trust.json is a ``keys:trust`` entry in the access log: the first records the
administrator's public key (the pin), each one the sha256 of the document it wrote. Loading
checks the signature against the pinned key and the digest against the latest entry, so an
edited, replaced or unlogged trust.json is refused (IntegrityError, exit 3). A key rotation is a
``keys:rotate`` entry; its time is the retired key's ``not_after``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..access import AccessLog, Actor, Entry, generate_key_file, load_private_key
from ..errors import InputError, IntegrityError
from ..safefs import locked, read_file, write_file
from ..signing.dsse import b64decode, b64encode, keyid_of, raw_public_key
from ..signing.keys import KeyRecord, Keyring, Purpose, SigningIdentity
from ..signing.times import parse_utc
from ..signing.trust import TRUST_FILE, TrustDocument, read_trust, sign_trust

__all__ = [
    "ADMIN_KEY",
    "LOG_KEY",
    "TOKEN_KEY",
    "approver_key",
    "enroll_identity",
    "ensure_trust",
    "load_trust",
    "log_key",
    "record_rotation",
    "token_key",
]

ADMIN_KEY = "admin.key.pem"
LOG_KEY = "log.key.pem"
TOKEN_KEY = "token.key.pem"
APPROVERS = "approvers"
TRUST_ACTION = "keys:trust"
ROTATE_ACTION = "keys:rotate"
#: Keys of purposes other than bundle and approval are long-lived; rotate them by a new home.
_LONG = timedelta(days=3650)
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


def _trust_entries(log: AccessLog) -> list[Entry]:
    return [e for e in log.entries_with_action(TRUST_ACTION) if e.details and e.decision == "allow"]


def load_trust(home: Path, log: AccessLog) -> TrustDocument | None:
    """The verified trust configuration of ``home`` (None before the first one is written)."""
    path = Path(home) / TRUST_FILE
    entries = _trust_entries(log)
    if not entries:
        if os.path.lexists(path):
            raise IntegrityError(
                f"{path} is not anchored in the access log (no keys:trust entry records it)",
                hint="a trust configuration appears only through `audit` itself; restore the "
                "home from backup",
            )
        return None
    try:
        admin = Ed25519PublicKey.from_public_bytes(
            b64decode(entries[0].details["admin_public_key"])  # type: ignore[index]
        )
        want = str(entries[-1].details["trust_sha256"])  # type: ignore[index]
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(
            f"access log: the keys:trust entries do not pin an administrator key (entry "
            f"{entries[0].seq} lacks or garbles {exc}): the log was altered",
            hint="run `audit log verify` to find the first altered entry; restore from backup",
        ) from None
    pending = path.with_name(TRUST_FILE + ".new")
    try:
        raw = read_file(path, limit=4 << 20)
    except InputError as exc:
        raw = b""
        missing = exc.message
    else:
        missing = ""
    if hashlib.sha256(raw).hexdigest() != want and os.path.lexists(pending):
        staged = read_file(pending, limit=4 << 20)  # a writer stopped between log and rename
        if hashlib.sha256(staged).hexdigest() == want:
            os.replace(pending, path)
            raw = staged
    if hashlib.sha256(raw).hexdigest() != want:
        raise IntegrityError(
            f"{path} is not the trust configuration the access log records "
            f"(sha256 {want[:16]}…): {missing or 'edited or replaced'}",
            hint="restore trust.json from backup; run `audit log verify`",
        )
    return read_trust(raw, admin, str(path))


def _key(folder: Path, name: str) -> Ed25519PrivateKey:
    path = folder / name
    if os.path.lexists(path):
        return load_private_key(path)
    return generate_key_file(path)


def _record(
    key: Ed25519PrivateKey, purpose: Purpose, principal: str | None, now: datetime
) -> KeyRecord:
    pub = key.public_key()
    return KeyRecord(
        keyid_of(pub),
        pub,
        now,
        now + _LONG,
        purpose=purpose,
        principal=principal,
    )


def _update(
    home: Path,
    log: AccessLog,
    actor: Actor,
    rbac_sha256: str,
    reason: str,
    change: Callable[[Keyring], Keyring],
) -> TrustDocument:
    """Apply ``change`` to the current configuration, sign, log, and put it in place."""
    home = Path(home)
    with locked(home / ".trust.lock"):
        current = load_trust(home, log)
        admin = _key(home / "keys", ADMIN_KEY)
        now = datetime.now(UTC).replace(microsecond=0)
        if current is None:
            base = Keyring({}, (), frozenset(), source=str(home / TRUST_FILE))
            rec = _record(admin, "admin", None, now)
            base = replace(base, keys={rec.keyid: rec})
            serial = 1
        else:
            if current.admin_keyid != keyid_of(admin.public_key()):
                raise IntegrityError(
                    f"{home / 'keys' / ADMIN_KEY} is not the administrator key the access log pins"
                )
            base, serial = current.keyring, current.serial + 1
        ring = change(base)
        raw = sign_trust(ring, serial, admin)
        details: dict[str, Any] = {
            "serial": serial,
            "trust_sha256": hashlib.sha256(raw).hexdigest(),
            "keys": sorted(f"{r.purpose}:{r.keyid[:16]}:{r.status}" for r in ring.keys.values()),
        }
        if current is None:
            details["admin_public_key"] = b64encode(raw_public_key(admin.public_key()))
        pending = home / (TRUST_FILE + ".new")
        write_file(pending, raw, mode=0o644)
        log.append(
            actor=actor,
            action=TRUST_ACTION,
            resource=f"trust:{serial}",
            decision="allow",
            reason=reason,
            rbac_sha256=rbac_sha256,
            details=details,
        )
        os.replace(pending, home / TRUST_FILE)
        return read_trust(raw, admin.public_key(), str(home / TRUST_FILE))


def _with(
    ring: Keyring, *records: KeyRecord, roots: tuple[Any, ...] = (), signers: tuple[str, ...] = ()
) -> Keyring:
    from ..signing.certs import cert_fingerprint

    keys = dict(ring.keys)
    for r in records:
        keys[r.keyid] = r
    have = {cert_fingerprint(c) for c in ring.pdf_roots}
    new_roots = tuple(c for c in roots if cert_fingerprint(c) not in have)
    return replace(
        ring,
        keys=keys,
        pdf_roots=ring.pdf_roots + new_roots,
        pdf_signers=ring.pdf_signers | {s.lower() for s in signers},
    )


def _identity_records(identity: SigningIdentity) -> list[KeyRecord]:
    who = identity.common_name
    return [
        replace(r, purpose="bundle", principal=who)
        for r in (identity.attestation, *identity.retired)
    ]


def ensure_trust(
    home: Path,
    log: AccessLog,
    actor: Actor,
    rbac_sha256: str,
    identity: SigningIdentity | None = None,
) -> TrustDocument:
    """The home's trust configuration, created on first use with an admin, a log and a token
    key (and the bundle key of ``identity``, when the home already has one)."""
    found = load_trust(home, log)
    if found is not None:
        return found
    folder = Path(home) / "keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def first(ring: Keyring) -> Keyring:
        now = datetime.now(UTC).replace(microsecond=0)
        records = [
            _record(_key(folder, LOG_KEY), "log", None, now),
            _record(_key(folder, TOKEN_KEY), "token", None, now),
        ]
        if identity is None:
            return _with(ring, *records)
        return _with(
            ring,
            *records,
            *_identity_records(identity),
            roots=(identity.ca_cert,),
            signers=_signers(identity),
        )

    return _update(home, log, actor, rbac_sha256, "trust configuration created", first)


def _signers(identity: SigningIdentity) -> tuple[str, ...]:
    from ..signing.certs import cert_fingerprint

    return (cert_fingerprint(identity.signer_cert), *identity.retired_signers)


def enroll_identity(
    home: Path, log: AccessLog, actor: Actor, rbac_sha256: str, identity: SigningIdentity
) -> TrustDocument:
    """Declare ``identity``'s attestation key (and its PDF CA) as a bundle key."""
    ensure_trust(home, log, actor, rbac_sha256)

    def add(ring: Keyring) -> Keyring:
        return _with(
            ring,
            *_identity_records(identity),
            roots=(identity.ca_cert,),
            signers=_signers(identity),
        )

    return _update(
        home, log, actor, rbac_sha256, f"bundle key of {identity.common_name!r} enrolled", add
    )


def record_rotation(
    home: Path,
    log: AccessLog,
    actor: Actor,
    rbac_sha256: str,
    identity: SigningIdentity,
    old_keyid: str,
) -> TrustDocument:
    """Log a rotation (``keys:rotate``) and retire the old key at the entry's time; the entry
    is written under the trust lock, with the trust update that follows it."""

    def rotate(ring: Keyring) -> Keyring:
        entry = log.append(
            actor=actor,
            action=ROTATE_ACTION,
            resource="keys",
            decision="allow",
            reason="bundle key rotated",
            rbac_sha256=rbac_sha256,
            details={"retired": old_keyid, "new": identity.keyid},
        )
        retired_at = parse_utc(entry.time)
        keys = dict(ring.keys)
        old = keys.get(old_keyid)
        if old is not None:
            keys[old_keyid] = replace(old, status="retired", not_after=retired_at)
        new = replace(identity.attestation, purpose="bundle", principal=identity.common_name)
        keys[new.keyid] = new
        return _with(
            replace(ring, keys=keys), roots=(identity.ca_cert,), signers=_signers(identity)
        )

    return _update(
        home, log, actor, rbac_sha256, f"rotation {old_keyid[:16]} -> {identity.keyid[:16]}", rotate
    )


def approver_key(
    home: Path, log: AccessLog, actor: Actor, rbac_sha256: str
) -> tuple[Ed25519PrivateKey, str]:
    """``actor``'s own approval key, created and enrolled (bound to them) on first use."""
    user = actor.label.replace(":", "-")
    if not _FILE_NAME.match(user):
        raise InputError(
            f"approver {actor.label!r} cannot name a key file", hint="use a plain account name"
        )
    path = Path(home) / "keys" / APPROVERS / f"{user}.key.pem"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = _key(path.parent, path.name)
    keyid = keyid_of(key.public_key())
    trust = ensure_trust(home, log, actor, rbac_sha256)
    held = trust.keyring.keys.get(keyid)
    if held is not None and held.purpose == "approval" and held.principal == actor.label:
        return key, keyid

    def add(ring: Keyring) -> Keyring:
        now = datetime.now(UTC).replace(microsecond=0)
        rec = replace(
            _record(key, "approval", actor.label, now), not_after=now + timedelta(days=730)
        )
        return _with(ring, rec)

    _update(home, log, actor, rbac_sha256, f"approval key of {actor.label} enrolled", add)
    return key, keyid


def log_key(home: Path) -> Ed25519PrivateKey | None:
    """The home's log key (None before the trust configuration exists)."""
    path = Path(home) / "keys" / LOG_KEY
    return load_private_key(path) if os.path.lexists(path) else None


def token_key(home: Path) -> Ed25519PrivateKey:
    path = Path(home) / "keys" / TOKEN_KEY
    if not os.path.lexists(path):
        raise InputError(
            f"{path} does not exist", hint="run any audit command once to set up the home"
        )
    return load_private_key(path)
