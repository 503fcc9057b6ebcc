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

import sys
import traceback

import click

from .. import __version__
from ..errors import AuditError
from ..pipeline.codes import EXIT_INPUT, EXIT_INTERNAL
from ..textsafe import printable
from .access import rbac, token
from .common import EPILOG, reset_session, verbose_option
from .explain import explain
from .keys import keys
from .log import log
from .policy import policy
from .registry import registry
from .report import report
from .run import run
from .verify import approve, gate, verify


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audit")
@verbose_option()
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
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
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every outcome to a documented exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    reset_session()  # one session per invocation (tests call main() repeatedly)
    verbose = "-v" in args or "--verbose" in args
    try:
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


if __name__ == "__main__":
    sys.exit(main())
