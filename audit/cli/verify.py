"""``audit verify``, ``audit approve`` and ``audit gate``: from a signed bundle to deployment."""

from __future__ import annotations

from pathlib import Path

import click

from ..pipeline.codes import EXIT_FAIL
from ..pipeline.session import report_resource
from .common import (
    APPROVE_EPILOG,
    FILE,
    FOLDER,
    GATE_EPILOG,
    PATH,
    VERIFY_EPILOG,
    exit_verified,
    guard,
    keyring_option,
    relative,
    reports_option,
    session,
)


@click.command(epilog=VERIFY_EPILOG)
@click.argument("bundle", type=PATH)
@keyring_option(
    "A public keyring you hold yourself (audit keys export) [default: this audit home's "
    "administrator-signed trust configuration]. Never a key found in or beside the bundle."
)
@click.option(
    "--log",
    "log_export",
    type=FILE,
    help="A log export (audit log export) to judge versions against [default: this home's "
    "access log, when the bundle was published here].",
)
@click.option(
    "--latest",
    "require_latest",
    is_flag=True,
    help="Require BUNDLE to be the latest version the log (or the folder) knows: an older, "
    "validly signed version presented as current is then a rollback (exit 3).",
)
@click.option("--no-rollback-check", is_flag=True, hidden=True)  # the old default's opt-out
@click.pass_context
def verify(
    ctx: click.Context,
    bundle: Path,
    keyring: Path | None,
    log_export: Path | None,
    require_latest: bool,
    no_rollback_check: bool,
) -> None:
    """Verify a report bundle (a folder, its report.json, or a zip from `audit report
    export`): attestation, file digests, PDF signature, and its anchor in the access log
    (system, version, previous). An intact older version passes and says that newer ones
    exist; --latest requires the latest. Exit 0 intact, 3 not."""
    import tempfile

    from ..bundles import Bundle, BundleStore

    with tempfile.TemporaryDirectory(prefix="audit-verify-") as tmp:
        if bundle.suffix == ".zip" and bundle.is_file():
            folder = BundleStore.unpack(bundle, Path(tmp))
            shown = f"{bundle} ({folder.parent.name}/{folder.name})"
        else:
            folder = Bundle.open(bundle).path
            shown = relative(folder)
        _verify(ctx, folder, shown, keyring, log_export, require_latest and not no_rollback_check)


def _verify(
    ctx: click.Context,
    folder: Path,
    shown: str,
    keyring: Path | None,
    log_export: Path | None,
    require_latest: bool,
) -> None:
    from ..pipeline.anchoring import verify_published

    guard("verify", report_resource(folder))
    result = verify_published(
        session(),
        folder,
        keyring=keyring,
        log_export=log_export,
        rollback_check=require_latest,
    )
    passed = (
        f"ok: {shown} is intact, anchored in the access log, and signed by key "
        f"{str(result.keyid)[:16]}"
    )
    if result.ok and result.newer and result.predicate is not None:
        passed += (
            f"\nnote: this is version {result.predicate.version}; newer versions exist (the "
            f"latest is v{result.latest}): verify that one, or pass --latest to require it"
        )
    exit_verified(
        ctx,
        result.ok,
        passed,
        result.problems,
        f"FAILED: {shown} does not verify ({len(result.problems)} problem(s))",
    )


@click.command(epilog=APPROVE_EPILOG)
@click.argument("bundle", type=PATH)
@keyring_option(
    "A public keyring you hold yourself to verify the bundle with [default: this audit home's "
    "trust configuration]."
)
@click.option("--note", default="", help="Why it is approved (recorded).")
def approve(bundle: Path, keyring: Path | None, note: str) -> None:
    """Approve a verified, passing report for deployment (needs report:approve). The approval
    is signed with your own approval key (created and enrolled on first use) and logged."""
    from ..pipeline import approve as approve_bundle

    done = approve_bundle(session(), bundle, keyring=keyring, note=note)
    click.echo(
        f"approved {relative(done.bundle.path)} as {done.approver}; "
        f"signed approval: {relative(done.record)}"
    )


@click.command(epilog=GATE_EPILOG)
@click.option("--model", "model_ref", required=True, help="The registered model, name@version.")
@click.option(
    "--policy",
    "policy_file",
    required=True,
    type=FILE,
    help="The policy in force now (a report judged under another policy does not count).",
)
@reports_option("reports", FOLDER)
@click.option(
    "--max-age-days",
    type=click.IntRange(min=1),
    default=365,
    show_default=True,
    help="Reports older than this are stale.",
)
@click.pass_context
def gate(
    ctx: click.Context,
    model_ref: str,
    policy_file: Path,
    reports: Path,
    max_age_days: int,
) -> None:
    """Exit 0 only if a report of this exact model digest, under the current policy and on the
    dataset its latest audit used, verifies, passes and is approved by someone allowed to
    approve, with no failure of that model, policy and dataset after it; exit 1 with
    the reason (none, failed, not approved, stale, policy changed); exit 3 when the evidence is
    missing, unreadable, altered or forged (the gate fails closed). Keys come only from this
    home's administrator-signed trust configuration."""
    from ..pipeline import gate as decide

    d = decide(session(), model_ref, policy_file, reports, max_age_days=max_age_days)
    if d.allowed:
        click.echo(f"gate open: {d.message}")
        ctx.exit(0)
    click.echo(f"gate closed ({d.reason}): {d.message}", err=True)
    ctx.exit(EXIT_FAIL)
