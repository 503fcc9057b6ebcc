"""The access log: append-only, hash-chained, with signed Merkle checkpoints, in SQLite (WAL)
or PostgreSQL (:mod:`audit.storage`; the tables and their migrations are in
:mod:`audit.access.schema`).

Each entry is stored as the exact bytes of its canonical JSON (sorted keys, no spaces, UTF-8)::

    hash(entry n) = SHA-256(body n)        body n holds prev_hash = hash(entry n-1), or 64 zeros

so changing, deleting, reordering or inserting an entry breaks the chain at that entry, and a
whitespace change is caught because verification compares stored bytes with their canonical form.
A *checkpoint* signs (log id, size, RFC 6962 Merkle root of the first ``size`` bodies, hash of
entry ``size``) with an Ed25519 key. A writer who rewrites the whole chain cannot re-sign old
checkpoints, and one who truncates the log cannot shrink the checkpoints held elsewhere (inside
signed reports, in exports given to an auditor): ``verify`` checks the log against both.

Appends run in write transactions (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock of
the log), so concurrent processes serialise and never fork the chain; a process killed
mid-write leaves the last committed state.

The records (entries, checkpoints) are in :mod:`audit.access.records`; the chain check that
``verify`` and :func:`verify_export` share is in :mod:`audit.access.chain`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..digest import canonical_json
from ..errors import InputError, IntegrityError
from ..storage import open_database
from .chain import check_entry, verify_export, verify_rows
from .identity import Actor
from .keys import TrustedKeys, keyring
from .merkle import MerkleFrontier, inclusion_proof, leaf_hash
from .proofs import LogProof
from .rbac import Decision
from .records import (
    GENESIS,
    Checkpoint,
    Entry,
    LogFilter,
    LogVerification,
    checkpoint_from_row,
    now_text,
    sign_checkpoint,
)
from .schema import ACCESS_LOG_SCHEMA

__all__ = ["AccessLog", "Checkpoint", "Entry", "LogFilter", "LogVerification", "verify_export"]

#: Entries whose stored body contains a byte string (a pre-filter before an exact check).
_CONTAINS = {"sqlite": "instr(body, ?) > 0", "postgresql": "position(? in body) > 0"}


class AccessLog:
    """An append-only, hash-chained access log: one SQLite file (WAL mode) at ``path``, or the
    PostgreSQL database ``database`` names (``postgresql://...``; ``sqlite:///...`` names
    another file). Both give the same entries, hashes, checkpoints, exports and verification.

    ``signing_key`` (optional) signs a checkpoint automatically every ``checkpoint_every``
    entries, inside the same transaction as the entry that reaches the multiple. ``durable=True``
    fsyncs every commit (``synchronous=FULL``); the default (``NORMAL``) survives any process
    crash and loses at most the last commits on a power cut, and checkpoints are always fsynced.
    (PostgreSQL commits as its server is configured: durable by default.)
    """

    def __init__(
        self,
        path: Path,
        *,
        database: str | None = None,
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
        self._db = open_database(
            database,
            sqlite_path=self.path,
            schema=ACCESS_LOG_SCHEMA,
            busy_timeout_s=busy_timeout_s,
            durable=durable,
        )
        #: The log's database for messages: its file, or its URL without the password.
        self.display = self._db.display
        try:
            row = self._db.one("SELECT value FROM meta WHERE key = 'log_id'")
            if row is None:
                with self._db.transaction():
                    self._db.execute(
                        "INSERT INTO meta (key, value) VALUES ('log_id', ?) "
                        "ON CONFLICT (key) DO NOTHING",
                        (str(uuid.uuid4()),),
                    )
                row = self._db.one("SELECT value FROM meta WHERE key = 'log_id'")
        except BaseException:
            self._db.close()
            raise
        assert row is not None
        self.log_id: str = row[0]

    def close(self) -> None:
        self._db.close()

    def __del__(self) -> None:  # a caller that never closes must not leak a server connection
        if hasattr(self, "_db"):
            self._db.close()

    def __enter__(self) -> AccessLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        details: dict[str, Any] | None = None,
    ) -> Entry:
        """Chain one entry onto the log (and sign a checkpoint if one is due).

        Entry times never go backwards: an entry is stamped with the later of the clock and
        the previous entry's time, so "logged after" is the order of the chain.
        """
        with self._db.transaction():
            return self._append_locked(
                actor, action, resource, decision, reason, rbac_sha256, details
            )

    def _append_locked(
        self,
        actor: Actor,
        action: str,
        resource: str,
        decision: Literal["allow", "deny"],
        reason: str,
        rbac_sha256: str,
        details: dict[str, Any] | None,
    ) -> Entry:
        """:meth:`append`'s work, inside a write transaction the caller holds."""
        last = self._db.one("SELECT seq, hash, body FROM entries ORDER BY seq DESC LIMIT 1")
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        stamp = now_text()
        if last is not None:
            stamp = max(stamp, Entry.from_body(bytes(last[2])).time)
        draft = Entry(
            seq=seq,
            time=stamp,
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
            details=details,
        )
        body = draft.body()
        digest = hashlib.sha256(body).hexdigest()
        self._db.execute(
            "INSERT INTO entries (seq, body, hash) VALUES (?, ?, ?)", (seq, body, digest)
        )
        if self.signing_key is not None and seq % self.checkpoint_every == 0:
            self._checkpoint_locked(self.signing_key)
        return Entry.from_body(body)

    def anchor(
        self,
        *,
        actor: Actor,
        action: str,
        resource: str,
        reason: str,
        rbac_sha256: str,
        details: dict[str, Any],
        signing_key: Ed25519PrivateKey,
        refuse: Callable[[Sequence[Entry]], str | None] | None = None,
    ) -> LogProof:
        """Append an allowed entry that anchors evidence, sign a checkpoint covering it, and
        return the entry's inclusion proof, all in one write transaction.

        ``refuse`` sees every earlier entry of the same action first (under the write lock, so
        no concurrent writer can slip in between): if it returns a reason, nothing is appended
        and IntegrityError is raised (e.g. that version of that system is already published).
        """
        with self._db.durable(), self._db.transaction():
            hashes = [
                leaf_hash(bytes(body))
                for (body,) in self._db.rows("SELECT body FROM entries ORDER BY seq")
            ]
            if refuse is not None:
                why = refuse(list(self.entries_with_action(action)))
                if why:
                    raise IntegrityError(f"{self.display}: {why}")
            entry = self._append_locked(
                actor, action, resource, "allow", reason, rbac_sha256, details
            )
            body = entry.body()
            hashes.append(leaf_hash(body))
            cp = self._checkpoint_locked(signing_key)
            if cp.size != len(hashes):  # pragma: no cover - one writer holds the lock
                raise IntegrityError(f"{self.display}: the log changed while it was anchored")
            index = len(hashes) - 1
            return LogProof(body, index, len(hashes), tuple(inclusion_proof(hashes, index)), cp)

    def proof_for(self, seq: int, checkpoint: Checkpoint) -> LogProof:
        """The inclusion proof of entry ``seq`` in the tree ``checkpoint`` signed."""
        with self._db.transaction(write=False):
            rows = list(
                self._db.rows(
                    "SELECT body FROM entries WHERE seq <= ? ORDER BY seq", (checkpoint.size,)
                )
            )
        hashes = [leaf_hash(bytes(b)) for (b,) in rows]
        if not 1 <= seq <= len(hashes) or len(hashes) != checkpoint.size:
            raise IntegrityError(f"{self.display}: entry {seq} is not under the checkpoint")
        body = bytes(rows[seq - 1][0])
        path = inclusion_proof(hashes, seq - 1)
        return LogProof(body, seq - 1, len(hashes), tuple(path), checkpoint)

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
        with self._db.durable(), self._db.transaction():
            return self._checkpoint_locked(signing_key)

    def _checkpoint_locked(self, signing_key: Ed25519PrivateKey) -> Checkpoint:
        frontier = MerkleFrontier()
        start, prev = 0, GENESIS
        last = self._db.one(
            "SELECT body, signature, frontier FROM checkpoints ORDER BY id DESC LIMIT 1"
        )
        if last is not None:
            cp = checkpoint_from_row(last[0], last[1])
            restored = MerkleFrontier.restore(json.loads(last[2]))
            if (
                cp.log_id == self.log_id
                and restored.size == cp.size
                and (restored.root().hex() == cp.root)
            ):
                frontier, start, prev = restored, cp.size, cp.last_hash
        rows = self._db.rows(
            "SELECT seq, body, hash FROM entries WHERE seq > ? ORDER BY seq", (start,)
        )
        for seq, body, digest in rows:
            found = check_entry(start + 1, seq, bytes(body), digest, prev)
            if found:
                raise IntegrityError(
                    f"{self.display}: refusing to sign a checkpoint: {found[0]}",
                    hint="run `audit log verify` and investigate before signing anything",
                )
            frontier.append(bytes(body))
            start, prev = seq, digest
        cp = sign_checkpoint(self.log_id, frontier.size, frontier.root().hex(), prev, signing_key)
        self._db.execute(
            "INSERT INTO checkpoints (body, signature, frontier) VALUES (?, ?, ?)",
            (cp.body(), cp.signature, json.dumps(frontier.dump())),
        )
        return cp

    # --- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        row = self._db.one("SELECT COUNT(*) FROM entries")
        return int(row[0]) if row else 0

    def entries(self, where: LogFilter | None = None) -> Iterator[Entry]:
        """Entries in sequence order, those matching ``where`` only."""
        flt = where or LogFilter()
        for (body,) in self._db.rows("SELECT body FROM entries ORDER BY seq"):
            entry = Entry.from_body(bytes(body))
            if flt.matches(entry):
                yield entry

    def entries_with_action(self, action: str) -> Iterator[Entry]:
        """Entries whose action is exactly ``action``, in order (a pre-filter on the stored
        canonical JSON, then an exact check)."""
        needle = canonical_json({"action": action})[1:-1]
        rows = self._db.rows(
            f"SELECT body FROM entries WHERE {_CONTAINS[self._db.dialect]} ORDER BY seq", (needle,)
        )
        for (body,) in rows:
            entry = Entry.from_body(bytes(body))
            if entry.action == action:
                yield entry

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._db.rows("SELECT body, signature FROM checkpoints ORDER BY id")
        return [checkpoint_from_row(bytes(b), s) for b, s in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        cps = self.checkpoints()
        return cps[-1] if cps else None

    def export(self, out: IO[bytes], checkpoint: Checkpoint | None = None) -> int:
        """Write every entry's stored bytes as JSON Lines, then ``{"checkpoint": {...}}``.

        The last line holds ``checkpoint`` or the latest stored one (omitted if there is none).
        Returns the number of entries written. :func:`verify_export` checks such a file.
        """
        n = 0
        with self._db.transaction(write=False):
            for (body,) in self._db.rows("SELECT body FROM entries ORDER BY seq"):
                out.write(bytes(body) + b"\n")
                n += 1
            cp = checkpoint or self.latest_checkpoint()
        if cp is not None:
            out.write(canonical_json({"checkpoint": cp.to_dict()}) + b"\n")
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
        with self._db.transaction(write=False):
            stored = self.checkpoints()
            rows = self._db.rows("SELECT seq, body, hash FROM entries ORDER BY seq")
            return verify_rows(
                ((s, bytes(b), h) for s, b, h in rows),
                stored,
                list(external),
                keyring(trusted_keys),
                self.log_id,
            )
