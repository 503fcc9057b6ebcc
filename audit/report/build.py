"""Turn an AuditResult into the typed report, and the report into canonical report.json bytes.

Key order is fixed by the typed model, so the same inputs and seed give byte-identical JSON apart
from ``report_id``, ``version``, ``previous``, ``changes`` and ``created_at``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from .. import __version__, contract
from ..contract import SCHEMA_VERSION, Report
from ..runner import AuditResult


def build_report(
    result: AuditResult,
    *,
    report_id: str,
    version: int,
    previous: str | None,
    created_at: str,
    changes: contract.Changes | None = None,
) -> Report:
    """The typed report; its contract is audit/schemas/report.schema.json."""
    actor = result.actor
    return Report(
        schema_version=SCHEMA_VERSION,
        report_id=report_id,
        version=version,
        previous=previous,
        changes=changes,
        created_at=created_at,
        tool=contract.Tool(name="audit", version=__version__),
        actor=contract.Actor(user=actor.user, uid=actor.uid, source=actor.source),
        subject=result.subject,
        outcome=result.outcome,
        summary=contract.Summary(**result.summary),
        rules=result.findings,
        fairness=result.fairness,
        performance=result.performance,
        explanations=result.explanations,
        data=result.data,
        baseline=result.baseline,
        drift=result.drift,
        settings=result.settings,
        environment=result.environment,
    )


def dumps(report: Report) -> bytes:
    """Canonical bytes of report.json: UTF-8, 2-space indent, no NaN, trailing newline."""
    return report.to_bytes()


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
