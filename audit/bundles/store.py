"""The reports folder: ``<root>/<name>/v<N>/``, one folder per audit, never modified once written.

A new version is assembled in a temporary folder beside its destination, fsynced, made
read-only and renamed into place under a lock; ``rename`` onto an existing version fails, so two
concurrent audits of one system get different version numbers instead of overwriting each other.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..contract import Report
from ..errors import InputError
from ..safefs import (
    check_private_dir,
    create_file,
    is_plain_dir,
    is_plain_file,
    locked,
    private_tempdir,
    read_file,
    write_file,
)
from .bundle import REPORT_FILE, VERSION_DIR, Bundle

#: A renderer or the signing step: given the typed report and the bundle folder, it writes its
#: file(s) there (``audit.report.formats.Renderer`` implements it).
_Render = Callable[[Report, Path], None]


@dataclass(frozen=True)
class NewReport:
    """The report of a version about to be written."""

    report: Report
    content: bytes  # report.json's bytes
    changes: list[str] | None = None  # "since the last audit", one line per change


#: Builds the next report: given its version number and the latest bundle before it (None for
#: the first).
ReportBuilder = Callable[[int, Bundle | None], NewReport]


def versions(folder: Path) -> list[int]:
    """Existing version numbers of one audited system's folder, ascending (a symlinked entry
    is not a version: it is never followed)."""
    if not is_plain_dir(folder):
        return []
    found = [VERSION_DIR.match(p.name) for p in folder.iterdir() if is_plain_dir(p)]
    return sorted(int(m[1]) for m in found if m)


class BundleStore:
    """The reports folder ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def systems(self) -> list[str]:
        """Names of the audited systems that have a folder here, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if is_plain_dir(p))

    def versions(self, name: str) -> list[int]:
        return versions(self.root / name)

    def open(self, name: str, version: int) -> Bundle:
        return Bundle.open(self.root / name / f"v{version}")

    def latest(self, name: str) -> Bundle | None:
        """The highest version of ``name`` if its report.json exists, else None."""
        found = self.versions(name)
        if not found:
            return None
        folder = self.root / name / f"v{found[-1]}"
        return Bundle(folder) if (folder / REPORT_FILE).is_file() else None

    def write(
        self,
        name: str,
        build: ReportBuilder,
        renderers: Sequence[_Render],
        *,
        seal: _Render | None = None,
        anchor: _Render | None = None,
        floor: Callable[[str], int] | None = None,
    ) -> Bundle:
        """Write the next version of ``name``: report.json (what ``build`` returns), then each
        renderer's files, then ``seal`` (signing: it sees every other file), then ``anchor``
        (the access-log entry and its proof), then fsync, read-only, and the atomic rename.

        The version is one more than the highest in the folder and than ``floor(name)`` (the
        highest the access log has seen), so a deleted or moved folder never frees a number.
        The temporary folder is private (mode 0700, checked) and nothing in it is followed.
        """
        folder = self.root / name
        if os.path.islink(folder) or os.path.islink(self.root):
            raise InputError(
                f"{folder} is a symbolic link; refusing to write a bundle through it",
                hint="give a real --output folder",
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create the report folder {folder}: {exc.strerror}",
                hint="choose a writable --output folder",
            ) from None
        with locked(folder / ".lock"):
            existing = versions(folder)
            version = max(existing[-1] if existing else 0, floor(name) if floor else 0) + 1
            new = build(version, self.latest(name))
            tmp = private_tempdir(folder)
            try:
                write_file(tmp / REPORT_FILE, new.content)
                steps = [*renderers, *([seal] if seal else []), *([anchor] if anchor else [])]
                for render in steps:
                    render(new.report, tmp)
                    check_private_dir(tmp)
                for f in tmp.iterdir():
                    if not is_plain_file(f):
                        raise InputError(f"{f} is not a regular file; refusing to publish")
                    fd = os.open(f, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                    try:
                        os.fsync(fd)
                        os.fchmod(fd, 0o444)
                    finally:
                        os.close(fd)
                tmp.chmod(0o755)
                target = folder / f"v{version}"
                os.rename(tmp, target)  # fails if target exists: versions are never overwritten
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return Bundle(target, report=new.report, changes=new.changes)

    @staticmethod
    def unpack(archive: Path, root: Path) -> Path:
        """See :func:`unpack`."""
        return unpack(archive, root)

    @staticmethod
    def export(bundle: Bundle, dest: Path) -> None:
        """Copy ``bundle`` to ``dest``: a zip archive if it ends in .zip, else a folder.

        Never overwrites (InputError if ``dest`` exists); a zip is written beside and renamed.
        """
        folder = bundle.path
        if os.path.lexists(dest):
            what = " (a symbolic link; not followed)" if os.path.islink(dest) else ""
            raise InputError(f"{dest} already exists{what}", hint="choose a new destination")
        files = bundle.files()  # regular files only: a planted symlink is refused, not followed
        if dest.suffix == ".zip":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in files:
                    zf.writestr(f"{folder.parent.name}-{folder.name}/{f.name}", read_file(f))
            create_file(dest, buf.getvalue())
        else:
            try:
                dest.mkdir()
            except OSError as exc:
                raise InputError(f"cannot create {dest}: {exc.strerror}") from None
            for f in files:
                create_file(dest / f.name, read_file(f))


#: what a bundle zip may hold at most (a bundle is a dozen files; the PDF is the largest)
_ZIP_MEMBERS = 64
_ZIP_BYTES = 512 << 20
_ZIP_FOLDER = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,127})-v(?P<n>[0-9]{1,9})$")
_ZIP_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def unpack(archive: Path, root: Path) -> Path:
    """The bundle in a zip written by :meth:`BundleStore.export` (``<name>-v<N>/<file>``),
    extracted to ``root/<name>/v<N>/`` and returned; InputError (exit 2) for anything else: more
    than one folder, a nested path, a link, a name that is not plain, a duplicate, or more than
    the bounds above (a zip bomb)."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{archive} is not a readable zip archive: {exc}") from None
    hint = "give a zip written by `audit report export BUNDLE DEST.zip`, or the bundle folder"
    with zf:
        members = zf.infolist()
        if not members or len(members) > _ZIP_MEMBERS:
            raise InputError(
                f"{archive}: {len(members)} entries; a bundle zip has 1 to {_ZIP_MEMBERS}",
                hint=hint,
            )
        folders, names, total = set(), set(), 0
        for m in members:
            parts = m.filename.split("/")
            kind = (m.external_attr >> 16) & 0o170000
            if (
                len(parts) != 2
                or m.is_dir()
                or kind not in (0, 0o100000)
                or not _ZIP_FILE.match(parts[1])
            ):
                raise InputError(
                    f"{archive}: entry {m.filename!r} is not a plain file of one bundle folder",
                    hint=hint,
                )
            if parts[1] in names:
                raise InputError(f"{archive}: {parts[1]!r} appears twice", hint=hint)
            folders.add(parts[0])
            names.add(parts[1])
            total += m.file_size
        folder = _ZIP_FOLDER.match(next(iter(folders))) if len(folders) == 1 else None
        if folder is None:
            raise InputError(
                f"{archive}: expected one folder <name>-v<N>, found {sorted(folders)}", hint=hint
            )
        if total > _ZIP_BYTES:
            raise InputError(
                f"{archive}: {total} bytes uncompressed; a bundle zip holds at most {_ZIP_BYTES}",
                hint=hint,
            )
        target = root / folder["name"] / f"v{int(folder['n'])}"
        target.mkdir(parents=True)
        for m in members:
            with zf.open(m) as src:
                data = src.read(_ZIP_BYTES + 1)
            if len(data) != m.file_size:
                raise InputError(
                    f"{archive}: {m.filename!r} is not the size its entry states", hint=hint
                )
            create_file(target / m.filename.split("/")[1], data)
    return target
