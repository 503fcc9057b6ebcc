"""``audit log``: read, export and verify the tamper-evident access log."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from ..textsafe import printable
from .common import FILE, AuditGroup, exit_verified, guard, json_option, passphrase_option, session


@click.group(cls=AuditGroup)
def log() -> None:
    """Read, export and verify the tamper-evident access log (.audit/access.db)."""


@log.command("show")
@click.option("--actor", help="Only this actor (glob pattern).")
@click.option("--action", help="Only this action (glob pattern, e.g. 'report:*').")
@click.option("--resource", help="Only this resource (glob pattern).")
@click.option("--decision", type=click.Choice(["allow", "deny"]))
@click.option("--since", help="ISO time, e.g. 2026-11-01 or 2026-11-01T12:00:00Z.")
@click.option("--until", help="ISO time.")
@json_option("One JSON object per line.")
def log_show(
    actor: str | None,
    action: str | None,
    resource: str | None,
    decision: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Show access-log entries, oldest first."""
    from ..access import LogFilter

    guard("log show", "log")
    where = LogFilter(
        since=_when(since, "--since"),
        until=_when(until, "--until"),
        actor=actor,
        action=action,
        resource=resource,
        decision=decision,  # type: ignore[arg-type]
    )
    for e in session().access.log.entries(where):
        if as_json:
            click.echo(json.dumps({**json.loads(e.body()), "hash": e.hash}))
        else:
            word = click.style(e.decision.upper(), fg="green" if e.decision == "allow" else "red")
            # actor, resource and reason are the caller's words: one entry, one line, no escapes
            actor, act, res, why = (printable(v) for v in (e.actor, e.action, e.resource, e.reason))
            click.echo(
                f"{e.seq:>6} {printable(e.time)} {actor:<16} {word:<5} {act:<16} {res}  {why}"
            )


def _when(text: str | None, option: str) -> datetime | None:
    from datetime import UTC

    from ..errors import InputError

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{option} {text!r} is not an ISO date or time", hint="e.g. 2026-11-01T12:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@log.command("export")
@click.argument("out", type=FILE)
@passphrase_option()
def log_export(out: Path, passphrase_file: Path | None) -> None:
    """Export the log as JSON Lines with a freshly signed checkpoint (keep it somewhere else)."""
    from ..pipeline.log import export_log

    guard("log export", "log")
    done = export_log(session(), out, passphrase_file)
    signed = (
        f", checkpoint of size {done.checkpoint.size} signed"
        if done.checkpoint
        else ", no signing key: unsigned"
    )
    click.echo(f"exported {done.entries} entries to {out}{signed}")


@log.command("verify")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=FILE,
    help="A checkpoint held elsewhere: a log export, an attestation.json, or a checkpoint JSON.",
)
@click.pass_context
def log_verify(ctx: click.Context, checkpoints: tuple[Path, ...]) -> None:
    """Verify the chain and every checkpoint (exit 3 naming the first bad entry)."""
    from ..pipeline.log import verify_log

    guard("log verify", "log")
    result = verify_log(session(), list(checkpoints))
    exit_verified(
        ctx,
        result.ok,
        f"ok: {result.entries} entries, {result.checkpoints} checkpoints verify",
        result.problems,
        f"FAILED: the access log does not verify (first bad entry: {result.first_bad_seq})",
    )
