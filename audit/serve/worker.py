"""A service worker: runs one CLI command for the caller the service authenticated.

Started only by :mod:`audit.serve.jobs`, in the service folder, with the job on stdin (never in
the environment or argv, where another local user could read or set it). The worker:

- maps ``@in/...`` and ``@out/...`` arguments to the job's private folders;
- refuses options that would reach the service's own secrets or folders (``--keys``,
  ``--passphrase-file``, ``--allow-pickle``) and any path argument outside the job's folders and
  the service's reports;
- confines every file an audit reads to those folders (its spec's model and data must be
  registered artifacts) and writes reports into the service's reports folder only;
- runs the command with the caller as the actor: RBAC decides and the access log records it,
  exactly as for a local command.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

#: options a caller may not pass through the service (the service's identity is its own)
REFUSED_PARAMS = {
    "keys_dir": "--keys",
    "passphrase_file": "--passphrase-file",
    "allow_pickle": "--allow-pickle",
    # a Dask scheduler of the caller's choosing would receive the registered data
    "scheduler": "--scheduler",
}

#: commands that make no sense in a service
REFUSED_COMMANDS = {"serve", "rbac init", "report open"}


def _map(arg: str, job: Path) -> str:
    """``@in/x`` and ``@out/x`` (alone or as ``--opt=@in/x``) as paths in the job's folders; the
    folder of an output is made."""
    from .jobs import safe_relative

    opt, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    for prefix in ("@in/", "@out/"):
        if value.startswith(prefix):
            rel = safe_relative(value[len(prefix) :])
            path = job.joinpath(prefix[1:-1], *rel.parts)
            if prefix == "@out/":
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            return f"{opt}{eq}{path}"
    return arg


def check_argv(argv: list[str], folder: Path, job: Path) -> tuple[str, list[str]]:
    """The command, and the arguments to run it with (InputError/AccessDenied if refused)."""
    from ..cli.app import cli
    from ..errors import AccessDenied, InputError
    from .argv import is_output, leaf_command, path_values

    command, ctx = leaf_command(cli, argv)
    if command in REFUSED_COMMANDS:
        raise InputError(f"`audit {command}` does not run through audit serve")
    if ctx is None:
        return command, argv
    for name, flag in REFUSED_PARAMS.items():
        if ctx.params.get(name):
            raise AccessDenied(
                f"access denied: {flag} is not accepted through audit serve: the service signs "
                "with its own keys, loads no pickle and runs audits on its own workers",
                hint=f"drop {flag}; an administrator configures the service's identity",
            )
    if command == "approve":
        if ctx.params.get("keyring"):
            raise AccessDenied(
                "access denied: --keyring is not accepted by approve through audit serve: the "
                "service verifies what it approves against its own trust configuration",
                hint="drop --keyring",
            )
        bundle = Path(os.path.realpath(folder / str(ctx.params.get("bundle"))))
        if not bundle.is_relative_to(folder / "reports"):
            raise AccessDenied(
                "access denied: through audit serve, approve names a bundle of the service's "
                "reports (reports/NAME/vN), not an uploaded one",
                hint="audit --server URL report list shows them",
            )
    roots = [job / "in", job / "out", folder / "reports"]
    for param, value in path_values(ctx):
        resolved = Path(os.path.realpath(folder / value))
        allowed = [job / "out"] if is_output(command, param.name) else roots
        if not any(resolved.is_relative_to(r) for r in allowed):
            raise AccessDenied(
                f"access denied: {param.human_readable_name} {value!r} is outside what a "
                "command may read through audit serve (its uploads and the service's reports)",
                hint="name a file on your machine (the client uploads it) or reports/NAME/vN",
            )
    if command == "run":
        argv = [*argv, "--output", str(folder / "reports")]
    return command, argv


def main() -> int:
    job_spec: dict[str, Any] = json.loads(sys.stdin.read())
    from ..access import Actor
    from ..cli import common
    from ..cli.app import main as cli_main
    from ..errors import AuditError
    from ..pipeline.session import Session
    from ..textsafe import printable

    folder = Path(job_spec["folder"])
    job = Path(job_spec["job"])
    a = job_spec["actor"]
    actor = Actor(
        user=a["user"],
        uid=int(a["uid"]),
        source=a["source"],
        groups=tuple(a["groups"]),
        roles=None if a["roles"] is None else tuple(a["roles"]),
        token_id=a["token_id"],
    )
    session = Session(
        folder / ".audit",
        {k: v for k, v in os.environ.items() if k == "AUDIT_KEY_PASSPHRASE"},
        cwd=folder,
        notify=common.notice,
        actor=actor,
        database=job_spec.get("database"),
    )
    session.roots = (job / "in", job / "out", folder / "reports")
    argv = list(job_spec["argv"])
    try:
        argv = [_map(x, job) for x in argv]
        _, argv = check_argv(argv, folder, job)
    except AuditError as exc:
        _log_refusal(session, argv, exc.message)
        click.echo("error: " + printable(exc.diagnostics(), keep="\n"), err=True)
        return exc.exit_code
    code = cli_main(argv, session=session)
    if session.decisions == 0:
        # refused before any permission was checked (a usage error, a bad option): still logged
        _log_refusal(
            session,
            argv,
            f"no permission was checked: the command line was refused or named no command (exit {code})",
        )
    return code


def _log_refusal(session: Any, argv: list[str], reason: str) -> None:
    from ..access import COMMAND_ACTIONS
    from .jobs import command_of

    ctx = session.access
    ctx.log.append(
        actor=session.actor,
        action=COMMAND_ACTIONS.get(command_of(argv), "cli"),
        resource=f"cli:{command_of(argv)}",
        decision="deny",
        reason=reason,
        rbac_sha256=ctx.rbac.sha256,
    )


if __name__ == "__main__":
    sys.exit(main())
