"""audit/storage: URLs, the two backends behind one adapter, and migrations.

Migrations are checked on both backends: a fresh database gets every step, once; a log and a
registry written before migrations existed (tests/fixtures/before-migrations/, made by
``make.py`` there with audit at a02b560) are adopted at version 1 with their bytes unchanged
and still verify; a schema newer than the code is refused with exit 2; and processes racing to
open a fresh PostgreSQL database apply each step once.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from audit.access import ACCESS_LOG_SCHEMA, AccessLog, Actor, load_public_key
from audit.errors import InputError
from audit.registry import REGISTRY_SCHEMA, Registry
from audit.storage import Schema, Step, migrate, open_database, parse_url, redact
from audit.storage.postgres import to_pyformat
from tests.conftest import ROOT
from tests.pg import RawPg

LEGACY = ROOT / "tests" / "fixtures" / "before-migrations"
ALICE = Actor("alice", 1001)


def _append(log: AccessLog, n: int) -> None:
    for i in range(n):
        log.append(
            actor=ALICE,
            action="audit:run",
            resource=f"r{i}",
            decision="allow",
            reason="t",
            rbac_sha256="ab" * 32,
        )


def _migrations(database: str | None, path: Path) -> list[tuple[str, int, str]]:
    db = sqlite3.connect(path) if database is None else RawPg(database)
    try:
        rows = db.execute("SELECT store, version, name FROM schema_migrations ORDER BY 1, 2")
        return [tuple(r) for r in rows.fetchall()]
    finally:
        db.close()


# --- URLs ------------------------------------------------------------------------------------


def test_urls_name_a_sqlite_file_or_a_postgresql_database(tmp_path: Path) -> None:
    default = tmp_path / "access.db"
    assert parse_url(None, sqlite_path=default).sqlite_path == default
    assert parse_url("sqlite:///rel/a.db", sqlite_path=default).sqlite_path == Path("rel/a.db")
    assert parse_url(f"sqlite:///{tmp_path}/b.db", sqlite_path=default).sqlite_path == (
        tmp_path / "b.db"
    )
    pg = parse_url("postgresql://alice:s3cret@db.example:5433/audit", sqlite_path=default)
    assert pg.dialect == "postgresql" and pg.display == "postgresql://alice@db.example:5433/audit"
    assert redact("postgres://bob@h/d?password=hunter2&sslmode=require") == (
        "postgres://bob@h/d?sslmode=require"
    )


@pytest.mark.parametrize(
    "url",
    [
        "mysql://alice:s3cret@host/db",
        "postgresql://alice:s3cret@host:notaport/db",
        "postgresql://alice:s3cret@host/db?nosuchoption=1",
        "sqlite://",
        "no-scheme-at-all",
    ],
)
def test_a_malformed_url_is_input_error_without_the_password(url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        AccessLog(tmp_path / "a.db", database=url)
    assert caught.value.exit_code == 2 and caught.value.hint
    assert "s3cret" not in caught.value.diagnostics()


def test_an_unreachable_server_is_input_error_naming_the_url_without_the_password(
    tmp_path: Path,
) -> None:
    from tests.pg import _free_port

    url = f"postgresql://alice:s3cret@127.0.0.1:{_free_port()}/audit"
    with pytest.raises(InputError) as caught:
        Registry(tmp_path / "home", url).list()
    text = caught.value.diagnostics()
    assert f"postgresql://alice@127.0.0.1:{url.rsplit(':', 1)[1]}" in text
    assert "cannot connect to PostgreSQL" in text and "hint:" in text and "s3cret" not in text


def test_placeholders_are_translated_outside_string_literals() -> None:
    assert to_pyformat("SELECT ? WHERE a LIKE '%?' AND b = ?") == (
        "SELECT %s WHERE a LIKE '%%?' AND b = %s"
    )


# --- the adapter on both backends -------------------------------------------------------------


def test_blobs_come_back_as_bytes_and_reads_see_one_snapshot(tmp_path: Path, database) -> None:
    """A read transaction sees the log as it was when it began, whatever commits meanwhile."""
    path = tmp_path / "access.db"
    with AccessLog(path, database=database) as writer, AccessLog(path, database=database) as r:
        _append(writer, 2)
        blob = bytes(range(256))
        assert r._db.one("SELECT ?", (blob,)) == (blob,)
        with r._db.transaction(write=False):
            before = r._db.one("SELECT COUNT(*) FROM entries")
            _append(writer, 3)
            during = r._db.one("SELECT COUNT(*) FROM entries")
        after = r._db.one("SELECT COUNT(*) FROM entries")
    assert (before, during, after) == ((2,), (2,), (5,))


# --- migrations --------------------------------------------------------------------------------

STEPS = (
    Step(
        1,
        "create t",
        sqlite=("CREATE TABLE t (a INTEGER)",),
        postgresql=("CREATE TABLE t (a INT)",),
    ),
    Step(
        2,
        "add b",
        sqlite=("ALTER TABLE t ADD COLUMN b TEXT",),
        postgresql=("ALTER TABLE t ADD COLUMN b TEXT",),
    ),
    Step(
        3, "index", sqlite=("CREATE INDEX t_b ON t (b)",), postgresql=("CREATE INDEX t_b ON t (b)",)
    ),
)


def test_a_fresh_database_gets_every_step_once_and_a_new_step_later(tmp_path: Path, database):
    path = tmp_path / "x.db"
    two = Schema("toy", "the toy store", STEPS[:2])
    assert [a.version for a in migrate(database, path, two)] == [1, 2]
    assert migrate(database, path, two) == ()
    with open_database(database, sqlite_path=path, schema=two) as db:
        db.execute("INSERT INTO t (a, b) VALUES (?, ?)", (1, "x"))
    three = Schema("toy", "the toy store", STEPS)
    assert [(a.version, a.name) for a in migrate(database, path, three)] == [(3, "index")]
    assert _migrations(database, path) == [
        ("toy", 1, "create t"),
        ("toy", 2, "add b"),
        ("toy", 3, "index"),
    ]
    with open_database(database, sqlite_path=path, schema=three) as db:
        assert list(db.rows("SELECT a, b FROM t")) == [(1, "x")]
    with pytest.raises(ValueError, match="numbered"):
        Schema("bad", "bad", (STEPS[1],))


def test_the_stores_record_their_baseline(tmp_path: Path, database) -> None:
    with AccessLog(tmp_path / "access.db", database=database):
        pass
    with Registry(tmp_path, database) as reg:
        reg.list()
        reg._connect(create=True)
    log_rows = _migrations(database, tmp_path / "access.db")
    reg_rows = _migrations(database, tmp_path / "registry.db")
    assert ("access_log", 1, ACCESS_LOG_SCHEMA.steps[0].name) in log_rows
    assert ("registry", 1, REGISTRY_SCHEMA.steps[0].name) in reg_rows


def test_a_log_and_a_registry_written_before_migrations_are_adopted_unchanged(
    tmp_path: Path,
) -> None:
    """Before: these files had no schema_migrations. Opening them records version 1, changes
    no entry byte, keeps the triggers, and the log still verifies and still takes appends."""
    shutil.copy(LEGACY / "access.db", tmp_path / "access.db")
    shutil.copy(LEGACY / "registry.db", tmp_path / "registry.db")
    old = sqlite3.connect(tmp_path / "access.db")
    bodies = old.execute("SELECT body FROM entries ORDER BY seq").fetchall()
    assert not old.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
    ).fetchall()
    old.close()
    key = load_public_key(LEGACY / "log.pub")
    with AccessLog(tmp_path / "access.db") as log:
        result = log.verify([key])
        assert result.ok and result.entries == 13 and result.checkpoints >= 3, result.problems
        _append(log, 2)
        assert log.verify([key]).ok and len(log) == 15
    db = sqlite3.connect(tmp_path / "access.db")
    assert db.execute("SELECT body FROM entries WHERE seq <= 13 ORDER BY seq").fetchall() == bodies
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM entries WHERE seq = 1")
    db.close()
    assert _migrations(None, tmp_path / "access.db") == [
        ("access_log", 1, ACCESS_LOG_SCHEMA.steps[0].name)
    ]
    with Registry(tmp_path) as reg:
        art = reg.get("dataset", "d", "1")
        assert art.metadata == {"owner": "risk"} and art.size == 8
    assert _migrations(None, tmp_path / "registry.db")[0][:2] == ("registry", 1)


def _pretend_newer(database: str | None, path: Path, version: int) -> None:
    db = sqlite3.connect(path, isolation_level=None) if database is None else RawPg(database)
    db.execute(
        "INSERT INTO schema_migrations (store, version, name, applied_at) VALUES (?, ?, ?, ?)",
        ("access_log", version, "from the future", "2099-01-01T00:00:00Z"),
    )
    db.close()


def test_a_newer_schema_is_refused(tmp_path: Path, database) -> None:
    path = tmp_path / "access.db"
    with AccessLog(path, database=database) as log:
        _append(log, 1)
    _pretend_newer(database, path, 7)
    shown = str(path) if database is None else redact(database)
    with pytest.raises(InputError) as caught:
        AccessLog(path, database=database)
    assert caught.value.exit_code == 2
    assert caught.value.message == (
        f"{shown}: schema version 7 of the access log is newer than this audit (1); upgrade audit"
    )


def test_a_newer_schema_is_exit_2_through_the_cli(audit_home: Path, capsys) -> None:
    from audit.cli.app import main

    with AccessLog(audit_home / "access.db") as log:
        _append(log, 1)
    _pretend_newer(None, audit_home / "access.db", 2)
    assert main(["log", "verify"]) == 2
    err = capsys.readouterr().err
    assert "schema version 2 of the access log is newer than this audit (1); upgrade audit" in err
    assert "Traceback" not in err


OPENER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from audit.access import AccessLog
    from audit.registry import Registry
    url, go, which = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    while not go.exists():
        time.sleep(0.001)
    if which == "log":
        AccessLog(Path("unused.db"), database=url).close()
    else:
        Registry(Path("home"), url).list()
    """
)


def test_processes_opening_a_fresh_postgresql_database_at_once_apply_each_step_once(
    tmp_path: Path, pg_url: str
) -> None:
    """Six processes (three opening the log, three the registry) start on one signal. (With the
    re-read of the version under the lock removed, this failed on a duplicate key in
    schema_migrations in one run of two; the threaded test below makes the race certain.)"""
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, pg_url, str(go), which],
            cwd=tmp_path,
            env=env,
            stderr=subprocess.PIPE,
        )
        for which in ["log", "registry"] * 3
    ]
    time.sleep(1.0)  # let every interpreter start and wait on the signal
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    rows = _migrations(pg_url, tmp_path)
    assert [r[:2] for r in rows] == [("access_log", 1), ("registry", 1)]
    db = RawPg(pg_url)
    assert db.execute("SELECT COUNT(*) FROM meta").fetchone() == (1,)  # one log id
    db.close()


def test_a_migration_in_progress_makes_others_wait_not_fail(pg_url: str, tmp_path: Path) -> None:
    """Store A's step 1 sleeps inside its transaction; meanwhile a second opener of A and an
    opener of another store B start. Both must wait, then find (A) or apply (B) their steps.
    Before: without the re-read under the lock, the second opener of A applied step 1 again
    and failed (relation "a" already exists); without the migrations lock, B's CREATE TABLE schema_migrations
    waited for A's uncommitted one and then failed on a duplicate key in pg_type."""
    import threading

    slow = Schema(
        "a",
        "store a",
        (
            Step(
                1, "slow", sqlite=(), postgresql=("CREATE TABLE a (x INT)", "SELECT pg_sleep(0.6)")
            ),
        ),
    )
    other = Schema(
        "b", "store b", (Step(1, "b", sqlite=(), postgresql=("CREATE TABLE b (x INT)",)),)
    )
    results: dict[str, object] = {}

    def run(name: str, schema: Schema) -> None:
        try:
            results[name] = [a.version for a in migrate(pg_url, tmp_path / "unused.db", schema)]
        except Exception as exc:  # noqa: BLE001 - the test reports it
            results[name] = exc

    first = threading.Thread(target=run, args=("a first", slow))
    first.start()
    time.sleep(0.2)
    rest = [threading.Thread(target=run, args=a) for a in (("a again", slow), ("b", other))]
    for t in rest:
        t.start()
    for t in [first, *rest]:
        t.join(30)
    assert results == {"a first": [1], "a again": [], "b": [1]}
    assert [r[:2] for r in _migrations(pg_url, tmp_path)] == [("a", 1), ("b", 1)]


def test_open_access_passes_the_database_through(tmp_path: Path, pg_url: str) -> None:
    """Every decision of a service on PostgreSQL lands in that database, not in <home>."""
    from audit.access import authorize, open_access
    from audit.errors import AccessDenied

    ctx = open_access(tmp_path, database=pg_url, actor=ALICE)
    with pytest.raises(AccessDenied):
        authorize(ctx, "audit:run", "model:m@1")  # the shipped RBAC binds nobody
    assert ctx.log.display == redact(pg_url) and len(ctx.log) == 1
    ctx.log.close()
    assert not (tmp_path / "access.db").exists()
    db = RawPg(pg_url)
    assert db.execute("SELECT COUNT(*) FROM entries").fetchone() == (1,)
    db.close()
