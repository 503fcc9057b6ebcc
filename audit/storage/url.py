"""Database URLs: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``postgresql://...``.

As in SQLAlchemy, the path of a ``sqlite://`` URL is what follows the third slash (so an
absolute path has four). No URL means the store's own SQLite file. ``display`` is the URL
without its password (in the authority or a ``password=`` parameter): the form for messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import InputError

__all__ = ["Location", "parse_url", "password_in", "redact"]

_HINT = (
    "give sqlite:///PATH (relative), sqlite:////PATH (absolute) or "
    "postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME"
)


@dataclass(frozen=True)
class Location:
    """Where a store's database is: a SQLite file, or a PostgreSQL connection string."""

    dialect: str
    display: str
    sqlite_path: Path | None = None
    conninfo: str | None = None


def redact(url: str) -> str:
    """``url`` without a password: ``postgresql://alice@host/db`` from ``alice:secret@host``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            auth, host = netloc.rsplit("@", 1)
            netloc = f"{auth.split(':', 1)[0]}@{host}"
        query = urlencode(
            [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<a database URL that cannot be parsed>"


def parse_url(url: str | None, *, sqlite_path: Path) -> Location:
    """The location ``url`` names (``sqlite_path`` when there is no URL); InputError if malformed."""
    if url is None:
        return Location("sqlite", str(sqlite_path), sqlite_path=Path(sqlite_path))
    shown = redact(url)
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
            raise InputError(f"database URL {shown!r} names no SQLite file", hint=_HINT)
        path = Path(url[len("sqlite:///") :])
        return Location("sqlite", str(path), sqlite_path=path)
    if scheme in ("postgresql", "postgres"):
        try:
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            raise InputError(
                f"database URL {shown!r}: PostgreSQL needs psycopg, which is not installed",
                hint="pip install 'audit[serve]' (or psycopg[binary])",
            ) from None
        password = password_in(url)
        try:
            _ = urlsplit(url).port  # ValueError if not a number
            conninfo_to_dict(url)
        except Exception as exc:  # psycopg.ProgrammingError, ValueError
            why = str(exc).replace(password, "***") if password else str(exc)
            raise InputError(f"database URL {shown!r} is malformed: {why}", hint=_HINT) from None
        return Location("postgresql", shown, conninfo=url)
    raise InputError(
        f"database URL {shown!r}: unknown scheme {scheme!r} (sqlite or postgresql)", hint=_HINT
    )


def password_in(url: str) -> str:
    """The password in ``url`` (authority or ``password=`` parameter), or ``""``."""
    try:
        parts = urlsplit(url)
        found = parts.password or ""
        for k, v in parse_qsl(parts.query):
            if k == "password":
                found = found or v
        return found
    except ValueError:
        return ""
