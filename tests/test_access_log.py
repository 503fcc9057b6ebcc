"""The access log: RFC 6962 hashing, the chain, checkpoints, every tampering attack, and real
processes writing concurrently or being killed mid-write.

Every test of the log runs on both backends (the ``database`` fixture: SQLite, a real
PostgreSQL). Attacks are carried out the way an insider would: on SQLite with plain sqlite3
after dropping the append-only triggers, on PostgreSQL with psycopg after disabling them.
Expected values are recomputed independently (hashlib, a recursive RFC 6962 implementation,
Certificate Transparency's published test vectors).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.access import (
    AccessLog,
    Actor,
    Checkpoint,
    LogFilter,
    LogProof,
    generate_key_file,
    inclusion_proof,
    key_id,
    leaf_hash,
    merkle_root,
    root_from_proof,
    verify_export,
)
from audit.errors import IntegrityError
from tests.pg import RawPg

ROOT = Path(__file__).resolve().parents[1]

# Certificate Transparency's reference vectors (testonly/constants.go): 8 leaves, the root of
# each prefix of size 1..8.
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def rfc6962_mth(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1, recursively."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + rfc6962_mth(leaves[:k]) + rfc6962_mth(leaves[k:])).digest()


def test_merkle_root_matches_certificate_transparency_vectors() -> None:
    leaves = [bytes.fromhex(h) for h in CT_LEAVES]
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert merkle_root(leaves[:size]).hex() == expected
    assert merkle_root([]) == hashlib.sha256(b"").digest()


def test_merkle_root_matches_recursive_definition_for_every_size_to_70() -> None:
    leaves = [f"leaf {i}".encode() for i in range(70)]
    for n in range(71):
        assert merkle_root(leaves[:n]) == rfc6962_mth(leaves[:n]), n


def rfc6962_path(m: int, hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) straight from RFC 6962 section 2.1.1, recursively, over leaf hashes."""

    def mth(hs: list[bytes]) -> bytes:
        if len(hs) == 1:
            return hs[0]
        k = 1
        while k * 2 < len(hs):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(hs[:k]) + mth(hs[k:])).digest()

    n = len(hashes)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return rfc6962_path(m, hashes[:k]) + [mth(hashes[k:])]
    return rfc6962_path(m - k, hashes[k:]) + [mth(hashes[:k])]


def test_inclusion_proofs_are_rfc6962_paths_and_nothing_else_verifies() -> None:
    leaves = [f"leaf {i}".encode() for i in range(37)]
    hashes = [leaf_hash(x) for x in leaves]
    for n in range(1, 38):
        root = merkle_root(leaves[:n])
        for m in range(n):
            path = inclusion_proof(hashes[:n], m)
            assert path == rfc6962_path(m, hashes[:n]), (n, m)
            assert root_from_proof(hashes[m], m, n, path) == root
            # another leaf, another index, a shorter or longer path, a changed sibling: no root
            assert root_from_proof(leaf_hash(b"forged"), m, n, path) != root
            if n > 1:
                assert root_from_proof(hashes[m], (m + 1) % n, n, path) != root
                assert root_from_proof(hashes[m], m, n, path[:-1]) != root
                bent = [*path[:-1], bytes(32)]
                assert root_from_proof(hashes[m], m, n, bent) != root
            assert root_from_proof(hashes[m], m, n, [*path, bytes(32)]) is None
    assert root_from_proof(hashes[0], 5, 3, []) is None


# --- the chain ---------------------------------------------------------------------------------

ALICE = Actor(user="alice", uid=1001)
N_ENTRIES = 30
EVERY = 10


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def fill(log: AccessLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        log.append(
            actor=ALICE,
            action="audit:run" if i % 3 else "report:approve",
            resource=f"model:credit@{i}",
            decision="allow" if i % 3 else "deny",
            reason="test",
            rbac_sha256="ab" * 32,
        )


@dataclass(frozen=True)
class Store:
    """Where a test's log lives: ``path`` (SQLite) or the PostgreSQL database ``database``."""

    path: Path
    database: str | None

    def open(self, **kwargs) -> AccessLog:
        return AccessLog(self.path, database=self.database, **kwargs)

    def connect(self):
        """A plain connection (append-only triggers in place)."""
        if self.database is None:
            return sqlite3.connect(self.path, isolation_level=None)
        return RawPg(self.database)

    def bodies(self) -> list[bytes]:
        db = self.connect()
        try:
            return [bytes(b) for (b,) in db.execute("SELECT body FROM entries ORDER BY seq")]
        finally:
            db.close()


@pytest.fixture
def store(tmp_path: Path, database: str | None) -> Store:
    return Store(tmp_path / "access.db", database)


@pytest.fixture
def log_path(store: Store, key: Ed25519PrivateKey) -> Store:
    with store.open(signing_key=key, checkpoint_every=EVERY) as log:
        fill(log, N_ENTRIES)
    return store


def raw(store: Store):
    """The attacker's view: a plain connection with the append-only triggers dropped (SQLite)
    or disabled (PostgreSQL, ``ALTER TABLE ... DISABLE TRIGGER``, as the tables' owner may)."""
    if store.database is not None:
        return RawPg(store.database).disable_triggers()
    db = sqlite3.connect(store.path, isolation_level=None)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    return db


def verify(store: Store, key: Ed25519PrivateKey, external: list[Checkpoint] | None = None):
    with store.open() as log:
        return log.verify([key.public_key()], external or [])


def test_each_entry_hashes_its_stored_bytes_and_links_to_the_previous(log_path: Store) -> None:
    db = log_path.connect()
    rows = db.execute("SELECT seq, body, hash FROM entries ORDER BY seq").fetchall()
    db.close()
    assert [r[0] for r in rows] == list(range(1, N_ENTRIES + 1))
    prev = "0" * 64
    for seq, body, digest in rows:
        assert isinstance(body, bytes)
        data = json.loads(body)
        assert digest == hashlib.sha256(body).hexdigest()
        assert data["prev_hash"] == prev and data["seq"] == seq
        assert body == json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        assert set(data) >= {"time", "actor", "action", "resource", "decision", "reason"}
        assert data["rbac_sha256"] == "ab" * 32
        prev = digest


def test_checkpoints_are_signed_merkle_roots_of_the_prefix(log_path: Store, key) -> None:
    bodies = log_path.bodies()
    with log_path.open() as log:
        cps = log.checkpoints()
    assert [cp.size for cp in cps] == [10, 20, 30]
    for cp in cps:
        assert cp.root == rfc6962_mth(bodies[: cp.size]).hex()
        assert cp.last_hash == hashlib.sha256(bodies[cp.size - 1]).hexdigest()
        signed = {k: v for k, v in cp.to_dict().items() if k != "signature"}
        message = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
        key.public_key().verify(base64.b64decode(cp.signature), message)  # raises if wrong


def test_intact_log_verifies(log_path: Store, key) -> None:
    result = verify(log_path, key)
    assert result.ok, result.problems
    assert (result.entries, result.checkpoints, result.first_bad_seq) == (N_ENTRIES, 3, None)
    assert result.root == rfc6962_mth(log_path.bodies()).hex()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_log_refuses_updates_and_deletes_through_sqlite(log_path: Store) -> None:
    db = sqlite3.connect(log_path.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM entries WHERE seq = 3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE checkpoints SET signature = 'x'")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_the_log_refuses_updates_deletes_and_truncation_through_postgresql(
    log_path: Store,
) -> None:
    import psycopg

    db = RawPg(log_path.database or "")
    for statement in (
        "DELETE FROM entries WHERE seq = 3",
        "UPDATE entries SET hash = 'x' WHERE seq = 3",
        "UPDATE checkpoints SET signature = 'x'",
        "DELETE FROM checkpoints",
        "TRUNCATE entries",
        "TRUNCATE checkpoints",
    ):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            db.execute(statement)
    db.close()
    assert len(log_path.bodies()) == N_ENTRIES


def _body(db, seq: int) -> dict:
    return json.loads(db.execute("SELECT body FROM entries WHERE seq = ?", (seq,)).fetchone()[0])


def _canon(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _edit(db) -> None:
    data = _body(db, 15)
    data["decision"] = "deny" if data["decision"] == "allow" else "allow"
    db.execute("UPDATE entries SET body = ? WHERE seq = 15", (_canon(data),))


def _edit_and_rehash(db) -> None:
    data = _body(db, 15)
    data["actor"] = "mallory"
    body = _canon(data)
    db.execute(
        "UPDATE entries SET body = ?, hash = ? WHERE seq = 15",
        (body, hashlib.sha256(body).hexdigest()),
    )


def _whitespace(db) -> None:
    body = db.execute("SELECT body FROM entries WHERE seq = 15").fetchone()[0]
    spaced = body.replace(b'","', b'", "', 1)
    assert json.loads(spaced) == json.loads(body) and spaced != body
    db.execute(
        "UPDATE entries SET body = ?, hash = ? WHERE seq = 15",
        (spaced, hashlib.sha256(spaced).hexdigest()),
    )


def _delete(db) -> None:
    db.execute("DELETE FROM entries WHERE seq = 15")


def _reorder(db) -> None:
    a = db.execute("SELECT body, hash FROM entries WHERE seq = 15").fetchone()
    b = db.execute("SELECT body, hash FROM entries WHERE seq = 16").fetchone()
    db.execute("UPDATE entries SET body = ?, hash = ? WHERE seq = 15", b)
    db.execute("UPDATE entries SET body = ?, hash = ? WHERE seq = 16", a)


def _insert(db) -> None:
    """Make room at 15 and insert a forged entry that chains correctly to entry 14."""
    for seq in range(N_ENTRIES, 14, -1):
        db.execute("UPDATE entries SET seq = ? WHERE seq = ?", (seq + 1, seq))
    prev = db.execute("SELECT hash FROM entries WHERE seq = 14").fetchone()[0]
    forged = {**_body(db, 14), "seq": 15, "prev_hash": prev, "action": "report:approve"}
    body = _canon(forged)
    db.execute(
        "INSERT INTO entries (seq, body, hash) VALUES (15, ?, ?)",
        (body, hashlib.sha256(body).hexdigest()),
    )


def _rewrite_chain_from_15(db) -> None:
    """Edit entry 15 and recompute every later hash and link: the chain itself is consistent."""
    prev = db.execute("SELECT hash FROM entries WHERE seq = 14").fetchone()[0]
    for seq in range(15, N_ENTRIES + 1):
        data = {**_body(db, seq), "prev_hash": prev}
        if seq == 15:
            data["reason"] = "rewritten"
        body = _canon(data)
        prev = hashlib.sha256(body).hexdigest()
        db.execute("UPDATE entries SET body = ?, hash = ? WHERE seq = ?", (body, prev, seq))


def _truncate_below_checkpoint(db) -> None:
    db.execute("DELETE FROM entries WHERE seq > 25")


def _forge_checkpoint(db) -> None:
    """Replace the last checkpoint by one signed with the attacker's own key."""
    body, _sig = db.execute("SELECT body, signature FROM checkpoints ORDER BY id DESC").fetchone()
    data = json.loads(body)
    mallory = Ed25519PrivateKey.generate()
    db.execute(
        "UPDATE checkpoints SET signature = ? WHERE id = (SELECT MAX(id) FROM checkpoints)",
        (base64.b64encode(mallory.sign(_canon(data))).decode(),),
    )


def _alter_checkpoint_root(db) -> None:
    body = db.execute("SELECT body FROM checkpoints WHERE id = 1").fetchone()[0]
    data = {**json.loads(body), "root": "00" * 32}
    db.execute("UPDATE checkpoints SET body = ? WHERE id = 1", (_canon(data),))


ATTACKS = {
    "edit": (_edit, 15),
    "edit and recompute its hash": (_edit_and_rehash, 15),
    "whitespace change": (_whitespace, 15),
    "delete": (_delete, 15),
    "reorder": (_reorder, 15),
    "insert": (_insert, 15),
    "rewrite the chain from the edit on": (_rewrite_chain_from_15, 11),
    "truncate below a checkpoint": (_truncate_below_checkpoint, 26),
    "forged checkpoint signature": (_forge_checkpoint, None),
    "altered checkpoint root": (_alter_checkpoint_root, None),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_tampering_is_detected_and_the_first_bad_entry_named(
    attack: str, log_path: Store, key
) -> None:
    tamper, first_bad = ATTACKS[attack]
    db = raw(log_path)
    tamper(db)
    db.close()
    result = verify(log_path, key)
    assert not result.ok
    assert result.problems
    assert result.first_bad_seq == first_bad, result.problems
    if first_bad is not None:
        assert any(str(first_bad) in p for p in result.problems)


def test_total_rewrite_with_stored_checkpoints_removed_is_caught_by_a_held_checkpoint(
    log_path: Store, key
) -> None:
    """The owner can delete and re-create everything; a checkpoint held elsewhere catches it."""
    with log_path.open() as log:
        held = Checkpoint.from_dict(json.loads(json.dumps(log.checkpoints()[1].to_dict())))
    db = raw(log_path)
    _rewrite_chain_from_15(db)
    db.execute("DELETE FROM checkpoints")
    db.close()
    assert verify(log_path, key).ok  # nothing inside the file contradicts the rewrite...
    result = verify(log_path, key, [held])  # ...but the auditor's copy of checkpoint 20 does
    assert not result.ok and result.first_bad_seq == 1


def test_truncation_with_stored_checkpoints_removed_is_caught_by_a_held_checkpoint(
    log_path: Store, key
) -> None:
    with log_path.open() as log:
        held = log.latest_checkpoint()
    assert held is not None and held.size == N_ENTRIES
    db = raw(log_path)
    db.execute("DELETE FROM entries WHERE seq > 12")
    db.execute("DELETE FROM checkpoints WHERE id > 1")
    db.close()
    result = verify(log_path, key, [held])
    assert not result.ok and result.first_bad_seq == 13
    assert any("truncated" in p for p in result.problems)


def test_checkpoint_of_another_log_or_untrusted_key_is_refused(log_path: Store, key, tmp_path):
    with AccessLog(tmp_path / "other.db", signing_key=key, checkpoint_every=EVERY) as other:
        fill(other, 10)
        foreign = other.latest_checkpoint()
    assert foreign is not None
    result = verify(log_path, key, [foreign])
    assert not result.ok and any("belongs to log" in p for p in result.problems)
    with log_path.open() as log:
        untrusted = log.verify([Ed25519PrivateKey.generate().public_key()])
    assert not untrusted.ok and any("not a trusted key" in p for p in untrusted.problems)


def test_checkpoint_refuses_to_vouch_for_a_broken_chain(log_path: Store, key) -> None:
    with log_path.open(signing_key=key) as log:
        fill(log, 3, start=N_ENTRIES)
    db = raw(log_path)
    data = _body(db, 32)
    data["reason"] = "edited"
    db.execute("UPDATE entries SET body = ? WHERE seq = 32", (_canon(data),))
    db.close()
    with log_path.open() as log, pytest.raises(IntegrityError, match="entry 32"):
        log.checkpoint(key)


# --- export and filters --------------------------------------------------------------------


def test_export_is_json_lines_of_the_stored_bytes_plus_the_latest_checkpoint(
    log_path: Store, key, tmp_path: Path
) -> None:
    out = io.BytesIO()
    with log_path.open() as log:
        fill(log, 2, start=N_ENTRIES)
        cp = log.checkpoint(key)
        assert log.export(out) == N_ENTRIES + 2
    lines = out.getvalue().splitlines()
    assert lines[:-1] == log_path.bodies()
    assert json.loads(lines[-1]) == {"checkpoint": cp.to_dict()}
    path = tmp_path / "export.jsonl"
    path.write_bytes(out.getvalue())
    assert verify_export(path, [key.public_key()]).ok
    # an auditor holding the export detects an edit in it
    data = json.loads(lines[4])
    data["decision"] = "allow" if data["decision"] == "deny" else "deny"
    lines[4] = _canon(data)
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = verify_export(path, [key.public_key()])
    assert not result.ok and result.first_bad_seq == 5


def test_entries_filter_by_actor_action_resource_decision_and_time(store: Store) -> None:
    with store.open() as log:
        fill(log, 9)
        bob = Actor(user="bob", uid=1002)
        log.append(
            actor=bob,
            action="log:read",
            resource="log",
            decision="allow",
            reason="x",
            rbac_sha256="cd" * 32,
        )
        everything = list(log.entries())
        assert [e.seq for e in log.entries(LogFilter(actor="bob"))] == [10]
        denied = [e.seq for e in log.entries(LogFilter(decision="deny"))]
        assert denied == [e.seq for e in everything if e.decision == "deny"] == [1, 4, 7]
        assert [e.seq for e in log.entries(LogFilter(action="report:*"))] == [1, 4, 7]
        assert [e.seq for e in log.entries(LogFilter(resource="model:credit@[2-3]"))] == [3, 4]
        from datetime import datetime

        cut = datetime.fromisoformat(everything[5].time)
        assert [e.seq for e in log.entries(LogFilter(since=cut))] == list(range(6, 11))
        assert [e.seq for e in log.entries(LogFilter(until=cut))] == list(range(1, 7))


# --- real processes ------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import random, sys
    from pathlib import Path
    from audit.access import AccessContext, AccessLog, Actor, Rbac, authorize, load_private_key
    from audit.access.log import LogFilter
    from audit.errors import AccessDenied

    db, url, rbac_path, key_path, worker, n = sys.argv[1:7]
    rbac = Rbac.load(Path(rbac_path))
    log = AccessLog(Path(db), database=url or None,
                    signing_key=load_private_key(Path(key_path)), checkpoint_every=37)
    users = [Actor("alice", 1001), Actor("bob", 1002), Actor("mallory", 1003)]
    actions = ["audit:run", "report:read", "report:approve", "log:read", "no:such"]
    rng = random.Random(int(worker))
    for i in range(int(n)):
        ctx = AccessContext(rbac, log, rng.choice(users))
        try:
            authorize(ctx, rng.choice(actions), f"model:w{worker}@{i}")
        except AccessDenied:
            pass
        if i % 10 == 9:  # readers run at the same time as writers
            list(log.entries(LogFilter(resource=f"model:w{worker}@*")))
            assert log.verify([load_private_key(Path(key_path)).public_key()]).ok
    """
)

RBAC = """
version: 1
roles:
  engineer: {allow: [audit:run, report:read]}
  auditor: {allow: ["log:*", report:read]}
bindings:
  users: {alice: [engineer], bob: [auditor]}
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_eight_processes_of_fifty_mixed_actions_leave_a_log_that_verifies(
    tmp_path: Path, store: Store
) -> None:
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text(RBAC)
    key_path = tmp_path / "log.key"
    key = generate_key_file(key_path)
    db, url = store.path, store.database or ""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db), url, str(rbac), str(key_path), str(w), "50"],
            env=_env(),
            stderr=subprocess.PIPE,
        )
        for w in range(8)
    ]
    errors = []
    try:
        for p in procs:
            _, err = p.communicate(timeout=120)
            errors.append((p.returncode, err.decode()))
    finally:  # every worker is waited for (or killed): none outlives the test
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert [rc for rc, _ in errors] == [0] * 8, errors
    with store.open() as log:
        result = log.verify([key.public_key()])
        assert result.ok, result.problems
        assert result.entries == len(log) == 400
        resources = sorted(e.resource for e in log.entries())
        assert resources == sorted(f"model:w{w}@{i}" for w in range(8) for i in range(50))
        assert [cp.size for cp in log.checkpoints()] == [37 * k for k in range(1, 400 // 37 + 1)]
        decisions = {(e.actor, e.action, e.decision) for e in log.entries()}
    assert ("alice", "audit:run", "allow") in decisions
    assert ("mallory", "audit:run", "deny") in decisions
    assert ("alice", "no:such", "allow") not in decisions


APPENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from audit.access import AccessLog, Actor, load_private_key
    log = AccessLog(Path(sys.argv[1]), database=sys.argv[3] or None,
                    signing_key=load_private_key(Path(sys.argv[2])), checkpoint_every=7)
    i = 0
    while True:
        log.append(actor=Actor("alice", 1001), action="audit:run", resource=f"r{i}",
                   decision="allow", reason="crash test", rbac_sha256="ab" * 32)
        i += 1
    """
)


def _count(store: Store) -> int:
    """How many entries are committed (0 while the schema is being created)."""
    if store.database is None:
        if not store.path.exists():
            return 0
        try:
            with closing(sqlite3.connect(store.path, timeout=5)) as c:
                return c.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
    import psycopg

    db = RawPg(store.database)
    try:
        return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    except psycopg.errors.UndefinedTable:
        return 0
    finally:
        db.close()


def test_sigkill_during_writes_leaves_a_log_that_verifies(tmp_path: Path, store: Store) -> None:
    key_path = tmp_path / "log.key"
    key = generate_key_file(key_path)
    sizes = []
    for round_ in range(4):
        p = subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(store.path), str(key_path), store.database or ""],
            env=_env(),
            stderr=subprocess.PIPE,
        )
        target = (sizes[-1] if sizes else 0) + 100 + 37 * round_
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _count(store) < target:
            time.sleep(0.01)
        os.kill(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        assert p.returncode == -signal.SIGKILL, err.decode()
        with store.open() as log:
            result = log.verify([key.public_key()])
            assert result.ok, result.problems
            sizes.append(len(log))
    assert sizes == sorted(sizes) and sizes[-1] >= 400
    with store.open(signing_key=key) as log:  # and the log goes on after the crashes
        cp = log.checkpoint(key)
        assert cp.size == sizes[-1]
        assert log.verify([key.public_key()]).ok


def publish(log: AccessLog, key: Ed25519PrivateKey, details: dict, refuse=None) -> LogProof:
    """Anchor a report:publish entry the way publishing does."""
    return log.anchor(
        actor=ALICE,
        action="report:publish",
        resource="report:credit/v1",
        reason="published",
        rbac_sha256="cd" * 32,
        details=details,
        signing_key=key,
        refuse=refuse,
    )


def test_anchored_entry_carries_details_and_a_proof_that_verifies_alone(store: Store, key) -> None:
    with store.open() as log:
        fill(log, 7)
        details = {"name": "credit", "version": 1, "report_sha256": "ab" * 32}
        proof = publish(log, key, details)
        assert proof.entry.details == details and proof.entry.seq == 8
        assert proof.problems({key_id(key): key.public_key()}) == []
        # a round trip through JSON keeps it verifiable
        again = LogProof.from_dict(json.loads(json.dumps(proof.to_dict())))
        assert again.problems({key_id(key): key.public_key()}) == []
        # later entries do not invalidate it; a proof against a later checkpoint also holds
        fill(log, 5)
        later = log.proof_for(8, log.checkpoint(key))
        assert later.tree_size == 13 and later.problems({key_id(key): key.public_key()}) == []
        # refuse() sees earlier entries under the write lock: a duplicate is refused, nothing added
        with pytest.raises(IntegrityError, match="already"):
            publish(
                log,
                key,
                details,
                refuse=lambda done: (
                    "v1 already published" if any(e.details == details for e in done) else None
                ),
            )
        assert len(log) == 13
    # entries without details keep the old body (no "details" key), so old hashes stay valid
    first = json.loads(store.bodies()[0])
    assert "details" not in first


def test_a_proof_is_refused_when_forged_edited_or_signed_by_another_key(store: Store, key) -> None:
    with store.open() as log:
        fill(log, 4)
        proof = publish(log, key, {"version": 1})
    trusted = {key_id(key): key.public_key()}
    edited = dataclasses.replace(
        proof, entry_body=proof.entry_body.replace(b'"version":1', b'"version":9')
    )
    assert "not in the log" in edited.problems(trusted)[0]
    moved = dataclasses.replace(proof, leaf_index=0)
    assert moved.problems(trusted)
    other = Ed25519PrivateKey.generate()
    assert "not a trusted key" in proof.problems({key_id(other): other.public_key()})[0]


def test_entry_times_never_go_backwards(store: Store) -> None:
    with store.open() as log:
        fill(log, 40)
        times = [e.time for e in log.entries()]
    assert times == sorted(times)
