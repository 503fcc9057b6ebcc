"""Confined file access: never follow a symlink, never write through a name someone planted.

Every file the tool writes goes through :func:`write_file` (or :func:`create_file` for a file
that must not exist yet); every file it reads on the strength of a configured folder (templates,
bundles, key folders) through :func:`read_file`. The rules:

* reading opens with ``O_NOFOLLOW`` and refuses anything but a regular file; with ``root`` the
  path must lie inside ``root`` and no component between them may be a symlink;
* writing goes to a fresh, randomly named sibling created with ``O_CREAT | O_EXCL |
  O_NOFOLLOW`` (a name planted in advance, a symlink included, makes the open fail instead of
  redirecting the write), is fsynced, then renamed over the destination; ``rename`` replaces a
  symlink at the destination instead of writing through it;
* temporary folders are made by :func:`private_tempdir` (``mkdtemp``: mode 0700, unique name)
  and checked to be a real folder owned by this process's user before anything goes in.

Errors are :class:`~audit.errors.InputError` (exit 2) naming the path and what was wrong.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import InputError

__all__ = [
    "check_private_dir",
    "create_file",
    "is_plain_dir",
    "is_plain_file",
    "locked",
    "open_regular",
    "private_tempdir",
    "read_file",
    "unlinked_components",
    "write_file",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def is_plain_file(path: Path) -> bool:
    """A regular file that is not a symlink (``lstat``, so a link to a file is not one)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def is_plain_dir(path: Path) -> bool:
    """A folder that is not a symlink."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def unlinked_components(path: Path, root: Path) -> str | None:
    """``None`` if ``path`` lies inside ``root`` with no symlink on the way, else why not.

    ``root`` itself may be reached through symlinks (it is what the user configured); every
    component below it is checked with ``lstat``.
    """
    root_abs = Path(os.path.abspath(root))
    path_abs = Path(os.path.abspath(path))
    try:
        rel = path_abs.relative_to(root_abs)
    except ValueError:
        return f"{path} is outside {root}"
    if ".." in rel.parts:
        return f"{path} leaves {root}"
    current = root_abs
    for part in rel.parts:
        current = current / part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return f"{current} is a symbolic link (not followed)"
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"{current}: {exc.strerror}"
    return None


def open_regular(path: Path, *, root: Path | None = None, limit: int | None = None) -> BinaryIO:
    """The regular file ``path``, opened for reading without following a symlink.

    With ``root``: ``path`` must be inside it and no component below ``root`` a symlink. With
    ``limit``: a file larger than ``limit`` bytes is refused (on the open file, so a swap after
    the check changes nothing). The caller closes the file.
    """
    path = Path(path)
    if root is not None:
        why = unlinked_components(path, root)
        if why:
            raise InputError(f"refusing to read {path}: {why}", hint="use a regular file")
    try:
        # O_NONBLOCK: a FIFO planted under the name must not hang the open (it is refused below;
        # on a regular file the flag changes nothing)
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist", hint="check the path") from None
    except OSError as exc:
        if os.path.islink(path):
            raise InputError(
                f"refusing to read {path}: it is a symbolic link (not followed)",
                hint="give the file itself, not a link to it",
            ) from None
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise InputError(f"refusing to read {path}: {kind}", hint="give a regular file")
        if limit is not None and info.st_size > limit:
            raise InputError(
                f"refusing to read {path}: {info.st_size:,} bytes, more than the limit of {limit:,}"
            )
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_file(path: Path, *, root: Path | None = None, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (see :func:`open_regular`)."""
    with open_regular(path, root=root, limit=limit) as fh:
        return fh.read()


def _open_new(path: Path, mode: int) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode)


def write_file(path: Path, data: bytes | str, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically, with ``mode`` from the first byte.

    The bytes go to a fresh random sibling (``O_EXCL | O_NOFOLLOW``: nothing planted can
    redirect them), are fsynced, and the sibling is renamed over ``path``. A symlink at
    ``path`` is replaced, never written through; a folder at ``path`` is an error.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if is_plain_dir(path):
        raise InputError(f"cannot write {path}: it is a folder")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = _open_new(tmp, mode)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)  # exactly ``mode``, whatever the umask
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def create_file(path: Path, data: bytes | str, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path``, which must not exist (not even as a dangling symlink).

    Written to a private sibling first and linked into place with ``os.link``, which fails if
    the name exists: no other writer's file and no planted link is ever replaced.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if os.path.lexists(path):
        what = " (a symbolic link; not followed)" if os.path.islink(path) else ""
        raise InputError(
            f"{path} already exists{what}", hint="choose a new name; nothing was written"
        )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = _open_new(tmp, mode)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path, follow_symlinks=False)
        except FileExistsError:
            raise InputError(
                f"{path} already exists", hint="choose a new name; nothing was written"
            ) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the lock file ``path`` (created, never through a link)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o644)
    except OSError as exc:
        raise InputError(
            f"cannot lock {path}: {exc.strerror} (is it a symbolic link?)",
            hint="remove whatever was planted under that name",
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def check_private_dir(folder: Path) -> None:
    """``folder`` must be a real folder (not a symlink), owned by us, mode 0700."""
    try:
        info = os.lstat(folder)
    except OSError as exc:
        raise InputError(f"temporary folder {folder}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"temporary folder {folder} is not a folder (replaced by a link?)")
    if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise InputError(
            f"temporary folder {folder} is not private (owner uid {info.st_uid}, mode "
            f"{stat.S_IMODE(info.st_mode):o}); refusing to write into it"
        )


def private_tempdir(parent: Path, prefix: str = ".tmp-") -> Path:
    """A new folder inside ``parent``: unique name, mode 0700, checked before use."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except OSError as exc:
        raise InputError(f"cannot create a temporary folder in {parent}: {exc.strerror}") from None
    check_private_dir(folder)
    return folder
