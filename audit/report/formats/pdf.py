"""report.pdf: the HTML page printed to A4 by WeasyPrint (see :mod:`audit.report.pdf`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from audit.contract import Report

from ..pdf import render_pdf
from .html import HtmlReport
from .interface import Renderer


class PdfReport(Renderer):
    """report.pdf, printed from the HTML of ``html`` (the renderer writing report.html, whose
    page it reuses) or of a renderer of its own over the same template folder."""

    name: ClassVar[str] = "pdf"
    filenames: ClassVar[tuple[str, ...]] = ("report.pdf",)

    def __init__(self, templates: Path | None = None, *, html: HtmlReport | None = None) -> None:
        self.templates = templates
        self.source = html if html is not None else HtmlReport(templates)

    def write(self, report: Report, folder: Path) -> None:
        pdf = render_pdf(self.source.html(report), self.templates)
        (folder / "report.pdf").write_bytes(pdf)
