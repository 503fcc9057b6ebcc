"""The bundle's rendered files: report.html and report.pdf, from the same report document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .bundle import Renderer


def html_and_pdf(template_dir: Path | None = None, pdf: bool = True) -> Renderer:
    """A renderer writing report.html and (unless ``pdf`` is False) report.pdf."""
    from .pdf import render_pdf
    from .render import render_html

    def render(report: dict[str, Any], folder: Path) -> None:
        html = render_html(report, template_dir)
        (folder / "report.html").write_text(html, encoding="utf-8")
        if pdf:
            (folder / "report.pdf").write_bytes(render_pdf(html, template_dir))

    return render


def reasons_csv(decisions: list[Any]) -> Renderer:
    """A renderer writing reasons.csv: the principal reasons of each adverse decision, in words."""
    from ..explain import write_reasons_csv

    def render(report: dict[str, Any], folder: Path) -> None:
        write_reasons_csv(folder / "reasons.csv", decisions)

    return render
