"""The records of the access log: entries, signed checkpoints, and what a verification found.

An entry is stored as the exact bytes of its canonical JSON (``audit.digest.canonical_json``:
sorted keys, no spaces, UTF-8); its hash is the SHA-256 of those bytes, and each entry's
``prev_hash`` is the hash of the one before it (64 zeros for the first). A checkpoint signs (log
id, size, RFC 6962 Merkle root of the first ``size`` bodies, hash of entry ``size``) with an
Ed25519 key. The store is :class:`audit.access.log.AccessLog`; checking a chain is
:mod:`audit.access.chain`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..digest import canonical_json
from ..errors import InputError, IntegrityError
from ..jsonio import max_depth
from .keys import key_id

__all__ = [
    "CHECKPOINT_KIND",
    "GENESIS",
    "Checkpoint",
    "Entry",
    "LogFilter",
    "LogVerification",
    "checkpoint_from_row",
    "now_text",
    "sign_checkpoint",
]

GENESIS = "0" * 64
#: Entries are flat records (``details`` one level down): anything deeper is not one.
ENTRY_DEPTH = 16
CHECKPOINT_KIND = "audit.access-log.checkpoint"


def now_text() -> str:
    """The current UTC time, ISO-8601 with microseconds and ``Z`` (entry and checkpoint times)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Entry:
    """One access decision, as chained into the log. ``hash`` is SHA-256 of the stored body."""

    seq: int
    time: str
    actor: str
    actor_source: str
    uid: int
    token_id: str | None
    action: str
    resource: str
    decision: Literal["allow", "deny"]
    reason: str
    rbac_sha256: str
    prev_hash: str
    hash: str
    #: What the action produced, for entries that anchor evidence (``report:publish``: the
    #: bundle's name, version, digests; ``keys:rotate``: the retired and new key). Omitted from
    #: the body when None, so entries written before it existed keep their bytes and hashes.
    details: dict[str, Any] | None = None

    def body(self) -> bytes:
        """The canonical bytes that are stored and hashed (every field but ``hash``)."""
        return canonical_json(
            {
                f.name: getattr(self, f.name)
                for f in fields(self)
                if f.name != "hash" and not (f.name == "details" and self.details is None)
            }
        )

    @classmethod
    def from_body(cls, body: bytes) -> Entry:
        """Parse stored bytes; raise IntegrityError if they are not an entry."""
        try:
            if max_depth(body) > ENTRY_DEPTH:
                raise ValueError(f"nested more than {ENTRY_DEPTH} levels deep")
            data = json.loads(body)
            if not isinstance(data.get("details", {}), dict):
                raise TypeError("details is not an object")
            return cls(**data, hash=hashlib.sha256(body).hexdigest())
        except (ValueError, TypeError, AttributeError) as exc:
            raise IntegrityError(
                f"access log entry is malformed: {exc}", hint="run `audit log verify`"
            ) from None


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "the log ``log_id`` had ``size`` entries with this Merkle root".

    ``signature`` is base64 Ed25519 over :meth:`body`, the canonical JSON of every other field.
    Embed :meth:`to_dict` in a report or an export; :meth:`from_dict` reads it back.
    """

    log_id: str
    size: int
    root: str
    last_hash: str
    time: str
    key_id: str
    signature: str

    def body(self) -> bytes:
        return canonical_json(
            {
                "kind": CHECKPOINT_KIND,
                "log_id": self.log_id,
                "size": self.size,
                "root": self.root,
                "last_hash": self.last_hash,
                "time": self.time,
                "key_id": self.key_id,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {**json.loads(self.body()), "signature": self.signature}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Read a checkpoint written by :meth:`to_dict`; raise InputError if it is malformed."""
        try:
            if data.get("kind") != CHECKPOINT_KIND:
                raise ValueError(f"kind is not {CHECKPOINT_KIND!r}")
            return cls(
                log_id=str(data["log_id"]),
                size=int(data["size"]),
                root=str(data["root"]),
                last_hash=str(data["last_hash"]),
                time=str(data["time"]),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"not an access-log checkpoint: {exc}") from None

    def check_signature(self, trusted: Mapping[str, Ed25519PublicKey]) -> str | None:
        """``None`` if a trusted key signed this checkpoint, else what is wrong."""
        key = trusted.get(self.key_id)
        if key is None:
            return f"checkpoint of size {self.size} is signed by {self.key_id}, which is not a trusted key"
        try:
            key.verify(base64.b64decode(self.signature, validate=True), self.body())
        except (InvalidSignature, ValueError):
            return f"checkpoint of size {self.size} has an invalid signature (forged or altered)"
        return None


@dataclass(frozen=True)
class LogVerification:
    """The result of verifying a log. ``first_bad_seq`` is the first entry that cannot be trusted."""

    ok: bool
    entries: int
    checkpoints: int
    problems: tuple[str, ...]
    first_bad_seq: int | None
    root: str


@dataclass(frozen=True)
class LogFilter:
    """Which entries :meth:`AccessLog.entries` yields. Text fields are shell-style globs
    (``report:*``); times are inclusive ISO-8601 bounds in UTC."""

    actor: str | None = None
    action: str | None = None
    resource: str | None = None
    decision: Literal["allow", "deny"] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, e: Entry) -> bool:
        if self.actor is not None and not fnmatchcase(e.actor, self.actor):
            return False
        if self.action is not None and not fnmatchcase(e.action, self.action):
            return False
        if self.resource is not None and not fnmatchcase(e.resource, self.resource):
            return False
        if self.decision is not None and e.decision != self.decision:
            return False
        if self.since is not None or self.until is not None:
            t = datetime.fromisoformat(e.time)
            if self.since is not None and t < _utc(self.since):
                return False
            if self.until is not None and t > _utc(self.until):
                return False
        return True


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def sign_checkpoint(
    log_id: str, size: int, root: str, last_hash: str, key: Ed25519PrivateKey
) -> Checkpoint:
    """A checkpoint of the log ``log_id`` at ``size`` entries, signed now with ``key``."""
    unsigned = Checkpoint(log_id, size, root, last_hash, now_text(), key_id(key), signature="")
    sig = base64.b64encode(key.sign(unsigned.body())).decode()
    return Checkpoint(log_id, size, root, last_hash, unsigned.time, unsigned.key_id, sig)


def checkpoint_from_row(body: bytes, signature: str) -> Checkpoint:
    """A checkpoint as stored (its body and signature apart); InputError if it is malformed."""
    try:
        data = json.loads(bytes(body))
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    return Checkpoint.from_dict({**data, "signature": signature})
