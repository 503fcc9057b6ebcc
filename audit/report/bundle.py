"""Write a report bundle ``<output>/<name>/v<N>/`` atomically, never touching earlier versions.

The bundle is assembled in a temporary folder beside its destination and renamed into place;
``rename`` onto an existing version fails, so two concurrent audits of one system get different
version numbers instead of overwriting each other. Files are made read-only once written.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..contract import Changes
from ..digest import sha256_file
from ..errors import InputError
from ..runner import AuditResult
from .build import build_report, dumps, validate_report
from .diff import diff_reports

_VERSION_DIR = re.compile(r"^v(\d+)$")

#: A renderer takes the report document and the bundle folder, and writes its file(s) there.
Renderer = Callable[[dict[str, Any], Path], None]


@dataclass(frozen=True)
class Bundle:
    path: Path
    version: int
    report_id: str
    report: dict[str, Any]
    changes: list[str] | None = None  # "since the last audit", one line per change


def versions(folder: Path) -> list[int]:
    """Existing version numbers of one audited system, ascending."""
    if not folder.is_dir():
        return []
    found = [_VERSION_DIR.match(p.name) for p in folder.iterdir() if p.is_dir()]
    return sorted(int(m[1]) for m in found if m)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    lock_path = folder / ".lock"
    with lock_path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_previous(path: Path) -> dict[str, Any] | None:
    """The previous version's report, or None if it cannot be read (the diff is then omitted)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_bundle(
    result: AuditResult,
    output: Path,
    renderers: list[Renderer],
    *,
    now: datetime | None = None,
) -> Bundle:
    """Render and write the next version of ``result.name``'s bundle under ``output``."""
    folder = output / result.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the report folder {folder}: {exc.strerror}",
            hint="choose a writable --output folder",
        ) from None
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with _locked(folder):
        existing = versions(folder)
        version = (existing[-1] + 1) if existing else 1
        previous = None
        prev_report = None
        if existing:
            prev_json = folder / f"v{existing[-1]}" / "report.json"
            if prev_json.is_file():
                previous = "sha256:" + sha256_file(prev_json)
                prev_report = _read_previous(prev_json)
        report_id = str(uuid.uuid4())
        report = build_report(
            result, report_id=report_id, version=version, previous=previous, created_at=created
        )
        change_lines: list[str] | None = None
        if prev_report is not None:
            diff = diff_reports(prev_report, report.to_json())
            report = report.model_copy(update={"changes": Changes.model_validate(diff.to_dict())})
            change_lines = diff.lines()
        document = report.to_json()
        validate_report(document)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
        try:
            (tmp / "report.json").write_bytes(dumps(report))
            for render in renderers:
                render(document, tmp)
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
    return Bundle(
        path=target, version=version, report_id=report_id, report=document, changes=change_lines
    )
