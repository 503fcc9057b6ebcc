"""The `audit` command line: a thin shell over the library (:mod:`audit.pipeline`).

Only this package prints, reads the environment or exits. Exit codes (a contract CI scripts use):

  0  audit ran and every blocking rule passed
  1  audit ran and at least one blocking rule failed
  2  bad input or usage (unreadable file, invalid spec or policy, missing column, unsafe model)
  3  integrity failure (a registered artifact's digest does not match)
  4  access denied
  5  internal error (a bug in audit: please report it with the --verbose output)
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Mapping

import click

from .. import __version__
from ..errors import AuditError
from ..pipeline.codes import EXIT_INPUT, EXIT_INTERNAL
from ..pipeline.session import Session
from ..textsafe import printable
from .access import rbac, token
from .common import CLI_EPILOG, AuditGroup, reset_session, verbose_option
from .explain import explain
from .keys import keys
from .log import log
from .policy import policy
from .registry import registry
from .report import report
from .run import run
from .serve import serve
from .verify import approve, gate, verify


@click.group(
    cls=AuditGroup, epilog=CLI_EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="audit")
@verbose_option()
@click.option(
    "--server",
    metavar="URL|unix:PATH",
    help="Run the command through `audit serve` (else $AUDIT_SERVER): the service's registry, "
    "keys, reports and log, as the caller it authenticates ($AUDIT_TOKEN over HTTPS).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool, server: str | None) -> None:
    """Audit a machine-learning model before it is deployed: fairness, SHAP explanations,
    policy rules, and a versioned report bundle (JSON, HTML, PDF)."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


for _command in (
    run,
    registry,
    explain,
    report,
    policy,
    keys,
    verify,
    approve,
    gate,
    log,
    token,
    rbac,
    serve,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None, *, session: Session | None = None) -> int:
    """Entry point: run the CLI and map every outcome to a documented exit code.

    ``session``: run as that session (a service worker's: the caller as actor, confined
    folders) instead of one made from this process's environment and working folder.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    reset_session(session)  # one session per invocation (tests call main() repeatedly)
    verbose = "-v" in args or "--verbose" in args
    server, args = split_server(args, os.environ)
    try:
        if server is not None and session is None and not _local_only(args):
            from ..serve.client import run_remote

            return run_remote(cli, server, args, os.environ)
        rv = cli.main(args=args, prog_name="audit", standalone_mode=False)
        # Without standalone mode click returns ctx.exit()'s code instead of raising.
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_INPUT
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_INPUT
    except AuditError as exc:
        if verbose:
            traceback.print_exc()
        # messages quote file names, fields and column names: untrusted text, made visible
        click.echo("error: " + printable(exc.diagnostics(), keep="\n"), err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - a crash must never look like a pass
        if verbose:
            traceback.print_exc()
        click.echo(
            f"internal error: {type(exc).__name__}: {printable(str(exc))}\n"
            "  this is a bug in audit; rerun with --verbose and report the traceback",
            err=True,
        )
        return EXIT_INTERNAL


def split_server(args: list[str], environ: Mapping[str, str]) -> tuple[str | None, list[str]]:
    """``--server X`` (or ``--server=X``) among the options before the command, else
    $AUDIT_SERVER; and the arguments without it."""
    server = environ.get("AUDIT_SERVER") or None
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("-"):
            rest += args[i:]
            break
        if a == "--server" and i + 1 < len(args):
            server = args[i + 1]
            i += 2
            continue
        if a.startswith("--server="):
            server = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return server, rest


def _local_only(args: list[str]) -> bool:
    """--help, --version and a bare `audit` print locally."""
    words = [i for i, a in enumerate(args) if not a.startswith("-")]
    if not words:
        return True
    return "--version" in args[: words[0]] or any(a in ("-h", "--help") for a in args)


if __name__ == "__main__":
    sys.exit(main())
