"""report.pdf: the HTML page printed to A4 by WeasyPrint (see :mod:`audit.report.pdf`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from audit.contract import Report

from ..pdf import render_pdf
from ..pdf_worker import PdfWorker
from .html import HtmlReport
from .interface import Renderer


class PdfReport(Renderer):
    """report.pdf, printed from the HTML of ``html`` (the renderer writing report.html, whose
    page it reuses) or of a renderer of its own over the same template folder."""

    name: ClassVar[str] = "pdf"
    filenames: ClassVar[tuple[str, ...]] = ("report.pdf",)

    def __init__(
        self,
        templates: Path | None = None,
        *,
        html: HtmlReport | None = None,
        worker: PdfWorker | None = None,
    ) -> None:
        self.templates = templates
        self.source = html if html is not None else HtmlReport(templates)
        self.worker = worker  # a printer started early (audit.report.pdf_worker), or None

    def write(self, report: Report, folder: Path) -> None:
        page = self.source.html(report)
        pdf = None if self.worker is None else self.worker.render(page, self.templates)
        if pdf is None:
            pdf = render_pdf(page, self.templates)
        (folder / "report.pdf").write_bytes(pdf)
