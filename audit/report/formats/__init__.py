"""Renderers of the report bundle: every file beside report.json is one :class:`Renderer`.

One interface (:mod:`.interface`) and one module per file, as in pip-audit's ``_format``:
report.html (:class:`HtmlReport`), report.pdf (:class:`PdfReport`), junit.xml
(:class:`JUnitFormat`), summary.md (:class:`MarkdownFormat`), bom.cdx.json (a CycloneDX 1.6
ML-BOM, :class:`CycloneDxFormat`), model-card.md (:class:`ModelCardFormat`) and reasons.csv
(:class:`ReasonsCsv`). :func:`bundle_renderers` gives the publisher the list for one bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cyclonedx import CycloneDxFormat
from .html import HtmlReport
from .interface import OutputFormat, Renderer, as_report, bundle_location
from .junit import JUnitFormat
from .markdown import MarkdownFormat
from .model_card import ModelCardFormat
from .pdf import PdfReport
from .reasons import ReasonsCsv

#: The text formats written beside the HTML, in bundle order.
TEXT_FORMATS: tuple[type[OutputFormat], ...] = (
    JUnitFormat,
    MarkdownFormat,
    CycloneDxFormat,
    ModelCardFormat,
)


def bundle_renderers(
    *,
    templates: Path | None = None,
    pdf: bool = True,
    reports_root: str | None = None,
    decisions: Sequence[Any] | None = None,
    pdf_worker: Any = None,
) -> list[Renderer]:
    """The renderers of one bundle, in writing order: report.html and (unless ``pdf`` is False)
    report.pdf from ``templates`` (None: the built-in templates), junit.xml and summary.md
    (pointing readers at ``<reports_root>/<name>/v<N>`` when ``reports_root`` is given), and
    reasons.csv when ``decisions`` (the per-decision reasons) is not None. ``pdf_worker`` (an
    :class:`audit.report.pdf_worker.PdfWorker`) prints the PDF if it can.

    Each is called as ``renderer(report, folder)`` with the typed report.
    """
    html = HtmlReport(templates)
    renderers: list[Renderer] = [html]
    if pdf:
        renderers.append(PdfReport(templates, html=html, worker=pdf_worker))
    renderers += [fmt(reports_root=reports_root) for fmt in TEXT_FORMATS]
    if decisions is not None:
        renderers.append(ReasonsCsv(decisions))
    return renderers


#: The text formats by name (what a user types), each pointing nowhere (no reports root).
FORMATS: dict[str, OutputFormat] = {f.name: f() for f in TEXT_FORMATS}


__all__ = [
    "FORMATS",
    "CycloneDxFormat",
    "ModelCardFormat",
    "TEXT_FORMATS",
    "HtmlReport",
    "JUnitFormat",
    "MarkdownFormat",
    "OutputFormat",
    "PdfReport",
    "ReasonsCsv",
    "Renderer",
    "as_report",
    "bundle_location",
    "bundle_renderers",
]
