"""Reports: the canonical report.json and its renderings (HTML, PDF, output formats)."""

from .formats import Renderer, bundle_renderers
from .pdf import render_pdf
from .render import default_template_dir, render_html
from .schema import report_schema, validate_report

__all__ = [
    "Renderer",
    "bundle_renderers",
    "default_template_dir",
    "render_html",
    "render_pdf",
    "report_schema",
    "validate_report",
]
