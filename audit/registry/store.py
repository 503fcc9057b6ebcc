"""An embedded model and dataset registry: database metadata over a content-addressed file store.

Layout under the registry home (``.audit/`` in the working directory, or ``$AUDIT_HOME``)::

    registry.db                 SQLite: one row per (kind, name, version) (or the table
                                ``artifacts`` of the PostgreSQL database ``database`` names)
    objects/sha256/<hex>        the artifact's bytes, stored once, read-only

Registering copies the file into the store and records its sha256; resolving an entry re-hashes
the stored bytes, so an artifact altered after registration stops the audit (IntegrityError,
exit 3) instead of being audited silently.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..digest import sha256_file
from ..errors import InputError, IntegrityError
from ..names import check_name, check_version
from ..readonce import Copied, PrivateCopies, copy_private
from ..safefs import is_plain_file, private_tempdir, unlinked_components
from ..storage import ConstraintViolation, Database, Schema, Step, open_database, parse_url

Kind = Literal["model", "dataset"]

_ARTIFACTS = """CREATE TABLE IF NOT EXISTS artifacts (
    kind TEXT NOT NULL CHECK (kind IN ('model', 'dataset')),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    size {size} NOT NULL,
    original_name TEXT NOT NULL,
    metadata TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    PRIMARY KEY (kind, name, version)
)"""

#: The registry's tables and their migrations (:mod:`audit.storage.migrations`).
REGISTRY_SCHEMA = Schema(
    store="registry",
    label="the registry",
    steps=(
        Step(
            1,
            "baseline: artifacts",
            sqlite=(_ARTIFACTS.format(size="INTEGER"),),
            postgresql=(_ARTIFACTS.format(size="BIGINT"),),
        ),
    ),
)

#: Model metadata a registry entry may carry (the documentation rules of a policy check these).
METADATA_FIELDS = ("owner", "intended_use", "training_data", "limitations")


@dataclass(frozen=True)
class Artifact:
    """One registered model or dataset version."""

    kind: Kind
    name: str
    version: str
    sha256: str
    format: str
    size: int
    original_name: str
    registered_at: str
    registered_by: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "format": self.format,
            "size": self.size,
            "original_name": self.original_name,
            "registered_at": self.registered_at,
            "registered_by": self.registered_by,
            "metadata": dict(self.metadata),
        }


def default_home(cwd: Path | None = None, env: dict[str, str] | None = None) -> Path:
    """``$AUDIT_HOME`` if set, else ``.audit`` in ``cwd``. The CLI passes the environment in."""
    env = env if env is not None else {}
    if env.get("AUDIT_HOME"):
        return Path(env["AUDIT_HOME"]).expanduser().resolve()
    return (cwd or Path.cwd()) / ".audit"


class Registry:
    """The registry at ``home``; created on first write. Its table is in ``<home>/registry.db``
    unless ``database`` names another (``postgresql://...``, ``sqlite:///...``); the artifact
    bytes are under ``<home>/objects/`` either way."""

    def __init__(self, home: Path, database: str | None = None) -> None:
        self.home = home
        self.database = database
        location = parse_url(database, sqlite_path=home / "registry.db")
        #: The SQLite file holding the table (None on PostgreSQL).
        self.db_path = location.sqlite_path
        self.objects = home / "objects" / "sha256"
        self._db: Database | None = None

    def close(self) -> None:
        db, self._db = getattr(self, "_db", None), None
        if db is not None:
            db.close()

    def __del__(self) -> None:  # a caller that never closes must not leak a server connection
        self.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exists(self) -> bool:
        return self.db_path is None or self.db_path.exists()

    def _connect(self, create: bool) -> Database:
        if self._db is not None:
            return self._db
        if not self._exists() and not create:
            raise InputError(
                f"no registry at {self.home}",
                hint="register artifacts first with `audit registry add-model` / `add-dataset`, "
                "or set AUDIT_HOME to the registry folder",
            )
        self.home.mkdir(parents=True, exist_ok=True)
        self._db = open_database(
            self.database,
            sqlite_path=self.db_path or self.home / "registry.db",
            schema=REGISTRY_SCHEMA,
            busy_timeout_s=30,
            durable=True,
        )
        return self._db

    def add(
        self,
        kind: Kind,
        name: str,
        version: str,
        source: Path,
        fmt: str,
        actor: str,
        metadata: dict[str, str] | None = None,
    ) -> Artifact:
        """Copy ``source`` into the store and record it. A (kind, name, version) is written once."""
        check_name(name, f"{kind} name", hint="register it under a plain --name")
        check_version(version, f"{kind} version", hint="register it under a plain --version")
        self.objects.mkdir(parents=True, exist_ok=True)
        incoming = private_tempdir(self.objects, prefix=".incoming-")
        try:
            # read once: the digest is of the bytes copied into the store, not of a second read
            copied = copy_private(source, incoming, name="artifact")
            target = self.objects / copied.sha256
            if not is_plain_file(target):
                os.chmod(copied.path, 0o444)
                os.replace(copied.path, target)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        digest = copied.sha256
        artifact = Artifact(
            kind=kind,
            name=name,
            version=version,
            sha256=digest,
            format=fmt,
            size=copied.size,
            original_name=source.name,
            registered_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            registered_by=actor,
            metadata={k: v for k, v in (metadata or {}).items() if v},
        )
        db = self._connect(create=True)
        with db.transaction():
            try:
                db.execute(
                    "INSERT INTO artifacts VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        kind,
                        name,
                        version,
                        digest,
                        fmt,
                        artifact.size,
                        artifact.original_name,
                        json.dumps(artifact.metadata, sort_keys=True),
                        artifact.registered_at,
                        actor,
                    ),
                )
            except ConstraintViolation:
                raise InputError(
                    f"{kind} {name}@{version} is already registered",
                    hint="registered versions never change: register under a new --version",
                ) from None
        return artifact

    def get(self, kind: Kind, name: str, version: str) -> Artifact:
        db = self._connect(create=False)
        with db.transaction(write=False):
            row = db.one(
                "SELECT * FROM artifacts WHERE kind=? AND name=? AND version=?",
                (kind, name, version),
            )
            if row is None:
                known = [
                    f"{n}@{v}"
                    for n, v in db.rows(
                        "SELECT name, version FROM artifacts WHERE kind=? ORDER BY name, version",
                        (kind,),
                    )
                ]
        if row is None:
            listing = ", ".join(known) if known else "none"
            raise InputError(
                f"no {kind} {name}@{version} in the registry at {self.home} "
                f"(registered {kind}s: {listing})",
                hint=f"register it with `audit registry add-{kind} --name {name} "
                f"--version {version} FILE`",
            )
        return _artifact(row)

    def list(self, kind: Kind | None = None) -> list[Artifact]:
        if not self._exists():
            return []
        db = self._connect(create=False)
        if kind:
            rows = db.rows(
                "SELECT * FROM artifacts WHERE kind=? ORDER BY kind, name, version", (kind,)
            )
        else:
            rows = db.rows("SELECT * FROM artifacts ORDER BY kind, name, version")
        return [_artifact(r) for r in rows]

    def _stored(self, artifact: Artifact) -> Path:
        path = self.objects / artifact.sha256
        why = unlinked_components(path, self.home)
        if why or os.path.lexists(path) and not is_plain_file(path):
            raise IntegrityError(
                f"{artifact.kind} {artifact.ref}: stored file {path} is not a regular file "
                f"({why or 'replaced by a link or a folder'})",
                hint="the registry store was modified; register the artifact again under a new version",
            )
        if not is_plain_file(path):
            raise IntegrityError(
                f"{artifact.kind} {artifact.ref}: stored file {path} is missing",
                hint="the registry store was modified; register the artifact again under a new version",
            )
        return path

    def _check(self, artifact: Artifact, path: Path, actual: str) -> None:
        if actual != artifact.sha256:
            raise IntegrityError(
                f"{artifact.kind} {artifact.ref} was altered after registration: stored file {path} "
                f"has sha256 {actual}, registered {artifact.sha256}",
                hint="do not audit it; find out who changed the file, then register a known-good copy",
            )

    def path_of(self, artifact: Artifact) -> Path:
        """The stored file, after re-checking its digest (IntegrityError if it changed).

        The file can change after this returns; to load an artifact use :meth:`copy_out`,
        which hashes the very bytes that will be loaded.
        """
        path = self._stored(artifact)
        self._check(artifact, path, sha256_file(path))
        return path

    def copy_out(self, artifact: Artifact, copies: PrivateCopies) -> Copied:
        """A private copy of the stored file (named by its digest), hashed while copied and
        checked against the registered digest: load from ``.path``, nothing else.

        IntegrityError (exit 3) if the stored bytes are missing, a link, or altered."""
        path = self._stored(artifact)
        try:
            copied = copies.copy(path, name=artifact.sha256, root=self.home)
        except InputError as exc:
            raise IntegrityError(f"{artifact.kind} {artifact.ref}: {exc.message}") from None
        self._check(artifact, path, copied.sha256)
        return copied


def _artifact(row: tuple[Any, ...]) -> Artifact:
    kind, name, version, sha, fmt, size, orig, meta, at, by = row
    return Artifact(kind, name, version, sha, fmt, size, orig, at, by, json.loads(meta))
