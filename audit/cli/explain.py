"""``audit explain``: the adverse-action reasons of named rows, in words."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..textsafe import printable
from .common import FILE, AuditCommand, session


@click.command(cls=AuditCommand)
@click.argument("spec", type=FILE)
@click.option(
    "--row",
    "rows",
    multiple=True,
    required=True,
    help="A row to explain: its id_column value, or its 0-based row number. Repeatable.",
)
@click.option(
    "--reason-codes",
    type=FILE,
    help="Reason-code file (overrides the spec's explain.reason_codes).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--seed", type=int, help="Override the spec's seed.")
def explain(
    spec: Path, rows: tuple[str, ...], reason_codes: Path | None, fmt: str, seed: int | None
) -> None:
    """Explain named rows of the SPEC's dataset: the principal reasons of each adverse decision,
    in words (ECOA / Regulation B adverse-action notices). Writes no bundle."""
    from ..pipeline import explain_rows, reasons_csv_text

    ids, decisions = explain_rows(session(), spec, rows, reason_codes=reason_codes, seed=seed)
    if fmt == "json":
        out = [
            decisions[str(r)].to_dict() if str(r) in decisions else {"row_id": r, "adverse": False}
            for r in ids
        ]
        click.echo(json.dumps(out, indent=2))
        return
    if fmt == "csv":
        text = reasons_csv_text([decisions[str(r)] for r in ids if str(r) in decisions])
        click.echo(text, nl=False)
        return
    for r in ids:
        d = decisions.get(str(r))
        if d is None:
            click.echo(f"row {r}: favourable decision; no adverse-action reasons")
            continue
        stability = "" if d.stability is None else f", stability {d.stability:.2f}"
        click.echo(
            printable(f"row {r}: decision {d.decision}")
            + f" (additivity error {d.additivity_error:.1e}{stability})"
        )
        for reason in d.reasons:  # codes, words, columns and values: the user's and the data's
            click.echo(
                "  "
                + printable(
                    f"{reason.rank}. [{reason.code}] {reason.text}  "
                    f"({reason.feature} = {reason.value}, {reason.attribution:+.3f})"
                )
            )
