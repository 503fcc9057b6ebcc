"""What every command shares: the invocation's session, the access check, path display, the
status words, and option decorators used by more than one command."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from ..pipeline.codes import EXIT_INTEGRITY
from ..pipeline.session import Session, display_path

F = TypeVar("F", bound=Callable[..., Any])

#: Parameter types: a file, a folder, either (paths as given, relative to the working folder).
FILE = click.Path(path_type=Path, dir_okay=False)
FOLDER = click.Path(path_type=Path, file_okay=False)
PATH = click.Path(path_type=Path)

EPILOG = """\b
Exit codes:
  0  audit ran, every blocking rule passed
  1  audit ran, at least one blocking rule failed
  2  bad input or usage (file, spec, policy, column, unsafe model)
  3  integrity failure (digest mismatch)
  4  access denied
  5  internal error (a bug; rerun with --verbose and report it)
"""

_COMMON_CODES = """  2  bad input or usage (file, flag, malformed bundle or export)
  3  integrity failure (altered, unanchored, rolled back or forged evidence)
  4  access denied
  5  internal error (a bug; rerun with --verbose and report it)
"""
VERIFY_EPILOG = (
    "\b\nExit codes:\n  0  the bundle is intact and anchored in the log\n" + _COMMON_CODES
)
APPROVE_EPILOG = "\b\nExit codes:\n  0  approved and logged\n" + _COMMON_CODES
GATE_EPILOG = (
    "\b\nExit codes:\n  0  gate open\n"
    "  1  gate closed (none, failed, not approved, stale, policy changed)\n" + _COMMON_CODES
)

#: the exit codes of a command that has none of its own to add (every command reads or writes the
#: access log, the trust configuration or a digest-pinned file, so 3 applies to each)
COMMAND_EPILOG = (
    "\b\nExit codes:\n  0  done\n"
    "  2  bad input or usage (file, flag, name)\n"
    "  3  integrity failure (the access log, the trust configuration or a pinned digest does "
    "not verify)\n"
    "  4  access denied\n"
    "  5  internal error (a bug; rerun with --verbose and report it)\n"
)
#: the top-level --help: what the codes mean across commands
CLI_EPILOG = """\b
Exit codes (each command's --help lists its own):
  0  done; an audit or gate passed
  1  an audit ran and a blocking rule failed (run), or the gate is closed (gate)
  2  bad input or usage (file, spec, policy, column, unsafe model, flag)
  3  integrity failure (altered, unanchored, rolled back or forged evidence)
  4  access denied
  5  internal error (a bug; rerun with --verbose and report it)
"""


class AuditCommand(click.Command):
    """A command whose --help ends with its exit codes (:data:`COMMAND_EPILOG` unless it
    declares its own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.epilog is None:
            self.epilog = COMMAND_EPILOG


class AuditGroup(click.Group):
    """A command group whose commands and sub-groups are :class:`AuditCommand`/``AuditGroup``."""

    command_class = AuditCommand
    group_class = type


STATUS_STYLE = {
    "pass": ("PASS", "green"),
    "fail": ("FAIL", "red"),
    "warn": ("WARN", "yellow"),
    "skipped": ("SKIP", "bright_black"),
    "waived": ("WAIVED", "magenta"),
}


class _State:
    """The invocation's session, made on first use (one per CLI invocation)."""

    session: Session | None = None


def reset_session(preset: Session | None = None) -> None:
    """Forget the last invocation's session; ``preset``: use this one (a service worker's)."""
    _State.session = preset


def session() -> Session:
    """This invocation's session: home from $AUDIT_HOME or ./.audit, the process environment."""
    if _State.session is None:
        _State.session = Session.at(Path.cwd(), os.environ, notify=notice)
    return _State.session


def notice(message: str) -> None:
    """A notice on stderr, unless the running command was given ``--quiet`` or ``--json``."""
    ctx = click.get_current_context(silent=True)
    params = ctx.params if ctx is not None else {}
    if not (params.get("quiet") or params.get("as_json")):
        click.echo(message, err=True)


def guard(command: str, resource: str = "") -> Any:
    """Check permission for ``command`` on ``resource`` and log the decision; the actor."""
    return session().guard(command, resource)


def exit_verified(
    ctx: click.Context, ok: bool, passed: str, problems: Sequence[str], failed: str
) -> None:
    """End a verifying command: ``passed`` and exit 0, or each problem and ``failed`` on stderr
    and exit 3."""
    if ok:
        click.echo(passed)
        ctx.exit(0)
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    click.echo(failed, err=True)
    ctx.exit(EXIT_INTEGRITY)


def relative(path: Path) -> str:
    return display_path(path, Path.cwd())


def keys_option(
    help: str = "Identity folder [default: .audit/keys, or $AUDIT_HOME/keys].",
) -> Callable[[F], F]:
    return click.option("--keys", "keys_dir", type=FOLDER, help=help)


def passphrase_option(
    help: str = "File holding the passphrase that encrypts the private keys "
    "(else $AUDIT_KEY_PASSPHRASE).",
) -> Callable[[F], F]:
    return click.option("--passphrase-file", type=FILE, help=help)


def keyring_option(help: str, *, required: bool = False) -> Callable[[F], F]:
    return click.option(
        "--keyring",
        required=required,
        type=FILE,
        help=help,
    )


def reports_option(dest: str, type: click.Path = PATH) -> Callable[[F], F]:
    """``--output``: the reports folder, default ./reports."""
    return click.option(
        "--output",
        dest,
        default="reports",
        show_default=True,
        type=type,
        help="The reports folder.",
    )


def json_option(help: str) -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help)


def valid_days_option() -> Callable[[F], F]:
    return click.option("--valid-days", type=click.IntRange(min=1), default=365, show_default=True)


def verbose_option() -> Callable[[F], F]:
    return click.option(
        "-v", "--verbose", is_flag=True, help="Show tracebacks and the time of each stage."
    )
