"""``audit run``: parse the options, call :func:`audit.pipeline.run`, print, exit."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from ..textsafe import printable
from .common import (
    EPILOG,
    FILE,
    STATUS_STYLE,
    json_option,
    keys_option,
    passphrase_option,
    relative,
    session,
    verbose_option,
)


@click.command(epilog=EPILOG)
@click.argument("spec", type=FILE)
@click.option("--model", help="Override the spec's model (name@version or path).")
@click.option("--dataset", help="Override the spec's dataset (name@version or path).")
@click.option("--policy", help="Override the spec's policy file.")
@click.option("--output", help="Override the reports folder.")
@click.option("--name", help="Override the audited system's name (the report folder).")
@click.option("--seed", type=int, help="Override the random seed (explanation sampling).")
@click.option(
    "--reference-dataset",
    help="Training or reference data for drift checks (name@version or path).",
)
@click.option(
    "--baseline",
    help="A previous report for regression rules: report.json, bundle folder, or NAME@N.",
)
@click.option("--explain-sample-size", type=click.IntRange(min=1), help="Rows to explain.")
@click.option(
    "--engine",
    type=click.Choice(["auto", "memory", "stream", "dask"]),
    help="Backend that reads and summarises the data: memory, stream (record batches, memory "
    "bounded by --batch-rows), dask (a cluster), auto (stream files over 512 MiB). The report "
    "is the same for each.",
)
@click.option("--batch-rows", type=click.IntRange(min=1), help="Rows per batch (stream).")
@click.option("--scheduler", help="Dask scheduler address (tcp://host:8786); else a LocalCluster.")
@click.option("--workers", type=click.IntRange(min=1), help="Dask LocalCluster workers.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (faster; report.json and HTML only).")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Exit 1 on failed error rules only, or on warnings too.",
)
@json_option("Print a machine-readable result to stdout.")
@keys_option("Signing identity folder [default: .audit/keys, or $AUDIT_HOME/keys].")
@passphrase_option("File holding the signing keys' passphrase (else $AUDIT_KEY_PASSPHRASE).")
@click.option("--no-sign", is_flag=True, help="Write the bundle unsigned (no attestation.json).")
@click.option(
    "--allow-pickle",
    "allow_pickle",
    metavar="SHA256",
    help="Load a pickle/joblib model anyway: only a registered model whose digest is exactly "
    "SHA256 (runs code from the file; logged and shown on the report's first page).",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Print nothing but errors; the exit code decides."
)
@verbose_option()
@click.pass_context
def run(
    ctx: click.Context,
    spec: Path,
    verbose: bool,
    no_pdf: bool,
    fail_on: Any,
    as_json: bool,
    quiet: bool,
    keys_dir: Path | None,
    passphrase_file: Path | None,
    no_sign: bool,
    allow_pickle: str | None,
    **overrides: Any,
) -> None:
    """Run the audit described by SPEC (an audit.yaml) and write a report bundle.

    With GITHUB_STEP_SUMMARY set (GitHub Actions), summary.md is appended to that file.
    """
    from ..pipeline import STEPS, RunRequest
    from ..pipeline import run as run_pipeline

    verbose = verbose or ctx.obj.get("verbose", False)
    request = RunRequest(
        spec,
        overrides,
        pdf=not no_pdf,
        fail_on=fail_on,
        sign=not no_sign,
        keys=keys_dir,
        passphrase_file=passphrase_file,
        allow_pickle=allow_pickle,
    )
    progress = _Progress(STEPS, enabled=not (quiet or as_json) and sys.stderr.isatty())
    try:
        outcome = run_pipeline(
            request, session(), on_stage=progress.step, on_progress=progress.rows
        )
    finally:
        progress.close()

    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(outcome.step_summary())

    result, bundle, s = outcome.result, outcome.bundle, outcome.result.summary
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), indent=2))
    elif not quiet:
        _print_findings(result)
        text, colour = STATUS_STYLE[result.outcome]
        click.echo(
            f"\noutcome: {click.style(text, fg=colour, bold=True)}  "
            f"({s['passed']} passed, {s['failed']} failed, {s['warned']} warnings, "
            f"{s['waived']} waived, {s['skipped']} skipped)"
        )
        click.echo(f"report:  {relative(bundle.path)}  (v{bundle.version})")
        if bundle.changes is not None:
            _print_changes(bundle.changes, bundle.version)
        if fail_on == "warning" and s["warned"] and not s["failed"]:
            click.echo(f"exit 1: --fail-on warning and {s['warned']} warning(s)")
    if verbose:
        click.echo("\nstage times:", err=True)
        for stage, seconds in result.timings.items():
            # "summarise/predict": a part of the summarise stage, summed over partitions
            shown = f"  {stage.split('/', 1)[1]}" if "/" in stage else stage
            click.echo(f"  {shown:<18} {seconds:8.3f} s", err=True)
        total = sum(v for k, v in result.timings.items() if "/" not in k)
        click.echo(f"  {'total':<18} {total:8.3f} s", err=True)
    ctx.exit(outcome.exit_code)


class _Progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise (CI logs stay clean)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.bar: Any = None
        self.rows_bar: Any = None

    def step(self, name: str) -> None:
        if self.rows_bar is not None:  # the data has been read: the row counter's job is done
            self.rows_bar.close()
            self.rows_bar = None
        if self.enabled and self.bar is None:  # shown from the first stage on
            self.bar = click.progressbar(length=self.total, label="auditing", file=sys.stderr)
            self.bar.__enter__()
        if self.bar is not None:
            self.bar.label = f"auditing: {name:<18}"
            self.bar.update(1)

    def rows(self, done: int, total: int | None) -> None:
        """Rows summarised so far, with throughput (tqdm), while the data is read."""
        if not self.enabled:
            return
        if self.rows_bar is None:
            from tqdm import tqdm

            self.rows_bar = tqdm(
                total=total,
                unit=" rows",
                unit_scale=True,
                file=sys.stderr,
                leave=False,
                desc="rows",
                dynamic_ncols=True,
            )
        self.rows_bar.update(done - self.rows_bar.n)

    def close(self) -> None:
        if self.rows_bar is not None:
            self.rows_bar.close()
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _print_findings(result: Any) -> None:
    click.echo(f"audit of {printable(result.name)}: {len(result.findings)} rules")
    for f in result.findings:
        text, colour = STATUS_STYLE[f.status]
        click.echo(f"  {click.style(text, fg=colour)}  {f.id}: {printable(f.message)}")


def _print_changes(lines: list[str], version: int) -> None:
    if not lines:
        click.echo(f"since v{version - 1}: no changes")
        return
    click.echo(f"since v{version - 1}:")
    for line in lines[:10]:
        click.echo(f"  {printable(line)}")
    if len(lines) > 10:
        click.echo(f"  ... {len(lines) - 10} more (audit report diff)")
