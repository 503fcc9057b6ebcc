"""The `audit` command line: a thin shell over the library.

Only this module prints, reads the environment or exits. Exit codes (a contract CI scripts use):

  0  audit ran and every blocking rule passed
  1  audit ran and at least one blocking rule failed
  2  bad input or usage (unreadable file, invalid spec or policy, missing column, unsafe model)
  3  integrity failure (a registered artifact's digest does not match)
  4  access denied
  5  internal error (a bug in audit: please report it with the --verbose output)
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import AuditError

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_INTEGRITY, EXIT_DENIED, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5

EPILOG = """\b
Exit codes:
  0  audit ran, every blocking rule passed
  1  audit ran, at least one blocking rule failed
  2  bad input or usage (file, spec, policy, column, unsafe model)
  3  integrity failure (digest mismatch)
  4  access denied
  5  internal error (a bug; rerun with --verbose and report it)
"""

_STATUS_STYLE = {
    "pass": ("PASS", "green"),
    "fail": ("FAIL", "red"),
    "warn": ("WARN", "yellow"),
    "skipped": ("SKIP", "bright_black"),
    "waived": ("WAIVED", "magenta"),
}


def _registry() -> Any:
    from .registry import Registry, default_home

    return Registry(default_home(Path.cwd(), dict(os.environ)))


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audit")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and the time of each stage.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Audit a machine-learning model before it is deployed: fairness, SHAP explanations,
    policy rules, and a versioned report bundle (JSON, HTML, PDF)."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


@cli.command(epilog=EPILOG)
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--model", help="Override the spec's model (name@version or path).")
@click.option("--dataset", help="Override the spec's dataset (name@version or path).")
@click.option("--policy", help="Override the spec's policy file.")
@click.option("--output", help="Override the reports folder.")
@click.option("--name", help="Override the audited system's name (the report folder).")
@click.option("--seed", type=int, help="Override the random seed (explanation sampling).")
@click.option("--explain-sample-size", type=click.IntRange(min=1), help="Rows to explain.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (faster; report.json and HTML only).")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and the time of each stage.")
@click.pass_context
def run(ctx: click.Context, spec: Path, verbose: bool, no_pdf: bool, **overrides: Any) -> None:
    """Run the audit described by SPEC (an audit.yaml) and write a report bundle."""
    from .access import current_actor
    from .report import html_and_pdf, write_bundle
    from .runner import run_audit
    from .spec import load_spec

    verbose = verbose or ctx.obj.get("verbose", False)
    resolved = load_spec(spec, overrides)
    needs_registry = any(
        r is not None and r.is_registered for r in (resolved.model, resolved.dataset)
    )
    result = run_audit(
        resolved, actor=current_actor(), registry=_registry() if needs_registry else None
    )
    t0 = time.perf_counter()
    bundle = write_bundle(result, resolved.output, [html_and_pdf(pdf=not no_pdf)])
    result.timings["report bundle"] = time.perf_counter() - t0

    _print_findings(result)
    s = result.summary
    text, colour = _STATUS_STYLE[result.outcome]
    click.echo(
        f"\noutcome: {click.style(text, fg=colour, bold=True)}  "
        f"({s['passed']} passed, {s['failed']} failed, {s['warned']} warnings, "
        f"{s['waived']} waived, {s['skipped']} skipped)"
    )
    click.echo(f"report:  {_relative(bundle.path)}  (v{bundle.version})")
    if verbose:
        click.echo("\nstage times:", err=True)
        for stage, seconds in result.timings.items():
            click.echo(f"  {stage:<18} {seconds:8.3f} s", err=True)
        click.echo(f"  {'total':<18} {sum(result.timings.values()):8.3f} s", err=True)
    ctx.exit(EXIT_FAIL if result.outcome == "fail" else EXIT_PASS)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_findings(result: Any) -> None:
    click.echo(f"audit of {result.name}: {len(result.findings)} rules")
    for f in result.findings:
        text, colour = _STATUS_STYLE[f.status]
        click.echo(f"  {click.style(text, fg=colour)}  {f.id}: {f.message}")


@cli.group()
def registry() -> None:
    """Register models and datasets (a content-addressed store under .audit/ or $AUDIT_HOME)."""


def _add(kind: str, name: str, version: str, file: Path, metadata: dict[str, str]) -> None:
    from .access import current_actor
    from .data import detect_format as data_format
    from .loaders import detect_format as model_format

    fmt = model_format(file) if kind == "model" else _dataset_format(file, data_format)
    art = _registry().add(kind, name, version, file, fmt, current_actor().user, metadata)
    click.echo(f"registered {kind} {art.ref}  sha256:{art.sha256}  format:{art.format}")


def _dataset_format(file: Path, detect: Any) -> str:
    from .errors import InputError

    if not file.is_file():
        raise InputError(f"dataset file {file} does not exist", hint="check the path")
    return str(detect(file))


_meta_options = [
    click.option("--owner", help="Who is accountable for the model."),
    click.option("--intended-use", help="What the model is for, and for whom."),
    click.option("--training-data", help="What data the model was trained on."),
    click.option("--limitations", help="Known limitations and out-of-scope uses."),
]


@registry.command("add-model")
@click.option("--name", required=True, help="Model name.")
@click.option("--version", "version_", required=True, help="Model version (never reused).")
@click.argument("file", type=click.Path(path_type=Path))
def add_model(name: str, version_: str, file: Path, **meta: str) -> None:
    """Register a model FILE (skops) as NAME@VERSION."""
    _add("model", name, version_, file, meta)


for _opt in reversed(_meta_options):
    add_model = _opt(add_model)


@registry.command("add-dataset")
@click.option("--name", required=True, help="Dataset name.")
@click.option("--version", "version_", required=True, help="Dataset version (never reused).")
@click.option("--description", help="Where the data comes from and what it holds.")
@click.argument("file", type=click.Path(path_type=Path))
def add_dataset(name: str, version_: str, file: Path, description: str | None) -> None:
    """Register a dataset FILE (CSV or Parquet) as NAME@VERSION."""
    _add("dataset", name, version_, file, {"description": description or ""})


@registry.command("list")
@click.option("--kind", type=click.Choice(["model", "dataset"]), help="Only this kind.")
def list_(kind: str | None) -> None:
    """List registered models and datasets."""
    reg = _registry()
    rows = reg.list(kind)
    if not rows:
        click.echo(f"no artifacts registered in {reg.home}")
        return
    for a in rows:
        click.echo(
            f"{a.kind:<8} {a.ref:<32} {a.format:<8} sha256:{a.sha256[:12]}  "
            f"{a.registered_at}  {a.registered_by}"
        )


@registry.command()
@click.argument("ref")
@click.option("--kind", type=click.Choice(["model", "dataset"]), default="model", show_default=True)
def show(ref: str, kind: str) -> None:
    """Show one registered artifact (REF is name@version) as JSON."""
    from .errors import InputError
    from .spec import REF_PATTERN

    m = REF_PATTERN.match(ref)
    if not m:
        raise InputError(f"{ref!r} is not name@version", hint="for example: adult-gbm@1")
    art = _registry().get(kind, m["name"], m["version"])
    click.echo(json.dumps(art.to_dict(), indent=2))


@cli.group()
def policy() -> None:
    """Check policy files."""


@policy.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Validate policy FILES; exit 0 when all are valid, 2 otherwise."""
    from .policy import load_policy

    bad = 0
    for f in files:
        try:
            p = load_policy(f)
        except AuditError as exc:
            bad += 1
            click.echo(f"invalid: {exc.diagnostics()}", err=True)
        else:
            click.echo(f"ok: {f} ({p.name} {p.document.version}, {len(p.rules)} rules)")
    ctx.exit(EXIT_INPUT if bad else 0)


@policy.command("show")
@click.argument("file", type=click.Path(path_type=Path))
def policy_show(file: Path) -> None:
    """Show the resolved policy FILE: every rule, inherited or not, and where it came from."""
    import yaml

    from .policy import load_policy

    p = load_policy(file)
    doc = p.document
    click.echo(f"# {doc.name} {doc.version}  sha256:{p.sha256}")
    for path, sha in p.sources:
        click.echo(f"#   source: {_relative(path)}  sha256:{sha[:12]}")
    settings = {
        "min_group_size": p.min_group_size,
        "exclude_below_share": p.exclude_below_share,
        "reference_group": p.reference_group,
    }
    click.echo(yaml.safe_dump({"settings": settings}, sort_keys=False).rstrip())
    click.echo("rules:")
    for rule in p.rules:
        data = rule.model_dump(mode="json", exclude_defaults=False, exclude_none=True)
        block = yaml.safe_dump([data], sort_keys=False).rstrip()
        click.echo(f"  # from {_relative(p.origins[rule.id].path)}:{p.origins[rule.id].line}")
        click.echo("\n".join("  " + line for line in block.splitlines()))
    if p.waivers:
        waivers = [w.model_dump(mode="json") for w in p.waivers]
        click.echo(yaml.safe_dump({"waivers": waivers}, sort_keys=False).rstrip())


@policy.command("schema")
def policy_schema() -> None:
    """Print the policy files' JSON Schema (for editors; shipped as policies/policy.schema.json)."""
    from .policy import policy_json_schema

    click.echo(json.dumps(policy_json_schema(), indent=2))


@policy.command("init")
@click.option(
    "--dataset",
    "dataset",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV or Parquet file whose columns the policy is about.",
)
@click.option("--label", help="The label column (checked to exist).")
@click.option("--sensitive", help="Comma-separated sensitive columns (default: guessed by name).")
@click.option("--name", default="my-policy", show_default=True, help="Policy name.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write here (refuses to overwrite); default: standard output.",
)
def policy_init(
    dataset: Path, label: str | None, sensitive: str | None, name: str, output: Path | None
) -> None:
    """Write a commented starter policy for DATASET, its columns filled in."""
    from .data import read_table
    from .errors import InputError
    from .policy.starter import starter_policy

    frame = read_table(dataset)
    chosen = [s.strip() for s in sensitive.split(",") if s.strip()] if sensitive else []
    missing = [c for c in [*chosen, *([label] if label else [])] if c not in frame.columns]
    if missing:
        raise InputError(
            f"{dataset}: no column(s) {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(map(str, frame.columns))})",
            hint="name columns exactly as in the dataset's header",
        )
    text = starter_policy(name, frame.head(100_000), label, chosen)
    if output is None:
        click.echo(text, nl=False)
        return
    if output.exists():
        raise InputError(f"{output} already exists", hint="choose another --output or remove it")
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}; check it with: audit policy validate {output}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every outcome to a documented exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
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
        click.echo(f"error: {exc.diagnostics()}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - a crash must never look like a pass
        if verbose:
            traceback.print_exc()
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in audit; rerun with --verbose and report the traceback",
            err=True,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
