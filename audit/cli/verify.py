"""``audit verify``, ``audit approve`` and ``audit gate``: from a signed bundle to deployment."""

from __future__ import annotations

from pathlib import Path

import click

from ..pipeline.codes import EXIT_FAIL
from ..pipeline.session import report_resource
from .common import (
    EPILOG,
    FILE,
    FOLDER,
    PATH,
    exit_verified,
    guard,
    keyring_option,
    keys_option,
    passphrase_option,
    relative,
    reports_option,
    session,
)


@click.command(epilog=EPILOG)
@click.argument("bundle", type=PATH)
@keyring_option(
    "The public keyring you trust (never a key found in or beside the bundle).", required=True
)
@click.option(
    "--no-rollback-check",
    is_flag=True,
    help="Do not require BUNDLE to be the latest version beside it.",
)
@click.pass_context
def verify(ctx: click.Context, bundle: Path, keyring: Path, no_rollback_check: bool) -> None:
    """Verify a report bundle's attestation, file digests and PDF signature (exit 0 intact, 3 not)."""
    from ..bundles import Bundle
    from ..signing import latest_version_beside, verify_bundle

    folder = Bundle.open(bundle).path
    guard("verify", report_resource(folder))
    latest = None if no_rollback_check else latest_version_beside(folder)
    result = verify_bundle(folder, keyring, latest_version=latest)
    exit_verified(
        ctx,
        result.ok,
        f"ok: {relative(folder)} is intact and signed by key {str(result.keyid)[:16]}",
        result.problems,
        f"FAILED: {relative(folder)} does not verify ({len(result.problems)} problem(s))",
    )


@click.command(epilog=EPILOG)
@click.argument("bundle", type=PATH)
@keyring_option("Keyring to verify the bundle with [default: the local identity's].")
@click.option("--note", default="", help="Why it is approved (recorded).")
@keys_option()
@passphrase_option()
def approve(
    bundle: Path,
    keyring: Path | None,
    note: str,
    keys_dir: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Approve a verified, passing report for deployment (needs report:approve)."""
    from ..pipeline import approve as approve_bundle

    done = approve_bundle(
        session(),
        bundle,
        keyring=keyring,
        note=note,
        keys=keys_dir,
        passphrase_file=passphrase_file,
    )
    click.echo(
        f"approved {relative(done.bundle.path)} as {done.approver}; "
        f"signed approval: {relative(done.record)}"
    )


@click.command(epilog=EPILOG)
@click.option("--model", "model_ref", required=True, help="The registered model, name@version.")
@click.option(
    "--policy",
    "policy_file",
    required=True,
    type=FILE,
    help="The policy in force now (a report judged under another policy does not count).",
)
@reports_option("reports", FOLDER)
@keyring_option("Keyring to verify reports and approvals [default: the local identity's].")
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
    keyring: Path | None,
    max_age_days: int,
) -> None:
    """Exit 0 only if an approved, verified, passing report exists for this exact model digest
    under the current policy; else exit 1 with the reason (none, failed, not approved, stale,
    policy changed, unverified)."""
    from ..pipeline import gate as decide

    d = decide(
        session(), model_ref, policy_file, reports, keyring=keyring, max_age_days=max_age_days
    )
    if d.allowed:
        click.echo(f"gate open: {d.message}")
        ctx.exit(0)
    click.echo(f"gate closed ({d.reason}): {d.message}", err=True)
    ctx.exit(EXIT_FAIL)
