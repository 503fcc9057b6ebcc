"""report.html: the self-contained HTML page an auditor reads (and the PDF is printed from)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from audit.contract import Report

from ..render import render_html
from .interface import Renderer


class HtmlReport(Renderer):
    """report.html from the report template folder (``templates``; None: the built-in one)."""

    name: ClassVar[str] = "html"
    filenames: ClassVar[tuple[str, ...]] = ("report.html",)

    def __init__(self, templates: Path | None = None) -> None:
        self.templates = templates
        self._last: tuple[Report, str] | None = None

    def html(self, report: Report) -> str:
        """The page for ``report``; the last one is kept, so the PDF prints the same page."""
        if self._last is None or self._last[0] is not report:
            self._last = (report, render_html(report, self.templates))
        return self._last[1]

    def write(self, report: Report, folder: Path) -> None:
        (folder / "report.html").write_text(self.html(report), encoding="utf-8")
