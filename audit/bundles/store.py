"""The reports folder: ``<root>/<name>/v<N>/``, one folder per audit, never modified once written.

A new version is assembled in a temporary folder beside its destination, fsynced, made
read-only and renamed into place under a lock; ``rename`` onto an existing version fails, so two
concurrent audits of one system get different version numbers instead of overwriting each other.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..contract import Report
from ..errors import InputError
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
    """Existing version numbers of one audited system's folder, ascending."""
    if not folder.is_dir():
        return []
    found = [VERSION_DIR.match(p.name) for p in folder.iterdir() if p.is_dir()]
    return sorted(int(m[1]) for m in found if m)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class BundleStore:
    """The reports folder ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def systems(self) -> list[str]:
        """Names of the audited systems that have a folder here, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.glob("*") if p.is_dir())

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
    ) -> Bundle:
        """Write the next version of ``name``: report.json (what ``build`` returns), then each
        renderer's files, then ``seal`` (signing: it sees every other file), then fsync,
        read-only, and the atomic rename."""
        folder = self.root / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create the report folder {folder}: {exc.strerror}",
                hint="choose a writable --output folder",
            ) from None
        with _locked(folder):
            existing = versions(folder)
            version = (existing[-1] + 1) if existing else 1
            new = build(version, self.latest(name))
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
            try:
                (tmp / REPORT_FILE).write_bytes(new.content)
                for render in [*renderers, *([seal] if seal is not None else [])]:
                    render(new.report, tmp)
                for f in tmp.iterdir():
                    with f.open("rb") as fh:
                        os.fsync(fh.fileno())
                    f.chmod(0o444)
                tmp.chmod(0o755)
                target = folder / f"v{version}"
                os.rename(tmp, target)  # fails if target exists: versions are never overwritten
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return Bundle(target, report=new.report, changes=new.changes)

    @staticmethod
    def export(bundle: Bundle, dest: Path) -> None:
        """Copy ``bundle`` to ``dest``: a zip archive if it ends in .zip, else a folder.

        Never overwrites (InputError if ``dest`` exists); a zip is written beside and renamed.
        """
        folder = bundle.path
        if dest.exists():
            raise InputError(f"{dest} already exists", hint="choose a new destination")
        if dest.suffix == ".zip":
            tmp = dest.with_name(f".{dest.name}.partial")
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in bundle.files():
                    zf.write(f, f"{folder.parent.name}-{folder.name}/{f.name}")
            tmp.replace(dest)
        else:
            shutil.copytree(folder, dest)
