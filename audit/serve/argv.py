"""Parsing a command line the way the CLI will, to find the files it names (client and worker)."""

from __future__ import annotations

import click

#: parameters naming a file the command writes: through the service, only into the request's
#: outputs, which the client then creates on the caller's machine
OUTPUT_PARAMS = {"out", "dest"}
#: commands whose ``--output`` is a file they write (elsewhere ``--output`` is the reports folder)
OUTPUT_OPTION_COMMANDS = {"policy init"}


def is_output(command: str, param: str | None) -> bool:
    """True when ``param`` of ``command`` names a file the command writes."""
    return param in OUTPUT_PARAMS or (param == "output" and command in OUTPUT_OPTION_COMMANDS)


def leaf_command(group: click.Group, argv: list[str]) -> tuple[str, click.Context | None]:
    """The command path (``report export``) and its parsed context (None for a bare group)."""
    ctx = group.make_context("audit", list(argv), resilient_parsing=True)
    names: list[str] = []
    cmd: click.Command = group
    while isinstance(cmd, click.Group):
        args = _remaining(ctx)
        if not args:
            return " ".join(names), None
        sub = cmd.get_command(ctx, args[0])
        if sub is None:
            return " ".join([*names, args[0]]), None
        names.append(args[0])
        ctx = sub.make_context(args[0], list(args[1:]), parent=ctx, resilient_parsing=True)
        cmd = sub
    return " ".join(names), ctx


def path_values(ctx: click.Context) -> list[tuple[click.Parameter, str]]:
    """Every value of a path-typed parameter the command was given."""
    found = []
    for param in ctx.command.params:
        if not isinstance(param.type, click.Path):
            continue
        value = ctx.params.get(param.name or "")
        if value is None:
            continue
        for v in value if isinstance(value, tuple | list) else [value]:
            found.append((param, str(v)))
    return found


def _remaining(ctx: click.Context) -> list[str]:
    """A group context's unparsed words, the sub-command's name first (click 8.2+ keeps that
    name apart, in ``_protected_args``; older versions in ``protected_args``)."""
    first = getattr(ctx, "_protected_args", None)
    if first is None:
        first = ctx.__dict__.get("protected_args", [])
    return [*first, *ctx.args]
