"""Publish an audit: build the next report, render every file, sign, and rename the bundle
into place atomically (the store: :class:`audit.bundles.BundleStore`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, contract
from ..bundles import Bundle, BundleStore, NewReport, ReportBuilder
from ..contract import SCHEMA_VERSION, Report
from ..errors import InputError
from ..report import Renderer, validate_report
from ..report.diff import diff_reports
from ..runner import AuditResult
from ..signing import SigningIdentity, bundle_signer
from ..signing.times import utc_text

if TYPE_CHECKING:
    from .anchoring import PublishSteps

Checkpoint = Callable[[], Mapping[str, Any] | None]


def publish(
    result: AuditResult,
    output: Path,
    renderers: Sequence[Renderer],
    *,
    signer: SigningIdentity | None = None,
    checkpoint: Checkpoint | None = None,
    now: datetime | None = None,
    steps: PublishSteps | None = None,
) -> Bundle:
    """Write the next version of ``result.name``'s bundle under the reports folder ``output``.

    Steps, in the temporary folder: report.json, each renderer, then (with ``signer``) the
    signature: the PDF is signed and every file attested, with ``checkpoint()`` (the access
    log's signed state at signing time) inside the attestation; then ``anchor`` (the access
    log's ``report:publish`` entry and its proof, :mod:`audit.pipeline.anchoring`); then fsync,
    read-only, rename. With ``steps`` the version number and the ``previous`` digest follow
    the log's record of the system, not just the folder.
    """
    seal = None if signer is None else bundle_signer(signer, checkpoint=checkpoint)
    logged = None if steps is None else (lambda: steps.previous(result.name))
    return BundleStore(output).write(
        result.name,
        report_builder(result, now=now, previous=logged),
        renderers,
        seal=seal,
        anchor=None if steps is None else steps.anchor,
        floor=None if steps is None else steps.floor,
    )


def report_builder(
    result: AuditResult,
    *,
    now: datetime | None = None,
    previous: Callable[[], str | None] | None = None,
) -> ReportBuilder:
    """The report of version N of ``result``: pinning the previous version's report.json digest
    (``previous()``, the log's record, asked for when the version number is chosen, under the
    folder's lock, None before the first logged version; without it, the folder's latest) and diffing against
    the folder's latest (omitted if it is unreadable); validated against the published schema
    before anything is written."""
    created = utc_text(now or datetime.now(UTC))

    def build(version: int, prior: Bundle | None) -> NewReport:
        if previous is not None:  # the log's record is the history, whatever the folder holds
            pinned = previous()
        else:
            pinned = None if prior is None else "sha256:" + prior.report_sha256()
        prev_report = None
        if prior is not None:
            try:
                prev_report = prior.report
            except InputError:
                prev_report = None
        report = build_report(
            result,
            report_id=str(uuid.uuid4()),
            version=version,
            previous=pinned,
            created_at=created,
        )
        change_lines: list[str] | None = None
        if prev_report is not None:
            diff = diff_reports(prev_report, report)
            report = report.model_copy(update={"changes": diff.to_changes()})
            change_lines = diff.lines()
        validate_report(report.to_json())
        return NewReport(report, report.to_bytes(), change_lines)

    return build


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
        **({"task": result.task} if result.task != "binary" else {}),
        **result.sections,
        settings=result.settings,
        environment=result.environment,
    )
