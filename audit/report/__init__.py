"""Reports: the canonical report.json, its HTML and PDF renderings, and versioned bundles."""

from .build import SCHEMA_VERSION, build_report, dumps, report_schema, validate_report
from .bundle import Bundle, Renderer, versions, write_bundle
from .files import html_and_pdf

__all__ = [
    "SCHEMA_VERSION",
    "Bundle",
    "Renderer",
    "build_report",
    "dumps",
    "html_and_pdf",
    "report_schema",
    "validate_report",
    "versions",
    "write_bundle",
]
