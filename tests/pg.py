"""A real PostgreSQL server for the tests: initdb into a fresh temporary folder, once per process.

As root (initdb refuses to run as root) the folder is given to the ``postgres`` OS account and
the server runs as it through ``runuser``. Authentication is ``trust``, the server listens on a
Unix socket in that folder and on 127.0.0.1 at a free port, and it is made fast for tests
(no fsync); ``stop()`` ends it with ``pg_ctl -m immediate`` and removes the folder.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL's server binaries are missing: apt-get install postgresql "
    "(or run .ci/system-deps); set PG_BIN to their folder if they are elsewhere"
)


def find_bin() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres (``$PG_BIN``, Debian's, or ``$PATH``)."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for c in candidates:
        if c and all((Path(c) / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One throw-away cluster; :meth:`new_database` gives each test its own database."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="audit-pg-"))
        self.data = self.dir / "data"
        self.as_postgres = os.geteuid() == 0
        #: fsync as a production server does (for measurements); tests run without it
        self.durable = durable
        self.port = 0
        self._names = itertools.count(1)
        self._admin = None

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")

    def start(self) -> PgServer:
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        for attempt in range(3):
            self.port = _free_port()
            opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
            opts += "-c max_connections=60 -c shared_buffers=32MB"
            if not self.durable:
                opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.dir / "log"),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    "30",
                    "start",
                )
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database (CREATE DATABASE from template0); its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


class RawPg:
    """An insider's psycopg connection, with the ``?`` placeholders the attacks are written in
    (so one attack script runs against SQLite and PostgreSQL alike)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def execute(self, sql: str, params: tuple = ()):  # noqa: ANN201 - a psycopg cursor
        from audit.storage.postgres import to_pyformat

        return self.conn.execute(to_pyformat(sql) if params else sql, params or None)

    def disable_triggers(self) -> RawPg:
        for table in ("entries", "checkpoints"):
            self.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        return self

    def close(self) -> None:
        self.conn.close()
