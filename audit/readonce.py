"""Read an artifact once: a private copy, hashed while it is written, is what gets loaded.

Hashing a model file and then loading it by name reads the file twice; whoever can write the
file (or swap a symlink, or the folder it sits in) between the two reads gets a different model
audited under the good model's digest. Here the source is opened once, without following a
symlink (``O_NOFOLLOW``, and with ``root`` no symlinked component below it), checked to be a
regular file, and streamed into a new file in a private folder (mode 0700, from
:func:`audit.safefs.private_tempdir`) while its sha256 is computed. The digest is of exactly the
bytes in the copy, and nobody but this process's user can change the copy: hashing and loading
both use it.

Use :class:`PrivateCopies` as a context manager; the folder and every copy in it are removed on
exit::

    with PrivateCopies() as copies:
        model = copies.copy(model_path)        # Copied(path=<private>/model.skops, sha256=...)
        load_model(model.path, model.sha256)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .errors import AuditError, InputError
from .safefs import check_private_dir, open_regular, private_tempdir

__all__ = ["Copied", "PrivateCopies", "copy_private", "named_as_source"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Copied:
    """A private copy of ``source``: its ``path``, and the ``sha256`` and ``size`` of its bytes."""

    source: Path
    path: Path
    sha256: str
    size: int


def copy_private(
    source: Path,
    folder: Path,
    *,
    name: str | None = None,
    root: Path | None = None,
    limit: int | None = None,
) -> Copied:
    """Copy the regular file ``source`` into the private ``folder`` as ``name`` (default: the
    source's own name), hashing the bytes as they are written.

    ``root``: ``source`` must lie inside it with no symlink below it. ``limit``: refuse a file
    larger than this many bytes (checked on the open file and while copying, so a file that
    grows after the check is refused too). The copy is created with ``O_EXCL | O_NOFOLLOW``.
    """
    source = Path(source)
    check_private_dir(folder)
    target = folder / (name or source.name)
    with open_regular(source, root=root, limit=limit) as src:
        try:
            out = os.open(
                target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600
            )
        except OSError as exc:
            raise InputError(f"cannot copy {source} to {target}: {exc.strerror}") from None
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(out, "wb") as dst:
            while block := src.read(_CHUNK):
                size += len(block)
                if limit is not None and size > limit:
                    raise InputError(f"refusing to read {source}: it grew past {limit:,} bytes")
                digest.update(block)
                dst.write(block)
    return Copied(source, target, digest.hexdigest(), size)


class PrivateCopies:
    """A private temporary folder for the copies of one run; removed (with them) on exit.

    ``parent``: where the folder is made (default: the system's temporary folder).
    """

    def __init__(self, parent: Path | None = None) -> None:
        self.parent = Path(parent) if parent is not None else Path(tempfile.gettempdir())
        self._folder: Path | None = None
        self._count = 0

    @property
    def folder(self) -> Path:
        """The private folder, made on first use."""
        if self._folder is None:
            self._folder = private_tempdir(self.parent, prefix="audit-read-once-")
        return self._folder

    def copy(
        self,
        source: Path,
        *,
        name: str | None = None,
        root: Path | None = None,
        limit: int | None = None,
    ) -> Copied:
        """A private copy of ``source`` (in its own sub-folder, so two sources of the same name
        never collide and a loader that looks beside the file finds nothing else)."""
        self._count += 1
        sub = self.folder / str(self._count)
        os.mkdir(sub, 0o700)
        return copy_private(Path(source), sub, name=name, root=root, limit=limit)

    def close(self) -> None:
        if self._folder is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self._folder)
            self._folder = None

    def __enter__(self) -> PrivateCopies:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@contextlib.contextmanager
def named_as_source(copied: Copied, shown: str | None = None) -> Iterator[None]:
    """Errors raised while reading ``copied.path`` name the source the user gave (``shown``, by
    default the source path), not the private copy, which is gone by the time they are read."""
    try:
        yield
    except AuditError as exc:
        private, public = str(copied.path), shown or str(copied.source)
        if private not in exc.message and private not in (exc.hint or ""):
            raise
        raise type(exc)(
            exc.message.replace(private, public),
            hint=exc.hint.replace(private, public) if exc.hint else None,
        ) from None
