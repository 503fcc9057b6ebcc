"""The SQLite backend: one file in WAL mode, writers serialised by ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .interface import ConstraintViolation, Database, Params, StorageError

__all__ = ["SqliteDatabase"]


class SqliteDatabase(Database):
    """SQLite in WAL mode with a busy timeout: readers never block the writer, and
    ``BEGIN IMMEDIATE`` takes the write lock up front, so no two writers read the same tail."""

    dialect = "sqlite"

    def __init__(
        self, path: Path, *, lock: str, busy_timeout_s: float, synchronous: str = "NORMAL"
    ) -> None:
        super().__init__(str(path), lock)
        self.path = path
        self._sync = synchronous
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, isolation_level=None, timeout=busy_timeout_s, check_same_thread=False
        )
        try:
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
        except sqlite3.DatabaseError:
            self._db.close()
            raise

    def _run(self, sql: str, params: Params) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, tuple(params))
        except sqlite3.IntegrityError as exc:
            raise ConstraintViolation(f"{self.display}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"{self.display}: the database failed: {exc}",
                hint="check the file, its permissions and the free disk space",
            ) from None

    def execute(self, sql: str, params: Params = ()) -> None:
        self._run(sql, params)

    def rows(self, sql: str, params: Params = ()) -> Iterator[tuple[Any, ...]]:
        return iter(self._run(sql, params))

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[None]:
        if self._in_transaction:
            raise RuntimeError("transactions do not nest")
        self._run("BEGIN IMMEDIATE" if write else "BEGIN", ())
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._in_transaction = False
            self._db.execute("ROLLBACK")
            raise
        self._in_transaction = False
        self._run("COMMIT", ())

    def lock_also(self, name: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the whole file."""

    @contextmanager
    def durable(self) -> Iterator[None]:
        self._db.execute("PRAGMA synchronous=FULL")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA synchronous={self._sync}")

    def has_table(self, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return self.one(sql, (name,)) is not None

    def close(self) -> None:
        self._db.close()
