"""``audit report``: list, show, open, export and compare report bundles."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from ..errors import AuditError
from ..pipeline.paths import confine
from ..pipeline.session import report_resource
from ..textsafe import printable
from .common import (
    PATH,
    STATUS_STYLE,
    AuditGroup,
    F,
    guard,
    json_option,
    relative,
    reports_option,
    session,
)


@click.group(cls=AuditGroup)
def report() -> None:
    """List, show, open, export and compare report bundles."""


def _bundle_argument(name: str = "bundle") -> Callable[[F], F]:
    """A bundle folder or its report.json."""
    return click.argument(name, type=PATH)


@report.command("list")
@click.argument("name", required=False)
@reports_option("output")
def report_list(name: str | None, output: Path) -> None:
    """List bundles in the reports folder (all systems, or NAME's versions)."""
    from ..bundles import BundleStore
    from ..names import check_name

    if name is not None:
        check_name(name, "system NAME", hint="give a system name as `audit report list` shows it")
    guard("report list", f"report:{name or '*'}")
    store = BundleStore(output)
    found = False
    for system in [name] if name else store.systems():
        for v in store.versions(system):
            folder = output / system / f"v{v}"
            try:
                r = store.open(system, v).report
            except AuditError:
                click.echo(f"{relative(folder)}  (unreadable report.json)")
                continue
            found = True
            s = r.summary
            click.echo(
                f"{relative(folder):<36} {r.outcome.upper():<5} {r.created_at}  "
                f"{s.failed} failed, {s.warned} warnings  id {r.report_id[:8]}"
            )
    if not found:
        click.echo(f"no report bundles under {output}" + (f" for {name}" if name else ""))


@report.command("show")
@_bundle_argument()
def report_show(bundle: Path) -> None:
    """Show a bundle's outcome and rules (BUNDLE is a folder or its report.json)."""
    from ..bundles import Bundle
    from ..report.render import artifact_ref

    actor = guard("report show", report_resource(bundle))
    confine(session(), actor, "report show", [("read the report", bundle)])
    r = Bundle.open(bundle).report
    subject = r.subject
    text, colour = STATUS_STYLE[r.outcome]
    shown = click.style(text, fg=colour, bold=True)
    click.echo(f"{printable(subject.name)} v{r.version}  {shown}")
    click.echo(f"  report id {r.report_id}, created {r.created_at} by {printable(r.actor.user)}")
    for label, a in (
        ("model", subject.model),
        ("dataset", subject.dataset),
        ("reference", subject.reference),
    ):
        if a is not None:
            click.echo(f"  {label:<9} {printable(artifact_ref(a))}  sha256:{a.sha256[:12]}")
    policy = subject.policy
    click.echo(
        f"  policy    {printable(f'{policy.name}@{policy.version}')}  sha256:{policy.sha256[:12]}"
    )
    for rule in r.rules:
        word, col = STATUS_STYLE.get(rule.status, (rule.status.upper(), None))
        click.echo(f"  {click.style(word, fg=col)}  {rule.id}: {printable(rule.message)}")


@report.command("open")
@_bundle_argument()
@click.option(
    "--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True
)
def report_open(bundle: Path, fmt: str) -> None:
    """Open a bundle's PDF or HTML in the desktop viewer (prints the path when there is none)."""
    import shutil
    import subprocess

    from ..bundles import Bundle
    from ..errors import InputError

    actor = guard("report open", report_resource(bundle))
    confine(session(), actor, "report open", [("open the report", bundle)])
    path = Bundle.open(bundle).path / f"report.{fmt}"
    if not path.is_file():
        raise InputError(f"{path} does not exist", hint="the bundle was written with --no-pdf?")
    opener = shutil.which("xdg-open") or shutil.which("open")
    if opener and sys.stdout.isatty():
        subprocess.run([opener, str(path)], check=False)
    click.echo(str(path))


@report.command("export")
@_bundle_argument()
@click.argument("dest", type=PATH)
def report_export(bundle: Path, dest: Path) -> None:
    """Copy a bundle to DEST as a zip archive (DEST ends in .zip) or a folder; never overwrites."""
    from ..bundles import Bundle, BundleStore

    opened = Bundle.open(bundle)
    actor = guard("report export", report_resource(bundle))
    confine(session(), actor, "report export", [("export", bundle), ("write", dest)])
    BundleStore.export(opened, dest)
    click.echo(f"exported {relative(opened.path)} to {dest}")


@report.command("diff")
@_bundle_argument("old")
@_bundle_argument("new")
@click.option(
    "--tolerance",
    type=float,
    default=1e-9,
    show_default=True,
    help="Ignore metric changes at most this large.",
)
@json_option("Print the diff as JSON.")
def report_diff(old: Path, new: Path, tolerance: float, as_json: bool) -> None:
    """What changed from bundle OLD to bundle NEW: outcome, rules, metrics (fairness,
    performance, explanations, drift, data) beyond the tolerance, and input digests (model,
    dataset, reference dataset, policy, baseline)."""
    from ..bundles import Bundle
    from ..errors import InputError
    from ..report.diff import diff_reports

    if tolerance < 0:
        raise InputError("--tolerance must be zero or more")
    actor = guard("report diff", f"{report_resource(old)},{report_resource(new)}")
    confine(session(), actor, "report diff", [("read the report", old), ("read the report", new)])
    d = diff_reports(
        Bundle.open(old).report,
        Bundle.open(new).report,
        tolerance=tolerance,
    )
    click.echo(json.dumps(d.to_changes().to_json(), indent=2) if as_json else d.to_text())


@report.command("trend")
@click.argument("name")
@reports_option("output")
@json_option("Print the trend as JSON (the report's trend section).")
def report_trend(name: str, output: Path, as_json: bool) -> None:
    """Each rule's value across NAME's published versions, with intervals: post-market
    monitoring evidence (every audit's report also charts it in its Trend section)."""
    from ..bundles import BundleStore
    from ..errors import InputError
    from ..names import check_name
    from ..policy.trend import Published, trend_section

    check_name(name, "system NAME", hint="give a system name as `audit report list` shows it")
    actor = guard("report trend", f"report:{name}")
    confine(session(), actor, "report trend", [("read the reports", output)])
    store = BundleStore(output)
    history = []
    for v in store.versions(name):
        opened = store.open(name, v)
        try:
            history.append(Published(opened.report, opened.report_sha256()))
        except AuditError:
            click.echo(f"{relative(opened.path)}: unreadable report.json, left out", err=True)
    trend = trend_section(history)
    if trend is None:
        raise InputError(
            f"{name} has {len(history)} readable version(s) under {output}; a trend needs two",
            hint="audit it again (audit run), or point --output at the reports folder",
        )
    if as_json:
        click.echo(json.dumps(trend.to_json(), indent=2))
        return
    click.echo(f"{printable(name)}: versions {', '.join(f'v{v}' for v in trend.versions)}")
    for s in trend.series:
        where = (
            f" ({printable(s.feature)}{'=' + printable(s.group) if s.group else ''})"
            if s.feature
            else ""
        )
        click.echo(f"\n{s.rule}: {s.metric}{where}, threshold {s.operator} {s.threshold:.4g}")
        for p in s.points:
            value = "n/a" if p.value is None else f"{p.value:.4g}"
            ci = f"  [{p.ci[0]:.4g}, {p.ci[1]:.4g}]" if p.ci else ""
            edited = (
                f"  EDITED after v{p.version + 1} was published"
                if p.linked is False and p.version
                else ""
            )
            word, col = STATUS_STYLE.get(p.status, (p.status.upper(), None))
            click.echo(
                f"  v{p.version:<4} {p.created_at}  {click.style(word, fg=col):<6} {value}{ci}{edited}"
            )
        if s.worsening_steps:
            click.echo(f"  worse in each of the last {s.worsening_steps} step(s)")
