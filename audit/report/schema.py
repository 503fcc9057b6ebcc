"""The published JSON Schema of report.json, and the check every written report passes."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def report_schema() -> dict[str, Any]:
    """The published JSON Schema of report.json (``audit/schemas/report.schema.json``)."""
    text = resources.files("audit").joinpath("schemas/report.schema.json").read_text("utf-8")
    return dict(json.loads(text))


def validate_report(report: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``report`` breaks the published schema.

    Run on every write: a report that breaks its own contract is a bug, never written.
    """
    import jsonschema

    jsonschema.validate(report, report_schema(), format_checker=jsonschema.FormatChecker())
