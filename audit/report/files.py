"""Compatibility names for the bundle's rendered files (use :func:`bundle_renderers` instead).

``html_and_pdf`` and ``reasons_csv`` predate the renderer interface in
:mod:`audit.report.formats`; they are thin aliases over it, kept until the publisher calls
:func:`audit.report.formats.bundle_renderers`, and will then be removed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from audit.contract import Report

from .formats import HtmlReport, PdfReport, ReasonsCsv
from .typed import as_report

#: A renderer takes the report document and the bundle folder, and writes its file(s) there.
Renderer = Callable[[dict[str, Any], Path], None]


def html_and_pdf(
    template_dir: Path | None = None, pdf: bool = True
) -> Callable[[dict[str, Any], Path], None]:
    """Compatibility name: a renderer writing report.html and (unless ``pdf`` is False)
    report.pdf, i.e. the first one or two of ``bundle_renderers``."""
    html = HtmlReport(template_dir)
    printed = PdfReport(template_dir, html=html) if pdf else None

    def render(report: Report | Mapping[str, Any], folder: Path) -> None:
        typed = as_report(report)
        html.write(typed, folder)
        if printed is not None:
            printed.write(typed, folder)

    return render


def reasons_csv(decisions: Sequence[Any]) -> ReasonsCsv:
    """Compatibility name: the reasons.csv renderer (:class:`ReasonsCsv`)."""
    return ReasonsCsv(decisions)
