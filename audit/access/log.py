"""The access log: append-only, hash-chained, with signed Merkle checkpoints, in SQLite (WAL).

Each entry is stored as the exact bytes of its canonical JSON (sorted keys, no spaces, UTF-8)::

    hash(entry n) = SHA-256(body n)        body n holds prev_hash = hash(entry n-1), or 64 zeros

so changing, deleting, reordering or inserting an entry breaks the chain at that entry, and a
whitespace change is caught because verification compares stored bytes with their canonical form.
A *checkpoint* signs (log id, size, RFC 6962 Merkle root of the first ``size`` bodies, hash of
entry ``size``) with an Ed25519 key. A writer who rewrites the whole chain cannot re-sign old
checkpoints, and one who truncates the log cannot shrink the checkpoints held elsewhere (inside
signed reports, in exports given to an auditor): ``verify`` checks the log against both.

Appends run in ``BEGIN IMMEDIATE`` transactions, so concurrent processes serialise on SQLite's
write lock and never fork the chain; a process killed mid-write leaves the last committed state.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import IO, Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import InputError, IntegrityError
from .identity import Actor
from .keys import TrustedKeys, key_id, keyring
from .merkle import MerkleFrontier
from .rbac import Decision

GENESIS = "0" * 64
CHECKPOINT_KIND = "audit.access-log.checkpoint"
_MAX_PROBLEMS = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, body BLOB NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY, body BLOB NOT NULL, signature TEXT NOT NULL, frontier TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS entries_append_only_u BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_append_only_d BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_append_only_u BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_append_only_d BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
"""


def canonical(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON bytes: sorted keys, ``,``/``:`` separators, UTF-8, no trailing newline."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _now() -> str:
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

    def body(self) -> bytes:
        """The canonical bytes that are stored and hashed (every field but ``hash``)."""
        return canonical({f.name: getattr(self, f.name) for f in fields(self) if f.name != "hash"})

    @classmethod
    def from_body(cls, body: bytes) -> Entry:
        """Parse stored bytes; raise IntegrityError if they are not an entry."""
        try:
            data = json.loads(body)
            return cls(**data, hash=hashlib.sha256(body).hexdigest())
        except (ValueError, TypeError) as exc:
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
        return canonical(
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


class AccessLog:
    """An append-only, hash-chained access log in one SQLite file (WAL mode).

    ``signing_key`` (optional) signs a checkpoint automatically every ``checkpoint_every``
    entries, inside the same transaction as the entry that reaches the multiple. ``durable=True``
    fsyncs every commit (``synchronous=FULL``); the default (``NORMAL``) survives any process
    crash and loses at most the last commits on a power cut, and checkpoints are always fsynced.
    """

    def __init__(
        self,
        path: Path,
        *,
        signing_key: Ed25519PrivateKey | None = None,
        checkpoint_every: int = 1000,
        durable: bool = False,
        busy_timeout_s: float = 60.0,
    ) -> None:
        if checkpoint_every < 1:
            raise InputError(f"checkpoint_every must be at least 1, not {checkpoint_every}")
        self.path = Path(path)
        self.signing_key = signing_key
        self.checkpoint_every = checkpoint_every
        self._sync = "FULL" if durable else "NORMAL"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=busy_timeout_s, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={self._sync}")
            with self._transaction():
                for stmt in filter(None, (s.strip() for s in _split_sql(_SCHEMA))):
                    self._db.execute(stmt)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('log_id', ?)",
                    (str(uuid.uuid4()),),
                )
            row = self._db.execute("SELECT value FROM meta WHERE key = 'log_id'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(
                f"{self.path}: cannot open the access log: {exc}",
                hint="check the path and its permissions (the log is a SQLite file)",
            ) from None
        self.log_id: str = row[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AccessLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self, *, read_only: bool = False) -> _Tx:
        return _Tx(self._db, read_only)

    # --- writing ---------------------------------------------------------------------------

    def append(
        self,
        *,
        actor: Actor,
        action: str,
        resource: str,
        decision: Literal["allow", "deny"],
        reason: str,
        rbac_sha256: str,
    ) -> Entry:
        """Chain one entry onto the log (and sign a checkpoint if one is due)."""
        with self._transaction():
            last = self._db.execute(
                "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            draft = Entry(
                seq=seq,
                time=_now(),
                actor=actor.user,
                actor_source=actor.source,
                uid=actor.uid,
                token_id=actor.token_id,
                action=action,
                resource=resource,
                decision=decision,
                reason=reason,
                rbac_sha256=rbac_sha256,
                prev_hash=prev,
                hash="",
            )
            body = draft.body()
            digest = hashlib.sha256(body).hexdigest()
            self._db.execute(
                "INSERT INTO entries (seq, body, hash) VALUES (?, ?, ?)", (seq, body, digest)
            )
            if self.signing_key is not None and seq % self.checkpoint_every == 0:
                self._checkpoint_locked(self.signing_key)
        return Entry.from_body(body)

    def record(self, actor: Actor, decision: Decision, rbac_sha256: str) -> Entry:
        """Log an RBAC :class:`~audit.access.rbac.Decision` for ``actor``."""
        return self.append(
            actor=actor,
            action=decision.action,
            resource=decision.resource,
            decision=decision.verdict,
            reason=decision.reason,
            rbac_sha256=rbac_sha256,
        )

    def checkpoint(self, signing_key: Ed25519PrivateKey) -> Checkpoint:
        """Sign a checkpoint of the log as it is now (fsynced), e.g. when a report is signed.

        The entries added since the previous checkpoint are verified first: a checkpoint must
        never vouch for a chain that is already broken (raises IntegrityError).
        """
        self._db.execute("PRAGMA synchronous=FULL")
        try:
            with self._transaction():
                return self._checkpoint_locked(signing_key)
        finally:
            self._db.execute(f"PRAGMA synchronous={self._sync}")

    def _checkpoint_locked(self, signing_key: Ed25519PrivateKey) -> Checkpoint:
        frontier = MerkleFrontier()
        start, prev = 0, GENESIS
        last = self._db.execute(
            "SELECT body, signature, frontier FROM checkpoints ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if last is not None:
            cp = _checkpoint_from_row(last[0], last[1])
            restored = MerkleFrontier.restore(json.loads(last[2]))
            if (
                cp.log_id == self.log_id
                and restored.size == cp.size
                and (restored.root().hex() == cp.root)
            ):
                frontier, start, prev = restored, cp.size, cp.last_hash
        rows = self._db.execute(
            "SELECT seq, body, hash FROM entries WHERE seq > ? ORDER BY seq", (start,)
        )
        for seq, body, digest in rows:
            found = _check_entry(start + 1, seq, bytes(body), digest, prev)
            if found:
                raise IntegrityError(
                    f"{self.path}: refusing to sign a checkpoint: {found[0]}",
                    hint="run `audit log verify` and investigate before signing anything",
                )
            frontier.append(bytes(body))
            start, prev = seq, digest
        cp = _sign(self.log_id, frontier.size, frontier.root().hex(), prev, signing_key)
        self._db.execute(
            "INSERT INTO checkpoints (body, signature, frontier) VALUES (?, ?, ?)",
            (cp.body(), cp.signature, json.dumps(frontier.dump())),
        )
        return cp

    # --- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def entries(self, where: LogFilter | None = None) -> Iterator[Entry]:
        """Entries in sequence order, those matching ``where`` only."""
        flt = where or LogFilter()
        for (body,) in self._db.execute("SELECT body FROM entries ORDER BY seq"):
            entry = Entry.from_body(bytes(body))
            if flt.matches(entry):
                yield entry

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._db.execute("SELECT body, signature FROM checkpoints ORDER BY id")
        return [_checkpoint_from_row(b, s) for b, s in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        cps = self.checkpoints()
        return cps[-1] if cps else None

    def export(self, out: IO[bytes], checkpoint: Checkpoint | None = None) -> int:
        """Write every entry's stored bytes as JSON Lines, then ``{"checkpoint": {...}}``.

        The last line holds ``checkpoint`` or the latest stored one (omitted if there is none).
        Returns the number of entries written. :func:`verify_export` checks such a file.
        """
        n = 0
        with self._transaction(read_only=True):
            for (body,) in self._db.execute("SELECT body FROM entries ORDER BY seq"):
                out.write(bytes(body) + b"\n")
                n += 1
            cp = checkpoint or self.latest_checkpoint()
        if cp is not None:
            out.write(canonical({"checkpoint": cp.to_dict()}) + b"\n")
        return n

    def verify(
        self,
        trusted_keys: TrustedKeys = (),
        external: Iterable[Checkpoint] = (),
    ) -> LogVerification:
        """Check the chain, every stored checkpoint and the ``external`` ones (from reports, exports).

        Finds edits (including whitespace), deletions, reorderings, insertions, truncation below
        any checkpoint, and checkpoints not signed by a ``trusted_keys`` key.
        """
        with self._transaction(read_only=True):
            stored = self.checkpoints()
            rows = self._db.execute("SELECT seq, body, hash FROM entries ORDER BY seq")
            return _verify_rows(
                ((s, bytes(b), h) for s, b, h in rows),
                stored,
                list(external),
                _trusted(trusted_keys),
                self.log_id,
            )


class _Tx:
    """``BEGIN IMMEDIATE`` (write lock up front, so no two writers read the same tail) or a
    deferred read transaction that sees one consistent snapshot."""

    def __init__(self, db: sqlite3.Connection, read_only: bool = False) -> None:
        self.db, self.read_only = db, read_only

    def __enter__(self) -> None:
        self.db.execute("BEGIN" if self.read_only else "BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _split_sql(script: str) -> list[str]:
    """Split the schema into statements (triggers contain ``;`` inside BEGIN ... END)."""
    out, buf = [], ""
    for line in script.splitlines():
        buf += line + "\n"
        stripped = line.strip()
        if stripped.endswith("END;") or (stripped.endswith(";") and "TRIGGER" not in buf):
            out.append(buf)
            buf = ""
    return out


def _trusted(
    keys: TrustedKeys,
) -> dict[str, Ed25519PublicKey]:
    return keyring(keys)


def _sign(log_id: str, size: int, root: str, last_hash: str, key: Ed25519PrivateKey) -> Checkpoint:
    unsigned = Checkpoint(log_id, size, root, last_hash, _now(), key_id(key), signature="")
    sig = base64.b64encode(key.sign(unsigned.body())).decode()
    return Checkpoint(log_id, size, root, last_hash, unsigned.time, unsigned.key_id, sig)


def _checkpoint_from_row(body: bytes, signature: str) -> Checkpoint:
    try:
        data = json.loads(bytes(body))
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    return Checkpoint.from_dict({**data, "signature": signature})


def _check_entry(
    expected_seq: int, seq: int | None, body: bytes, stored: str | None, prev: str
) -> tuple[str, int] | None:
    """What is wrong with one stored entry and which entry is the first bad one, or None.

    ``prev`` is the hash of the previous entry's stored bytes. When an entry does not chain to
    its predecessor, the predecessor is the one that changed (its bytes no longer hash to what
    this entry recorded), unless this entry's own link was rewritten; the earlier is named.
    """
    k = expected_seq
    if seq is not None and seq != k:
        if seq > k:
            return f"entry {k} is missing (deleted): the next stored entry is {seq}", k
        return f"entry {seq} appears after entry {k - 1} (reordered or duplicated)", seq
    try:
        data = json.loads(body)
    except ValueError:
        return f"entry {k} is not valid JSON (edited)", k
    if not isinstance(data, dict):
        return f"entry {k} is not a JSON object (edited)", k
    if canonical(data) != body:
        return f"entry {k}: stored bytes are not canonical JSON (edited, e.g. whitespace)", k
    body_seq = data.get("seq")
    if body_seq != k:
        first = min(body_seq, k) if isinstance(body_seq, int) and body_seq >= 1 else k
        return f"entry {k}: its body says seq {body_seq} (reordered, inserted or renumbered)", first
    if data.get("prev_hash") != prev:
        if k == 1:
            return "entry 1: prev_hash is not the genesis value (chain broken)", 1
        return (
            f"entry {k - 1} was altered (its bytes no longer hash to the prev_hash recorded "
            f"by entry {k}), or entry {k}'s link was rewritten",
            k - 1,
        )
    if stored is not None and hashlib.sha256(body).hexdigest() != stored:
        return f"entry {k}: stored hash does not match its bytes (edited)", k
    return None


def _verify_rows(
    rows: Iterable[tuple[int | None, bytes, str | None]],
    stored: list[Checkpoint],
    external: list[Checkpoint],
    trusted: Mapping[str, Ed25519PublicKey],
    log_id: str | None,
) -> LogVerification:
    problems: list[str] = []
    bad: list[int] = []
    good_at: dict[int, Checkpoint] = {}  # checkpoints whose signature verified, by size
    for where, cps in (("stored", stored), ("external", external)):
        last_size = -1
        for cp in cps:
            sig_problem = cp.check_signature(trusted)
            if sig_problem:
                problems.append(f"{where} {sig_problem}")
                continue
            if log_id is not None and cp.log_id != log_id:
                problems.append(
                    f"{where} checkpoint of size {cp.size} belongs to log {cp.log_id}, "
                    f"not to this log ({log_id})"
                )
                continue
            if where == "stored" and cp.size < last_size:
                problems.append(
                    f"stored checkpoint of size {cp.size} follows one of size {last_size} "
                    "(checkpoints reordered)"
                )
            last_size = max(last_size, cp.size)
            first = good_at.setdefault(cp.size, cp)
            if (first.root, first.last_hash) != (cp.root, cp.last_hash):
                problems.append(f"two validly signed checkpoints of size {cp.size} disagree")
                bad.append(1)
    pending = sorted(s for s in good_at if s > 0)
    frontier = MerkleFrontier()
    prev, count, last_good, n_rows = GENESIS, 0, 0, 0
    for seq, body, stored_hash in rows:
        n_rows += 1
        found = _check_entry(count + 1, seq, body, stored_hash, prev)
        if found:
            bad.append(found[1])
            if len(problems) < _MAX_PROBLEMS:
                problems.append(found[0])
        if seq is not None and seq > count + 1:
            count = seq - 1
        frontier.append(body)
        count += 1
        prev = hashlib.sha256(body).hexdigest()
        while pending and pending[0] == count:
            cp = good_at[pending.pop(0)]
            if (
                frontier.size == cp.size
                and frontier.root().hex() == cp.root
                and (prev == cp.last_hash)
            ):
                last_good = cp.size
                continue
            problems.append(
                f"entries {last_good + 1}..{cp.size} differ from the signed checkpoint of "
                f"size {cp.size} (entries edited, deleted or inserted; chain rewritten)"
            )
            if not any(last_good < b <= cp.size for b in bad):
                bad.append(last_good + 1)  # the first entry no valid checkpoint vouches for
    for size in pending:
        bad.append(count + 1)
        problems.append(
            f"the log ends at entry {count} but a signed checkpoint covers {size} entries: "
            f"entries {count + 1}..{size} were removed (truncated)"
        )
    return LogVerification(
        ok=not problems,
        entries=n_rows,
        checkpoints=len(stored) + len(external),
        problems=tuple(problems),
        first_bad_seq=min(bad) if bad else None,
        root=frontier.root().hex(),
    )


def verify_export(path: Path, trusted_keys: TrustedKeys) -> LogVerification:
    """Verify a file written by :meth:`AccessLog.export`: the chain and its checkpoint line."""
    try:
        lines = Path(path).read_bytes().split(b"\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the export: {exc}") from None
    if lines and lines[-1] == b"":
        lines.pop()
    cps: list[Checkpoint] = []
    if lines and lines[-1].startswith(b'{"checkpoint":'):
        cps.append(Checkpoint.from_dict(json.loads(lines.pop())["checkpoint"]))
    log_id = cps[0].log_id if cps else None
    return _verify_rows(((None, b, None) for b in lines), [], cps, _trusted(trusted_keys), log_id)
