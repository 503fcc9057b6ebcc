"""Reports: the canonical report.json and its renderings (HTML, PDF, output formats)."""

from .build import SCHEMA_VERSION, build_report, dumps, report_schema, validate_report
from .files import Renderer, html_and_pdf, reasons_csv
from .pdf import render_pdf
from .render import default_template_dir, render_html

__all__ = [
    "SCHEMA_VERSION",
    "Renderer",
    "build_report",
    "default_template_dir",
    "dumps",
    "html_and_pdf",
    "reasons_csv",
    "render_html",
    "render_pdf",
    "report_schema",
    "validate_report",
]
