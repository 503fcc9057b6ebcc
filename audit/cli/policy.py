"""``audit policy``: validate, show, print the schema of, and start policy files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import AuditError, InputError
from ..pipeline.codes import EXIT_INPUT
from ..pipeline.paths import confine
from ..textsafe import printable
from ..yamlio import read_yaml
from .common import PATH, AuditGroup, guard, relative, session


@click.group(cls=AuditGroup)
def policy() -> None:
    """Check policy files."""


@policy.command()
@click.argument("files", nargs=-1, required=True, type=PATH)
@click.pass_context
def validate(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Validate policy FILES; exit 0 when all are valid, 2 otherwise."""
    from ..policy import load_policy

    actor = guard("policy validate", "policy:" + ",".join(f.name for f in files))
    confine(session(), actor, "policy validate", [("read the policy", f) for f in files])
    bad = 0
    for f in files:
        try:
            if _is_rbac_file(f):
                from ..access import Rbac

                r = Rbac.load(f)
                click.echo(f"ok: {f} (access-control file, {len(r.spec.roles)} roles)")
                continue
            p = load_policy(f)
        except AuditError as exc:
            bad += 1
            click.echo("invalid: " + printable(exc.diagnostics(), keep="\n"), err=True)
        else:
            click.echo(f"ok: {f} ({p.name} {p.document.version}, {len(p.rules)} rules)")
    ctx.exit(EXIT_INPUT if bad else 0)


def _is_rbac_file(path: Path) -> bool:
    """An access-control (RBAC) file rather than a policy: `roles` and `bindings`, no apiVersion."""
    try:
        data, _ = read_yaml(path)
    except InputError:
        return False
    return isinstance(data, dict) and "apiVersion" not in data and "bindings" in data


@policy.command("show")
@click.argument("file", type=PATH)
def policy_show(file: Path) -> None:
    """Show the resolved policy FILE: every rule, inherited or not, and where it came from."""
    import yaml

    from ..policy import load_policy

    actor = guard("policy show", f"policy:{file.name}")
    confine(session(), actor, "policy show", [("read the policy", file)])
    p = load_policy(file)
    doc = p.document
    click.echo(f"# {doc.name} {doc.version}  sha256:{p.sha256}")
    for path, sha in p.sources:
        click.echo(f"#   source: {relative(path)}  sha256:{sha[:12]}")
    if doc.checked:
        click.echo(f"#   text checked against its sources on {doc.checked.isoformat()}")
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
        click.echo(f"  # from {relative(p.origins[rule.id].path)}:{p.origins[rule.id].line}")
        click.echo("\n".join("  " + line for line in block.splitlines()))
    if p.waivers:
        waivers = [w.model_dump(mode="json") for w in p.waivers]
        click.echo(yaml.safe_dump({"waivers": waivers}, sort_keys=False).rstrip())


@policy.command("schema")
def policy_schema() -> None:
    """Print the policy files' JSON Schema (for editors; shipped as policies/policy.schema.json)."""
    from ..policy import policy_json_schema

    guard("policy schema", "policy:schema")
    click.echo(json.dumps(policy_json_schema(), indent=2))


@policy.command("init")
@click.option(
    "--dataset",
    "dataset",
    required=True,
    type=PATH,
    help="CSV or Parquet file whose columns the policy is about.",
)
@click.option("--label", help="The label column (checked to exist).")
@click.option("--sensitive", help="Comma-separated sensitive columns (default: guessed by name).")
@click.option("--name", default="my-policy", show_default=True, help="Policy name.")
@click.option(
    "-o",
    "--output",
    type=PATH,
    help="Write here (refuses to overwrite); default: standard output.",
)
def policy_init(
    dataset: Path, label: str | None, sensitive: str | None, name: str, output: Path | None
) -> None:
    """Write a commented starter policy for DATASET, its columns filled in."""
    from ..errors import InputError
    from ..pipeline.policy import starter_policy_for
    from ..safefs import create_file

    actor = guard("policy init", f"dataset:{dataset.name}")
    wanted = [("read the dataset", dataset)]
    confine(session(), actor, "policy init", wanted + ([("write", output)] if output else []))
    chosen = [s.strip() for s in sensitive.split(",") if s.strip()] if sensitive else []
    text = starter_policy_for(dataset, name, label, chosen)
    if output is None:
        click.echo(text, nl=False)
        return
    if output.exists():
        raise InputError(f"{output} already exists", hint="choose another --output or remove it")
    create_file(output, text)
    click.echo(f"wrote {output}; check it with: audit policy validate {output}")
