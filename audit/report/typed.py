"""The typed report every renderer reads, from a :class:`Report` or a parsed report.json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from audit.contract import Report, ReportFormatError
from audit.errors import InputError

__all__ = ["as_report"]


def as_report(report: Report | Mapping[str, Any]) -> Report:
    """``report`` as the typed report; a parsed report.json (a mapping) is validated first.

    Raises ``InputError`` naming the first field that does not match the report contract.
    """
    if isinstance(report, Report):
        return report
    if not isinstance(report, Mapping):
        raise InputError(
            f"the report to render must be a JSON object, got {type(report).__name__}",
            hint="pass the typed report or the parsed content of report.json",
        )
    try:
        return Report.model_validate(report)
    except ValidationError as exc:
        err = ReportFormatError(exc)
        missing = exc.errors()[0]["type"] == "missing"
        raise InputError(
            f"report.json has no field '{err.field}', which the report needs"
            if missing
            else f"report.json does not match the report contract: {err}",
            hint="render a report written by this version of audit (schema_version "
            f"{report.get('schema_version', '?')!s})",
        ) from None
