"""Numbered schema migrations per store, recorded in ``schema_migrations``.

Each store (the access log, the registry) declares a :class:`Schema`: an ordered tuple of
:class:`Step` s numbered 1, 2, ..., each with its SQL for SQLite and for PostgreSQL. Opening a
store applies the steps its database has not recorded, inside one write transaction that holds
the store's lock and the migrations lock (so two processes opening a fresh database at once
apply each step once), and records each as ``(store, version, name, applied_at)``.

Step 1 is the schema as it was before migrations existed, written with ``IF NOT EXISTS``: a
database created by that code (its tables, no ``schema_migrations``) is adopted at version 1
unchanged. A database recording a version newer than the code knows is refused: older code must
not write into a schema it does not understand.

To add a migration, append ``Step(n + 1, "what it does", sqlite=(...), postgresql=(...))`` to
the store's schema; never edit a step that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import InputError
from .interface import Database

__all__ = ["Applied", "Schema", "Step", "apply_migrations", "recorded_version"]

TABLE = "schema_migrations"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (store TEXT NOT NULL, version INTEGER NOT NULL, "
    "name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (store, version))"
)
MIGRATIONS_LOCK = "schema_migrations"


@dataclass(frozen=True)
class Step:
    """One migration: its number, what it does, and its statements in each dialect."""

    version: int
    name: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]

    def statements(self, dialect: str) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgresql


@dataclass(frozen=True)
class Schema:
    """A store's migrations. ``store`` keys ``schema_migrations`` and the store's write lock;
    ``label`` names the store in messages ("the access log")."""

    store: str
    label: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        numbers = [s.version for s in self.steps]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"{self.store}: steps must be numbered 1..n, not {numbers}")

    @property
    def latest(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class Applied:
    """A step applied by :func:`apply_migrations`."""

    store: str
    version: int
    name: str


def recorded_version(db: Database, schema: Schema) -> int:
    """The highest version recorded for ``schema.store`` (0 when none is)."""
    if not db.has_table(TABLE):
        return 0
    row = db.one(f"SELECT MAX(version) FROM {TABLE} WHERE store = ?", (schema.store,))
    return int(row[0]) if row and row[0] is not None else 0


def _refuse_newer(db: Database, schema: Schema, version: int) -> None:
    if version > schema.latest:
        raise InputError(
            f"{db.display}: schema version {version} of {schema.label} is newer than this "
            f"audit ({schema.latest}); upgrade audit",
            hint="a newer audit migrated this database; run that version (or newer) against it",
        )


def apply_migrations(db: Database, schema: Schema) -> tuple[Applied, ...]:
    """Apply the steps of ``schema`` that ``db`` lacks; return them (empty when up to date)."""
    version = recorded_version(db, schema)
    _refuse_newer(db, schema, version)
    if version == schema.latest:
        return ()
    applied: list[Applied] = []
    with db.transaction(write=True):
        db.lock_also(MIGRATIONS_LOCK)
        db.execute(_CREATE)
        version = recorded_version(db, schema)  # another process may have migrated meanwhile
        _refuse_newer(db, schema, version)
        for step in schema.steps[version:]:
            for statement in step.statements(db.dialect):
                db.execute(statement)
            now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            db.execute(
                f"INSERT INTO {TABLE} (store, version, name, applied_at) VALUES (?, ?, ?, ?)",
                (schema.store, step.version, step.name, now),
            )
            applied.append(Applied(schema.store, step.version, step.name))
    return tuple(applied)
