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

    Run on every write: a report that breaks its own contract is a bug, never written. The
    error raised is the one ``jsonschema.validate`` would raise (the best match); the schema
    itself is not checked against the JSON Schema metaschema on each write, as
    ``jsonschema.validate`` does (a third of a second): it is ours, and a test checks it.
    """
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(report))
    if error is not None:
        raise error


@cache
def _validator() -> Any:
    import jsonschema

    schema = report_schema()
    return jsonschema.validators.validator_for(schema)(
        schema, format_checker=jsonschema.FormatChecker()
    )
