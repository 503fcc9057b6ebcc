"""One report bundle folder, and :func:`read_report`, the one parser of report.json."""

from __future__ import annotations

import re
from pathlib import Path

from ..contract import Report, ReportFormatError
from ..digest import sha256_file
from ..errors import InputError
from ..jsonio import check_depth
from ..safefs import is_plain_file

REPORT_FILE = "report.json"
#: The bundle's inclusion proof in the access log (written after the attestation, which it
#: anchors, so it is not one of the attested files; see audit.access.proofs).
PROOF_FILE = "log-proof.json"
VERSION_DIR = re.compile(r"^v(\d+)$")


def read_report(path: Path) -> Report:
    """The typed report in report.json at ``path``; InputError naming the file (and the first
    field that does not fit the report model) if it is not one.

    Every reader of report.json goes through here (bundles, baselines, approvals, the gate, the
    verifier), so there is one notion of "a readable report".
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(
            f"{path} cannot be read: {exc.strerror}",
            hint="give the report.json of a bundle written by audit run",
        ) from None
    check_depth(data, path)
    try:
        return Report.from_bytes(data)
    except (ReportFormatError, RecursionError) as exc:
        raise InputError(
            f"{path} is not an audit report.json: {exc}",
            hint="give the report.json of a bundle written by audit run",
        ) from None


class Bundle:
    """A bundle folder. ``report`` is read on first use (or given, for a bundle just written);
    ``changes`` are the "since the last audit" lines of a bundle just written (else None)."""

    def __init__(
        self,
        path: Path,
        *,
        report: Report | None = None,
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
        if folder.is_symlink() or (folder / REPORT_FILE).is_symlink():
            raise InputError(
                f"{target} is a symbolic link; a bundle is used only where it was written",
                hint="give the bundle folder itself (or a copy: audit report export)",
            )
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
    def report(self) -> Report:
        """The typed report of report.json (see :func:`read_report`)."""
        if self._report is None:
            self._report = read_report(self.report_path)
        return self._report

    @property
    def version(self) -> int:
        """The version: from the ``v<N>`` folder name, else from the report."""
        m = VERSION_DIR.match(self.path.name)
        return int(m[1]) if m else self.report.version

    @property
    def report_id(self) -> str:
        return self.report.report_id

    def report_sha256(self) -> str:
        """Hex sha256 of report.json's bytes (what the next version and approvals pin)."""
        return sha256_file(self.report_path)

    def files(self) -> list[Path]:
        """The bundle's regular files, sorted by name; InputError if anything else is there
        (a symlink planted in a bundle is never followed, copied or exported)."""
        found = []
        for f in sorted(self.path.iterdir()):
            if not is_plain_file(f):
                raise InputError(
                    f"{f} is not a regular file (a symbolic link or a folder); refusing to use "
                    "the bundle",
                    hint="a bundle holds only the files audit wrote; verify it (audit verify)",
                )
            found.append(f)
        return found

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r})"
