"""Publish an audit: render every file, sign, and rename the bundle into place atomically."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..bundles import Bundle, BundleStore, Renderer
from ..report import report_builder
from ..runner import AuditResult
from ..signing import SigningIdentity, bundle_signer

Checkpoint = Callable[[], Mapping[str, Any] | None]


def publish(
    result: AuditResult,
    output: Path,
    renderers: Sequence[Renderer],
    *,
    signer: SigningIdentity | None = None,
    checkpoint: Checkpoint | None = None,
    now: datetime | None = None,
) -> Bundle:
    """Write the next version of ``result.name``'s bundle under the reports folder ``output``.

    Steps, in the temporary folder: report.json, each renderer, then (with ``signer``) the
    signature: the PDF is signed and every file attested, with ``checkpoint()`` (the access
    log's signed state at signing time) inside the attestation; then fsync, read-only, rename.
    """
    seal = None if signer is None else bundle_signer(signer, checkpoint=checkpoint)
    return BundleStore(output).write(
        result.name, report_builder(result, now=now), renderers, seal=seal
    )
