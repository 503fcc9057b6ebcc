"""The report of the next bundle version: built from an AuditResult, chained to the previous
version, with its "since the last audit" changes. The store that writes bundles is
:class:`audit.bundles.BundleStore`; publishing (render, sign, rename) is :mod:`audit.pipeline`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ..bundles import Bundle, NewReport, Renderer, ReportBuilder
from ..contract import Report
from ..errors import InputError
from ..runner import AuditResult
from .build import build_report, dumps, validate_report
from .diff import diff_reports

__all__ = ["Bundle", "Renderer", "report_builder"]


def report_builder(result: AuditResult, *, now: datetime | None = None) -> ReportBuilder:
    """A :data:`audit.bundles.ReportBuilder` for ``result``: the report of version N, pinning the
    previous version's report.json digest and diffing against it (omitted if it is unreadable).
    The report is validated against the published schema before anything is written."""
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def build(version: int, previous: Bundle | None) -> NewReport:
        prev_report = None
        if previous is not None:
            try:
                prev_report = Report.model_validate(previous.report)
            except (InputError, ValueError):
                prev_report = None
        report = build_report(
            result,
            report_id=str(uuid.uuid4()),
            version=version,
            previous=None if previous is None else "sha256:" + previous.report_sha256(),
            created_at=created,
        )
        change_lines: list[str] | None = None
        if prev_report is not None:
            diff = diff_reports(prev_report, report)
            report = report.model_copy(update={"changes": diff.to_changes()})
            change_lines = diff.lines()
        document = report.to_json()
        validate_report(document)
        return NewReport(document, dumps(report), change_lines)

    return build
