"""Reports: the canonical report.json, its HTML and PDF renderings, and versioned bundles."""

from .build import SCHEMA_VERSION, build_report, dumps, report_schema, validate_report
from .bundle import Bundle, Renderer, report_builder
from .files import html_and_pdf, reasons_csv
from .pdf import render_pdf
from .render import default_template_dir, render_html

__all__ = [
    "SCHEMA_VERSION",
    "Bundle",
    "Renderer",
    "build_report",
    "default_template_dir",
    "dumps",
    "html_and_pdf",
    "reasons_csv",
    "render_html",
    "render_pdf",
    "report_builder",
    "report_schema",
    "validate_report",
]
