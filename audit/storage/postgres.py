"""The PostgreSQL backend (psycopg 3): writers of a store serialised by an advisory lock.

A write transaction is ``BEGIN`` (read committed) followed by ``pg_advisory_xact_lock`` on the
store's key, so concurrent appenders from any number of processes and hosts take turns and each
reads the tail its predecessor committed: one chain, never a fork. The lock is released by the
commit or rollback, also when the client dies. Read transactions are ``REPEATABLE READ, READ
ONLY``: one snapshot for the whole read (a verification, an export).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

import psycopg

from .interface import ConstraintViolation, Database, Params, StorageError, lock_key

__all__ = ["PostgresDatabase", "to_pyformat"]


@lru_cache(maxsize=256)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (outside string literals), a literal ``%`` as ``%%``."""
    out, quoted = [], False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        out.append("%s" if ch == "?" and not quoted else "%%" if ch == "%" else ch)
    return "".join(out)


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, conninfo: str, *, display: str, lock: str, connect_timeout_s: int) -> None:
        super().__init__(display, lock)
        self._db = psycopg.connect(
            conninfo, autocommit=True, connect_timeout=connect_timeout_s, application_name="audit"
        )

    def _cursor(self, sql: str, params: Params) -> psycopg.Cursor[Any]:
        try:
            if params:
                return self._db.execute(to_pyformat(sql), tuple(params))
            return self._db.execute(sql)
        except psycopg.errors.IntegrityError as exc:
            raise ConstraintViolation(f"{self.display}: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise StorageError(
                f"{self.display}: the database failed: {_first_line(exc)}",
                hint="check that the PostgreSQL server is running and reachable",
            ) from None

    def execute(self, sql: str, params: Params = ()) -> None:
        self._cursor(sql, params)

    def rows(self, sql: str, params: Params = ()) -> Iterator[tuple[Any, ...]]:
        return iter(self._cursor(sql, params).fetchall())

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[None]:
        if self._in_transaction:
            raise RuntimeError("transactions do not nest")
        begin = (  # one round trip: the key is an integer lock_key computed
            f"BEGIN; SELECT pg_advisory_xact_lock({lock_key(self.lock)})"
            if write
            else "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
        )
        try:
            self.execute(begin)
        except StorageError:
            with suppress(StorageError):
                self.execute("ROLLBACK")
            raise
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._in_transaction = False
            with suppress(StorageError):  # a lost connection: the server rolls back
                self.execute("ROLLBACK")
            raise
        self._in_transaction = False
        self.execute("COMMIT")

    def lock_also(self, name: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))

    @contextmanager
    def durable(self) -> Iterator[None]:
        """Commits are durable already (``synchronous_commit`` is the server's, on by default)."""
        yield

    def has_table(self, name: str) -> bool:
        row = self.one("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(row and row[0])

    def close(self) -> None:
        self._db.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
