"""One report bundle folder, and :func:`read_report`, the one parser of report.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..digest import sha256_file
from ..errors import InputError

REPORT_FILE = "report.json"
VERSION_DIR = re.compile(r"^v(\d+)$")


def read_report(path: Path) -> dict[str, Any]:
    """The parsed report.json at ``path``; InputError naming the file if it is not one.

    Every reader of report.json goes through here (bundles, baselines, approvals, the gate, the
    verifier), so there is one notion of "a readable report".
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(
            f"{path} cannot be read as JSON: {exc}",
            hint="give the report.json of a bundle written by audit run",
        ) from None
    if not isinstance(data, dict) or "outcome" not in data:
        raise InputError(
            f"{path} is not an audit report.json",
            hint="give the report.json of a bundle written by audit run",
        )
    return data


class Bundle:
    """A bundle folder. ``report`` is read on first use (or given, for a bundle just written);
    ``changes`` are the "since the last audit" lines of a bundle just written (else None)."""

    def __init__(
        self,
        path: Path,
        *,
        report: dict[str, Any] | None = None,
        changes: list[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.changes = changes
        self._report = report

    @classmethod
    def open(cls, target: Path) -> Bundle:
        """The bundle at ``target``, a bundle folder or its report.json; InputError if neither."""
        target = Path(target)
        folder = target.parent if target.name == REPORT_FILE else target
        if not (folder / REPORT_FILE).is_file():
            raise InputError(
                f"{target} is not a report bundle (no {REPORT_FILE} in {folder})",
                hint="give a folder such as reports/adult-income/v2, or its report.json",
            )
        return cls(folder)

    @property
    def report_path(self) -> Path:
        return self.path / REPORT_FILE

    @property
    def report(self) -> dict[str, Any]:
        """The parsed report.json (see :func:`read_report`)."""
        if self._report is None:
            self._report = read_report(self.report_path)
        return self._report

    @property
    def version(self) -> int:
        """The version: from the ``v<N>`` folder name, else from the report."""
        m = VERSION_DIR.match(self.path.name)
        return int(m[1]) if m else int(self.report["version"])

    @property
    def report_id(self) -> str:
        return str(self.report["report_id"])

    def report_sha256(self) -> str:
        """Hex sha256 of report.json's bytes (what the next version and approvals pin)."""
        return sha256_file(self.report_path)

    def files(self) -> list[Path]:
        """The bundle's regular files, sorted by name."""
        return sorted(f for f in self.path.iterdir() if f.is_file())

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r})"
