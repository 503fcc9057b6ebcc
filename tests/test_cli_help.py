"""Every command's --help ends with its own exit codes (issue #23): run's wording ("audit
ran ...") only in run's help, the gate's "gate closed" only in the gate's, and no command
without its list."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from audit.cli.app import cli


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        path = (*prefix, name)
        if isinstance(command, click.Group):
            yield from commands(command, path)
        else:
            yield path


def test_every_command_lists_its_own_exit_codes() -> None:
    runner = CliRunner()
    found = list(commands(cli))
    assert ("report", "trend") in found and ("run",) in found and len(found) > 25
    for path in found:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        text = result.output
        assert "Exit codes:" in text, path
        codes = text[text.index("Exit codes:") :]
        assert "  2  bad input" in codes and "  5  internal error" in codes, path
        assert ("audit ran, every blocking rule passed" in codes) == (path == ("run",)), path
        assert ("gate closed" in codes) == (path == ("gate",)), path


def test_the_top_level_help_says_each_command_lists_its_own() -> None:
    text = CliRunner().invoke(cli, ["--help"]).output
    assert "Exit codes (each command's --help lists its own):" in text
