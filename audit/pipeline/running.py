"""``audit run`` as a library call: resolve the spec, check access, audit, publish, decide."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..bundles import Bundle
from ..errors import InputError
from ..report import bundle_renderers
from ..runner import STAGES, AuditResult
from ..signing import SigningIdentity
from .codes import EXIT_FAIL, EXIT_PASS
from .session import Session

FailOn = Literal["error", "warning"]

#: Progress steps ``run`` reports to ``on_stage``: the audit's stages, then the bundle.
STEPS = len(STAGES) + 1


@dataclass(frozen=True)
class RunRequest:
    """What ``audit run`` was asked: the spec, its overrides, and how to write the bundle."""

    spec: Path
    overrides: Mapping[str, Any] = field(default_factory=dict)
    pdf: bool = True
    fail_on: FailOn = "error"
    sign: bool = True
    keys: Path | None = None
    passphrase_file: Path | None = None
    allow_pickle: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    result: AuditResult
    bundle: Bundle
    fail_on: FailOn
    exit_code: int

    def step_summary(self) -> str:
        """What to append to $GITHUB_STEP_SUMMARY: the bundle's summary.md."""
        return (self.bundle.path / "summary.md").read_text(encoding="utf-8") + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable result (``audit run --json``)."""
        return {
            "outcome": self.result.outcome,
            "exit_code": self.exit_code,
            "fail_on": self.fail_on,
            "bundle": str(self.bundle.path),
            "report_id": self.bundle.report_id,
            "version": self.bundle.version,
            "summary": self.result.summary,
            "rules": [f.to_json() for f in self.bundle.report.rules],
            "changes": self.bundle.changes,
        }


def exit_code(summary: Mapping[str, int], fail_on: FailOn) -> int:
    """1 when a blocking rule failed (warnings too with ``fail_on="warning"``), else 0."""
    blocking = summary["failed"] + (summary["warned"] if fail_on == "warning" else 0)
    return EXIT_FAIL if blocking else EXIT_PASS


def run(
    request: RunRequest,
    session: Session,
    *,
    on_stage: Callable[[str], None] | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> RunOutcome:
    """Run the audit ``request.spec`` describes and publish its bundle (signed unless
    ``request.sign`` is false); ``on_stage`` is told each of the :data:`STEPS` steps, and
    ``on_progress`` the rows summarised so far (and the total when the file states it)."""
    from ..spec import load_spec
    from .paths import check_user_path, confine, spec_paths

    step = on_stage or (lambda name: None)
    check_user_path(request.spec, session.home, action="read the audit spec")
    resolved = load_spec(request.spec, dict(request.overrides))
    subject = resolved.model or resolved.dataset
    if session.roots is not None:
        registered_only(resolved)
    actor = session.guard("run", f"{'model' if resolved.model else 'dataset'}:{subject.display()}")
    confine(session, actor, "run", [*spec_paths(resolved), ("write reports into", resolved.output)])
    from ..report.pdf_worker import PdfWorker

    # WeasyPrint's import (0.75 s) overlaps the audit in a child, where the PDF is then printed
    worker = PdfWorker.start() if request.pdf else None
    try:
        return _run(request, session, resolved, actor, worker, step, on_progress)
    finally:
        if worker is not None:
            worker.close()


def registered_only(resolved: Any) -> None:
    """Through ``audit serve`` an audit reads registered artifacts only (InputError, exit 2)."""
    for field_name, ref in (
        ("model", resolved.model),
        ("dataset", resolved.dataset),
        ("reference_dataset", resolved.reference),
    ):
        if ref is not None and ref.endpoint:
            raise InputError(
                f"{resolved.source or 'the spec'}: model is an endpoint ({ref.display()}); "
                "through audit serve the service calls no model endpoint (it would send "
                "registered data to whatever address a caller names)",
                hint="audit an endpoint with the local CLI (audit run, without --server), or "
                "register the model file and write name@version in the spec",
            )
        if ref is not None and not ref.is_registered:
            raise InputError(
                f"{resolved.source or 'the spec'}: {field_name} is a file ({ref.path}); through "
                "audit serve, audits run on registered artifacts only",
                hint=f"register it (audit --server URL registry add-{'model' if field_name == 'model' else 'dataset'} "
                "FILE --name NAME --version V) and write name@version in the spec",
            )


def _run(
    request: RunRequest,
    session: Session,
    resolved: Any,
    actor: Any,
    worker: Any,
    step: Callable[[str], None],
    on_progress: Callable[[int, int | None], None] | None,
) -> RunOutcome:
    from ..runner import run_audit
    from .publishing import publish

    needs_registry = any(
        r is not None and r.is_registered for r in (resolved.model, resolved.dataset)
    )
    result = run_audit(
        resolved,
        actor=actor,
        registry=session.registry() if needs_registry else None,
        on_stage=step,
        allow_pickle_digest=request.allow_pickle,
        on_progress=on_progress,
    )
    model_info = result.subject.model
    if model_info is not None and model_info.unsafe_format:
        session.log_unsafe_load(actor, model_info)
    step("report bundle")
    # only now, with an audit to sign: a failed run leaves no keys behind
    identity = (
        signing_identity(session, request.keys, request.passphrase_file) if request.sign else None
    )
    t0 = time.perf_counter()
    from .anchoring import publish_steps
    from .trust import log_key

    steps = None if identity is None else publish_steps(session, actor, identity)

    def checkpoint() -> dict[str, Any] | None:
        # the access log's state at signing time, signed by the log key, inside the attestation
        key = log_key(session.home)
        return None if key is None else dict(session.access.log.checkpoint(key).to_dict())

    root = session.display(resolved.output)
    try:
        bundle = publish(
            result,
            resolved.output,
            bundle_renderers(
                templates=resolved.templates,
                pdf=request.pdf,
                reports_root=root,
                decisions=result.decisions,
                pdf_worker=worker,
            ),
            signer=identity,
            checkpoint=checkpoint,
            steps=steps,
        )
    finally:
        if hasattr(result.decisions, "cleanup"):  # the spooled reasons.csv: now in the bundle
            result.decisions.cleanup()
    result.timings["report bundle"] = time.perf_counter() - t0
    return RunOutcome(result, bundle, request.fail_on, exit_code(result.summary, request.fail_on))


def signing_identity(
    session: Session, keys: Path | None, passphrase_file: Path | None
) -> SigningIdentity:
    """The signing identity; a first run creates one (unencrypted) so every bundle is signed.

    The home's own identity (``<home>/keys``) is enrolled as a bundle key of the trust
    configuration when it is created (or first used after an upgrade); an identity elsewhere
    (``--keys``) must have been enrolled by an administrator (``audit keys init --keys``).
    """
    from ..access import current_actor
    from ..signing import init_identity, load_identity
    from .trust import enroll_identity

    folder = session.keys_dir(keys)
    passphrase = session.passphrase(passphrase_file)
    own = folder.resolve() == session.keys_dir().resolve()
    if not (folder / "identity.json").exists():
        if not own:
            raise InputError(
                f"no signing identity in {session.display(folder)}",
                hint="an administrator creates and enrolls one: audit keys init --keys DIR",
            )
        init_identity(
            folder, common_name=f"audit signer ({current_actor().user})", passphrase=passphrase
        )
        session.notify(
            f"created a signing identity in {session.display(folder)} "
            "(share its public keyring: audit keys export --out keyring.json)"
        )
    identity = load_identity(folder, passphrase)
    if own and identity.keyid not in session.trust().keyring.of("bundle"):
        ctx = session.access
        enroll_identity(session.home, ctx.log, ctx.os_actor, ctx.rbac.sha256, identity)
    return identity
