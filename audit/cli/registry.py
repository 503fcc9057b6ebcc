"""``audit registry``: register, list and show models and datasets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..registry.store import Kind
from ..textsafe import printable
from .common import PATH, AuditGroup, F, guard, session


@click.group(cls=AuditGroup)
def registry() -> None:
    """Register models and datasets (a content-addressed store under .audit/ or $AUDIT_HOME)."""


def _add(
    kind: Kind,
    name: str,
    version: str,
    file: Path,
    metadata: dict[str, str],
    allow_pickle: bool = False,
) -> None:
    from ..data import detect_format as data_format
    from ..errors import InputError
    from ..loaders import detect_format as model_format
    from ..names import check_name, check_version
    from ..pipeline.paths import confine

    check_name(name, f"{kind} --name", hint="register it under a plain --name")
    check_version(version, f"{kind} --version", hint="register it under a plain --version")
    actor = guard(f"registry add-{kind}", f"{kind}:{name}@{version}")
    confine(session(), actor, f"registry add-{kind}", [(f"register the {kind}", file)])
    if kind == "model":
        fmt = model_format(file, allow_pickle=allow_pickle)
    else:
        if not file.is_file():
            raise InputError(f"dataset file {file} does not exist", hint="check the path")
        fmt = str(data_format(file))
        _check_rows(file, fmt)
    art = session().registry().add(kind, name, version, file, fmt, actor.user, metadata)
    click.echo(f"registered {kind} {art.ref}  sha256:{art.sha256}  format:{art.format}")


def _check_rows(file: Path, fmt: str) -> None:
    """A dataset to register has at least one data row (an audit of it could not run)."""
    from ..errors import InputError

    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            empty = pq.ParquetFile(file).metadata.num_rows == 0
        except (OSError, ValueError) as exc:
            raise InputError(f"dataset {file} is not a readable Parquet file: {exc}") from None
    else:
        with file.open("rb") as fh:
            fh.readline()  # the header
            empty = not any(line.strip() for line in fh)
    if empty:
        raise InputError(
            f"dataset {file} has no data rows (only a header)",
            hint="register the file that holds the rows to audit",
        )


def _name_and_version(kind: str) -> Callable[[F], F]:
    """``--name`` and ``--version`` of an artifact to register."""

    def decorate(f: F) -> F:
        f = click.option(
            "--version",
            "version_",
            required=True,
            help=f"{kind} version (never reused).",
        )(f)
        return click.option("--name", required=True, help=f"{kind} name.")(f)

    return decorate


def _model_card_options(f: F) -> F:
    """The model-card fields, recorded with the model (--help lists them last to first)."""
    for opt in (
        click.option("--owner", help="Who is accountable for the model."),
        click.option("--intended-use", help="What the model is for, and for whom."),
        click.option("--training-data", help="What data the model was trained on."),
        click.option("--limitations", help="Known limitations and out-of-scope uses."),
    ):
        f = opt(f)
    return f


def _kind_option(**kwargs: Any) -> Callable[[F], F]:
    return click.option("--kind", type=click.Choice(["model", "dataset"]), **kwargs)


@registry.command("add-model")
@_name_and_version("Model")
@click.option(
    "--allow-pickle",
    is_flag=True,
    help="Register a pickle/joblib file (loading it later still needs --allow-pickle SHA256).",
)
@click.argument("file", type=PATH)
@_model_card_options
def add_model(name: str, version_: str, file: Path, allow_pickle: bool, **meta: str) -> None:
    """Register a model FILE (skops, XGBoost JSON/UBJ, LightGBM text, ONNX) as NAME@VERSION."""
    _add("model", name, version_, file, meta, allow_pickle)


@registry.command("add-dataset")
@_name_and_version("Dataset")
@click.option("--description", help="Where the data comes from and what it holds.")
@click.argument("file", type=PATH)
def add_dataset(name: str, version_: str, file: Path, description: str | None) -> None:
    """Register a dataset FILE (CSV or Parquet) as NAME@VERSION."""
    _add("dataset", name, version_, file, {"description": description or ""})


@registry.command("list")
@_kind_option(help="Only this kind.")
def list_(kind: Kind | None) -> None:
    """List registered models and datasets."""
    guard("registry list", "registry")
    reg = session().registry()
    rows = reg.list(kind)
    if not rows:
        click.echo(f"no artifacts registered in {reg.home}")
        return
    for a in rows:
        click.echo(
            f"{a.kind:<8} {printable(a.ref):<32} {a.format:<8} sha256:{a.sha256[:12]}  "
            f"{a.registered_at}  {printable(a.registered_by)}"
        )


@registry.command()
@click.argument("ref")
@_kind_option(default="model", show_default=True)
def show(ref: str, kind: Kind) -> None:
    """Show one registered artifact (REF is name@version) as JSON."""
    from ..errors import InputError
    from ..spec import REF_PATTERN

    m = REF_PATTERN.match(ref)
    if not m:
        raise InputError(f"{ref!r} is not name@version", hint="for example: adult-gbm@1")
    guard("registry show", f"{kind}:{ref}")
    art = session().registry().get(kind, m["name"], m["version"])
    click.echo(json.dumps(art.to_dict(), indent=2))
