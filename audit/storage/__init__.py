"""Where the stores keep their tables: SQLite by default, PostgreSQL for a team's service.

A small adapter over two DB-API drivers (sqlite3, psycopg 3), not an ORM: SQL is written once
with ``?`` placeholders; :func:`open_database` connects and applies the store's migrations;
``transaction(write=True)`` serialises a store's writers across processes. Keys, bundles and
artifact bytes stay on the filesystem whichever database holds the tables.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .interface import ConstraintViolation, Database, Dialect, StorageError
from .migrations import Applied, Schema, Step, apply_migrations, recorded_version
from .url import Location, parse_url, password_in, redact

__all__ = [
    "Applied",
    "ConstraintViolation",
    "Database",
    "Dialect",
    "Location",
    "Schema",
    "Step",
    "StorageError",
    "migrate",
    "open_database",
    "parse_url",
    "recorded_version",
    "redact",
]


def open_database(
    url: str | None,
    *,
    sqlite_path: Path,
    schema: Schema | None = None,
    busy_timeout_s: float = 60.0,
    durable: bool = False,
    connect_timeout_s: int = 10,
) -> Database:
    """Connect to ``url`` (None or ``sqlite:///...``: SQLite, WAL; ``postgresql://...``) and
    bring ``schema`` up to date. InputError (exit 2) naming the URL, password redacted, when
    the URL is malformed, the server unreachable, or the schema newer than this code.

    ``durable`` fsyncs every SQLite commit (``synchronous=FULL``; else ``NORMAL``).
    """
    db = connect(
        parse_url(url, sqlite_path=sqlite_path),
        lock=schema.store if schema else "default",
        busy_timeout_s=busy_timeout_s,
        durable=durable,
        connect_timeout_s=connect_timeout_s,
        label=schema.label if schema else "the database",
    )
    if schema is not None:
        try:
            apply_migrations(db, schema)
        except BaseException:
            db.close()
            raise
    return db


def migrate(url: str | None, sqlite_path: Path, schema: Schema) -> tuple[Applied, ...]:
    """Apply the steps of ``schema`` that the database at ``url`` lacks; return them."""
    loc = parse_url(url, sqlite_path=sqlite_path)
    with connect(loc, lock=schema.store, label=schema.label) as db:
        return apply_migrations(db, schema)


def connect(
    loc: Location,
    *,
    lock: str,
    label: str,
    busy_timeout_s: float = 60.0,
    durable: bool = False,
    connect_timeout_s: int = 10,
) -> Database:
    if loc.sqlite_path is not None:
        import sqlite3

        from .sqlite import SqliteDatabase

        try:
            return SqliteDatabase(
                loc.sqlite_path,
                lock=lock,
                busy_timeout_s=busy_timeout_s,
                synchronous="FULL" if durable else "NORMAL",
            )
        except (sqlite3.DatabaseError, OSError) as exc:
            raise InputError(
                f"{loc.display}: cannot open {label}: {exc}",
                hint=f"check the path and its permissions ({label} is a SQLite file)",
            ) from None
    import psycopg

    from .postgres import PostgresDatabase

    assert loc.conninfo is not None
    try:
        return PostgresDatabase(
            loc.conninfo, display=loc.display, lock=lock, connect_timeout_s=connect_timeout_s
        )
    except psycopg.Error as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = password_in(loc.conninfo)
        why = why.replace(password, "***") if password else why
        raise InputError(
            f"{loc.display}: cannot connect to PostgreSQL for {label}: {why}",
            hint="check the URL (user, host, port, database name), that the server is running "
            "and accepts this client, and the password",
        ) from None
