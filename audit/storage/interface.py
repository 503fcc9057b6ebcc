"""What the stores (the access log, the registry) ask of a database, whichever driver runs it.

SQL is written once, with ``?`` placeholders and the common subset of SQLite and PostgreSQL;
where the dialects differ a store picks by :attr:`Database.dialect`. Rows come back as tuples;
BLOB and BYTEA columns as ``bytes``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal

from ..errors import InputError

__all__ = ["ConstraintViolation", "Database", "Dialect", "StorageError", "lock_key"]

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any]


class StorageError(InputError):
    """The database failed a statement (lost connection, locked past the timeout): exit 2."""


class ConstraintViolation(StorageError):
    """A statement broke a constraint (a primary key written twice, a CHECK)."""


def lock_key(name: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks, derived from a store's name."""
    return int.from_bytes(hashlib.sha256(f"audit:{name}".encode()).digest()[:8], "big", signed=True)


class Database(ABC):
    """One connection to one database, used by one store (``lock`` names that store).

    ``transaction(write=True)`` serialises writers of the store across processes, so a writer
    that reads the tail and appends to it is never interleaved with another; a read transaction
    sees one consistent snapshot. Statements outside a transaction commit on their own.
    """

    dialect: Dialect
    #: Where the data lives, for messages: a file path, or a URL without its password.
    display: str

    def __init__(self, display: str, lock: str) -> None:
        self.display = display
        self.lock = lock
        self._in_transaction = False

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> None:
        """Run one statement (``?`` placeholders)."""

    @abstractmethod
    def rows(self, sql: str, params: Params = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of a query, in order."""

    def one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        return next(iter(self.rows(sql, params)), None)

    @abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractContextManager[None]:
        """A write transaction holding the store's lock, or a read-only snapshot."""

    @abstractmethod
    def lock_also(self, name: str) -> None:
        """Inside a write transaction, also take the lock ``name`` (e.g. for migrations)."""

    @abstractmethod
    def durable(self) -> AbstractContextManager[None]:
        """Commits inside are on stable storage before they return (fsync)."""

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """Whether the table ``name`` exists."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
