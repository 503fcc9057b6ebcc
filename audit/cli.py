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


def _home() -> Path:
    from .registry import default_home

    return default_home(Path.cwd(), dict(os.environ))


def _keys_dir(keys: Path | None) -> Path:
    return keys if keys is not None else _home() / "keys"


def _passphrase(passphrase_file: Path | None) -> str | None:
    from .errors import InputError

    if passphrase_file is None:
        return os.environ.get("AUDIT_KEY_PASSPHRASE") or None
    try:
        return passphrase_file.read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise InputError(f"cannot read passphrase file {passphrase_file}: {exc.strerror}") from None


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
@click.option(
    "--reference-dataset",
    help="Training or reference data for drift checks (name@version or path).",
)
@click.option(
    "--baseline",
    help="A previous report for regression rules: report.json, bundle folder, or NAME@N.",
)
@click.option("--explain-sample-size", type=click.IntRange(min=1), help="Rows to explain.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (faster; report.json and HTML only).")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Exit 1 on failed error rules only, or on warnings too.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result to stdout.")
@click.option(
    "--keys",
    type=click.Path(path_type=Path, file_okay=False),
    help="Signing identity folder [default: .audit/keys, or $AUDIT_HOME/keys].",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the signing keys' passphrase (else $AUDIT_KEY_PASSPHRASE).",
)
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
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and the time of each stage.")
@click.pass_context
def run(
    ctx: click.Context,
    spec: Path,
    verbose: bool,
    no_pdf: bool,
    fail_on: str,
    as_json: bool,
    quiet: bool,
    keys: Path | None,
    passphrase_file: Path | None,
    no_sign: bool,
    allow_pickle: str | None,
    **overrides: Any,
) -> None:
    """Run the audit described by SPEC (an audit.yaml) and write a report bundle.

    With GITHUB_STEP_SUMMARY set (GitHub Actions), summary.md is appended to that file.
    """
    from .report import html_and_pdf, write_bundle
    from .report.formats import FORMATS, format_renderer
    from .runner import STAGES, run_audit
    from .spec import load_spec

    verbose = verbose or ctx.obj.get("verbose", False)
    resolved = load_spec(spec, overrides)
    needs_registry = any(
        r is not None and r.is_registered for r in (resolved.model, resolved.dataset)
    )
    subject = resolved.model or resolved.dataset
    actor = _guard("run", f"{'model' if resolved.model else 'dataset'}:{subject.display()}")
    progress = _Progress(len(STAGES) + 1, enabled=not (quiet or as_json) and sys.stderr.isatty())
    try:
        result = run_audit(
            resolved,
            actor=actor,
            registry=_registry() if needs_registry else None,
            on_stage=progress.step,
            allow_pickle_digest=allow_pickle,
        )
        model_info = result.subject.model
        if model_info is not None and model_info.unsafe_format:
            _log_unsafe_load(actor, model_info)
        progress.step("report bundle")
        # only now, with an audit to sign: a failed run leaves no keys behind
        identity = None if no_sign else _signing_identity(keys, passphrase_file, quiet or as_json)
        t0 = time.perf_counter()
        root = _relative(resolved.output)
        renderers = [html_and_pdf(resolved.templates, pdf=not no_pdf)]
        renderers += [format_renderer(f, reports_root=root) for f in FORMATS.values()]
        if result.decisions is not None:
            from .report import reasons_csv

            renderers.append(reasons_csv(result.decisions))
        if identity is not None:
            from .signing import bundle_signer

            def checkpoint() -> dict[str, Any]:
                # the access log's state at signing time, signed, inside the attestation
                return dict(_Access.ctx.log.checkpoint(identity.attestation_key).to_dict())

            # last: signs the PDF, then attests every file
            renderers.append(bundle_signer(identity, checkpoint=checkpoint))
        bundle = write_bundle(result, resolved.output, renderers)
        result.timings["report bundle"] = time.perf_counter() - t0
    finally:
        progress.close()

    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write((bundle.path / "summary.md").read_text(encoding="utf-8") + "\n")

    s = result.summary
    blocking = s["failed"] + (s["warned"] if fail_on == "warning" else 0)
    code = EXIT_FAIL if blocking else EXIT_PASS
    if as_json:
        click.echo(
            json.dumps(
                {
                    "outcome": result.outcome,
                    "exit_code": code,
                    "fail_on": fail_on,
                    "bundle": str(bundle.path),
                    "report_id": bundle.report_id,
                    "version": bundle.version,
                    "summary": s,
                    "rules": bundle.report["rules"],
                    "changes": bundle.changes,
                },
                indent=2,
            )
        )
    elif not quiet:
        _print_findings(result)
        text, colour = _STATUS_STYLE[result.outcome]
        click.echo(
            f"\noutcome: {click.style(text, fg=colour, bold=True)}  "
            f"({s['passed']} passed, {s['failed']} failed, {s['warned']} warnings, "
            f"{s['waived']} waived, {s['skipped']} skipped)"
        )
        click.echo(f"report:  {_relative(bundle.path)}  (v{bundle.version})")
        if bundle.changes is not None:
            _print_changes(bundle.changes, bundle.version)
        if fail_on == "warning" and s["warned"] and not s["failed"]:
            click.echo(f"exit 1: --fail-on warning and {s['warned']} warning(s)")
    if verbose:
        click.echo("\nstage times:", err=True)
        for stage, seconds in result.timings.items():
            click.echo(f"  {stage:<18} {seconds:8.3f} s", err=True)
        click.echo(f"  {'total':<18} {sum(result.timings.values()):8.3f} s", err=True)
    ctx.exit(code)


def _signing_identity(keys: Path | None, passphrase_file: Path | None, quiet: bool) -> Any:
    """The signing identity; a first run creates one (unencrypted) so every bundle is signed."""
    from .access import current_actor
    from .signing import init_identity, load_identity

    folder = _keys_dir(keys)
    passphrase = _passphrase(passphrase_file)
    if not (folder / "identity.json").exists():
        init_identity(
            folder, common_name=f"audit signer ({current_actor().user})", passphrase=passphrase
        )
        if not quiet:
            click.echo(
                f"created a signing identity in {_relative(folder)} "
                "(share its public keyring: audit keys export --out keyring.json)",
                err=True,
            )
    return load_identity(folder, passphrase)


class _Access:
    """The process's access context, opened on first use (one per CLI invocation)."""

    ctx: Any = None


def _guard(command: str, resource: str = "") -> Any:
    """Check permission for ``command`` on ``resource`` before touching anything; log the decision.

    Returns the actor. A completely fresh home (no rbac.yaml, no access log) is bootstrapped:
    the OS account running the first command is bound as admin, and that is logged.
    """
    from .access import COMMAND_ACTIONS, authorize, bootstrap_rbac, open_access

    if _Access.ctx is None:
        home = _home()
        fresh = not (home / "rbac.yaml").exists() and not (home / "access.db").exists()
        home.mkdir(parents=True, exist_ok=True)
        keys = _trusted_token_keys(home)
        token = os.environ.get("AUDIT_TOKEN") or None
        signing_key = _checkpoint_key(home)
        ctx = open_access(
            home, token=token, trusted_keys=keys, signing_key=signing_key, environ=dict(os.environ)
        )
        if fresh:
            bootstrap_rbac(home, ctx.log, ctx.os_actor)
            ctx = open_access(
                home,
                token=token,
                trusted_keys=keys,
                signing_key=signing_key,
                environ=dict(os.environ),
            )
            if not _quiet_requested():  # the binding is in the access log either way
                click.echo(
                    f"first use of {_relative(home)}: bound OS account {ctx.os_actor.user!r} "
                    f"as admin in {_relative(home / 'rbac.yaml')} (edit it to grant others roles)",
                    err=True,
                )
        _Access.ctx = ctx
    return authorize(_Access.ctx, COMMAND_ACTIONS[command], resource)


def _quiet_requested() -> bool:
    """Whether the running command was given ``--quiet`` or ``--json`` (stderr notices off)."""
    ctx = click.get_current_context(silent=True)
    params = ctx.params if ctx is not None else {}
    return bool(params.get("quiet") or params.get("as_json"))


def _checkpoint_key(home: Path) -> Any:
    """The local attestation key, to sign the access log's checkpoint every N entries; None when
    there is no identity yet or its keys are encrypted and no passphrase is in the environment."""
    from .signing import load_identity

    if not (home / "keys" / "identity.json").is_file():
        return None
    try:
        return load_identity(
            home / "keys", os.environ.get("AUDIT_KEY_PASSPHRASE") or None
        ).attestation_key
    except AuditError:
        return None


def _trusted_token_keys(home: Path) -> dict[str, Any]:
    """Keys that may sign tokens and checkpoints: the local identity's, and $AUDIT_KEYRING's.

    Key id to keyring record (revoked records are ignored by the access layer)."""
    from .signing import identity_key_records, load_keyring

    keys: dict[str, Any] = {}
    if (home / "keys" / "identity.json").is_file():
        keys.update({r.keyid: r for r in identity_key_records(home / "keys")})
    ring = os.environ.get("AUDIT_KEYRING")
    if ring:
        keys.update(load_keyring(Path(ring)).keys)
    return keys


def _log_unsafe_load(actor: Any, model_info: Any) -> None:
    """Record in the access log that a pickle-based model was loaded on the user's explicit opt-in."""
    ctx = _Access.ctx
    ctx.log.append(
        actor=actor,
        action="audit:run",
        resource=f"model:{model_info.name}@{model_info.version}",
        decision="allow",
        reason=f"UNSAFE: pickle/joblib model loaded on --allow-pickle for pinned sha256 "
        f"{model_info.sha256}",
        rbac_sha256=ctx.rbac.sha256,
    )


class _Progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise (CI logs stay clean)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = (
            click.progressbar(length=total, label="auditing", file=sys.stderr) if enabled else None
        )
        if self.bar is not None:
            self.bar.__enter__()

    def step(self, name: str) -> None:
        if self.bar is not None:
            self.bar.label = f"auditing: {name:<18}"
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _print_changes(lines: list[str], version: int) -> None:
    if not lines:
        click.echo(f"since v{version - 1}: no changes")
        return
    click.echo(f"since v{version - 1}:")
    for line in lines[:10]:
        click.echo(f"  {line}")
    if len(lines) > 10:
        click.echo(f"  ... {len(lines) - 10} more (audit report diff)")


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


def _add(
    kind: str,
    name: str,
    version: str,
    file: Path,
    metadata: dict[str, str],
    allow_pickle: bool = False,
) -> None:
    from .data import detect_format as data_format
    from .loaders import detect_format as model_format

    actor = _guard(f"registry add-{kind}", f"{kind}:{name}@{version}")
    if kind == "model":
        fmt = model_format(file, allow_pickle=allow_pickle)
    else:
        fmt = _dataset_format(file, data_format)
    art = _registry().add(kind, name, version, file, fmt, actor.user, metadata)
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
@click.option(
    "--allow-pickle",
    is_flag=True,
    help="Register a pickle/joblib file (loading it later still needs --allow-pickle SHA256).",
)
@click.argument("file", type=click.Path(path_type=Path))
def add_model(name: str, version_: str, file: Path, allow_pickle: bool, **meta: str) -> None:
    """Register a model FILE (skops, XGBoost JSON/UBJ, LightGBM text, ONNX) as NAME@VERSION."""
    _add("model", name, version_, file, meta, allow_pickle)


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
    _guard("registry list", "registry")
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
    _guard("registry show", f"{kind}:{ref}")
    art = _registry().get(kind, m["name"], m["version"])
    click.echo(json.dumps(art.to_dict(), indent=2))


@cli.command(epilog=EPILOG)
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--row",
    "rows",
    multiple=True,
    required=True,
    help="A row to explain: its id_column value, or its 0-based row number. Repeatable.",
)
@click.option(
    "--reason-codes",
    type=click.Path(path_type=Path, dir_okay=False),
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
    import dataclasses

    from .contract import Skipped
    from .errors import InputError
    from .runner import run_audit
    from .spec import load_spec

    resolved = load_spec(spec, {"seed": seed, "reason_codes": reason_codes})
    ids: list[str | int] = [
        int(r) if r.isdigit() and not resolved.spec.id_column else r for r in rows
    ]
    resolved = load_spec(spec, {"seed": seed, "reason_codes": reason_codes, "explain_rows": ids})
    if resolved.model is None:
        raise InputError("the spec audits recorded decisions: there is no model to explain")
    if resolved.reason_codes is None:
        raise InputError(
            "no reason-code file: reasons must be given in words",
            hint="pass --reason-codes FILE or set explain.reason_codes in the spec "
            "(examples: policies/reason-codes/)",
        )
    model_ref = resolved.model
    actor = _guard("explain", f"model:{model_ref.display()}")
    resolved = dataclasses.replace(resolved, reference=None, baseline=None)
    result = run_audit(
        resolved, actor=actor, registry=_registry() if model_ref.is_registered else None
    )
    if isinstance(result.explanations, Skipped):
        raise InputError(f"the model cannot be explained: {result.explanations.reason}")
    decisions = {str(d.row_id): d for d in (result.decisions or [])}
    if fmt == "json":
        out = [
            decisions[str(r)].to_dict() if str(r) in decisions else {"row_id": r, "adverse": False}
            for r in ids
        ]
        click.echo(json.dumps(out, indent=2))
        return
    if fmt == "csv":
        import tempfile

        from .explain import write_reasons_csv

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "reasons.csv"
            write_reasons_csv(path, [decisions[str(r)] for r in ids if str(r) in decisions])
            click.echo(path.read_text(encoding="utf-8"), nl=False)
        return
    for r in ids:
        d = decisions.get(str(r))
        if d is None:
            click.echo(f"row {r}: favourable decision; no adverse-action reasons")
            continue
        stability = "" if d.stability is None else f", stability {d.stability:.2f}"
        click.echo(
            f"row {r}: decision {d.decision} (additivity error {d.additivity_error:.1e}{stability})"
        )
        for reason in d.reasons:
            click.echo(
                f"  {reason.rank}. [{reason.code}] {reason.text}  "
                f"({reason.feature} = {reason.value}, {reason.attribution:+.3f})"
            )


@cli.group()
def report() -> None:
    """List, show, open, export and compare report bundles."""


def _bundle_dir(target: Path) -> Path:
    """A bundle folder from a bundle path or a report.json path; InputError if neither."""
    from .errors import InputError

    folder = target.parent if target.name == "report.json" else target
    if not (folder / "report.json").is_file():
        raise InputError(
            f"{target} is not a report bundle (no report.json in {folder})",
            hint="give a folder such as reports/adult-income/v2, or its report.json",
        )
    return folder


def _report_resource(target: Path) -> str:
    folder = target.parent if target.name == "report.json" else target
    return f"report:{folder.parent.name}/{folder.name}"


def _load_report(target: Path) -> dict[str, Any]:
    from .errors import InputError

    path = _bundle_dir(target) / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict) or "outcome" not in data:
        raise InputError(f"{path} is not an audit report.json")
    return data


@report.command("list")
@click.argument("name", required=False)
@click.option(
    "--output",
    "output",
    default="reports",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The reports folder.",
)
def report_list(name: str | None, output: Path) -> None:
    """List bundles in the reports folder (all systems, or NAME's versions)."""
    from .report import versions

    _guard("report list", f"report:{name or '*'}")
    systems = [output / name] if name else sorted(p for p in output.glob("*") if p.is_dir())
    found = False
    for folder in systems:
        for v in versions(folder):
            try:
                r = _load_report(folder / f"v{v}")
            except AuditError:
                click.echo(f"{_relative(folder / f'v{v}')}  (unreadable report.json)")
                continue
            found = True
            s = r.get("summary", {})
            click.echo(
                f"{_relative(folder / f'v{v}'):<36} {r['outcome'].upper():<5} {r['created_at']}  "
                f"{s.get('failed', 0)} failed, {s.get('warned', 0)} warnings  id {r['report_id'][:8]}"
            )
    if not found:
        click.echo(f"no report bundles under {output}" + (f" for {name}" if name else ""))


@report.command("show")
@click.argument("bundle", type=click.Path(path_type=Path))
def report_show(bundle: Path) -> None:
    """Show a bundle's outcome and rules (BUNDLE is a folder or its report.json)."""
    _guard("report show", _report_resource(bundle))
    r = _load_report(bundle)
    subject = r["subject"]
    text, colour = _STATUS_STYLE[r["outcome"]]
    click.echo(f"{subject['name']} v{r['version']}  {click.style(text, fg=colour, bold=True)}")
    click.echo(
        f"  report id {r['report_id']}, created {r['created_at']} by {r['actor'].get('user')}"
    )
    from .report.render import artifact_ref

    for key, label in (("model", "model"), ("dataset", "dataset"), ("reference", "reference")):
        a = subject.get(key)
        if a:
            click.echo(f"  {label:<9} {artifact_ref(a)}  sha256:{a['sha256'][:12]}")
    policy = subject["policy"]
    click.echo(f"  policy    {policy['name']}@{policy['version']}  sha256:{policy['sha256'][:12]}")
    for rule in r["rules"]:
        word, col = _STATUS_STYLE.get(rule["status"], (rule["status"].upper(), None))
        click.echo(f"  {click.style(word, fg=col)}  {rule['id']}: {rule['message']}")


@report.command("open")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True
)
def report_open(bundle: Path, fmt: str) -> None:
    """Open a bundle's PDF or HTML in the desktop viewer (prints the path when there is none)."""
    import shutil
    import subprocess

    from .errors import InputError

    _guard("report open", _report_resource(bundle))
    path = _bundle_dir(bundle) / f"report.{fmt}"
    if not path.is_file():
        raise InputError(f"{path} does not exist", hint="the bundle was written with --no-pdf?")
    opener = shutil.which("xdg-open") or shutil.which("open")
    if opener and sys.stdout.isatty():
        subprocess.run([opener, str(path)], check=False)
    click.echo(str(path))


@report.command("export")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
def report_export(bundle: Path, dest: Path) -> None:
    """Copy a bundle to DEST as a zip archive (DEST ends in .zip) or a folder; never overwrites."""
    import shutil
    import zipfile

    from .errors import InputError

    folder = _bundle_dir(bundle)
    _guard("report export", _report_resource(bundle))
    if dest.exists():
        raise InputError(f"{dest} already exists", hint="choose a new destination")
    if dest.suffix == ".zip":
        tmp = dest.with_name(f".{dest.name}.partial")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.iterdir()):
                if f.is_file():
                    zf.write(f, f"{folder.parent.name}-{folder.name}/{f.name}")
        tmp.replace(dest)
    else:
        shutil.copytree(folder, dest)
    click.echo(f"exported {_relative(folder)} to {dest}")


@report.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    type=float,
    default=1e-9,
    show_default=True,
    help="Ignore metric changes at most this large.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
def report_diff(old: Path, new: Path, tolerance: float, as_json: bool) -> None:
    """What changed from bundle OLD to bundle NEW: outcome, rules, metrics (fairness,
    performance, explanations, drift, data) beyond the tolerance, and input digests (model,
    dataset, reference dataset, policy, baseline)."""
    from .errors import InputError
    from .report.diff import diff_reports

    if tolerance < 0:
        raise InputError("--tolerance must be zero or more")
    _guard("report diff", f"{_report_resource(old)},{_report_resource(new)}")
    from .contract import Report

    d = diff_reports(
        Report.model_validate(_load_report(old)),
        Report.model_validate(_load_report(new)),
        tolerance=tolerance,
    )
    click.echo(json.dumps(d.to_changes().to_json(), indent=2) if as_json else d.to_text())


@cli.group()
def policy() -> None:
    """Check policy files."""


@policy.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Validate policy FILES; exit 0 when all are valid, 2 otherwise."""
    from .policy import load_policy

    _guard("policy validate", "policy:" + ",".join(f.name for f in files))
    bad = 0
    for f in files:
        try:
            if _is_rbac_file(f):
                from .access import Rbac

                r = Rbac.load(f)
                click.echo(f"ok: {f} (access-control file, {len(r.spec.roles)} roles)")
                continue
            p = load_policy(f)
        except AuditError as exc:
            bad += 1
            click.echo(f"invalid: {exc.diagnostics()}", err=True)
        else:
            click.echo(f"ok: {f} ({p.name} {p.document.version}, {len(p.rules)} rules)")
    ctx.exit(EXIT_INPUT if bad else 0)


def _is_rbac_file(path: Path) -> bool:
    """An access-control (RBAC) file rather than a policy: `roles` and `bindings`, no apiVersion."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "apiVersion" not in data and "bindings" in data


@policy.command("show")
@click.argument("file", type=click.Path(path_type=Path))
def policy_show(file: Path) -> None:
    """Show the resolved policy FILE: every rule, inherited or not, and where it came from."""
    import yaml

    from .policy import load_policy

    _guard("policy show", f"policy:{file.name}")
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

    _guard("policy schema", "policy:schema")

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

    _guard("policy init", f"dataset:{dataset.name}")
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


@cli.group()
def keys() -> None:
    """Manage the signing identity (Ed25519 attestation key, local CA, PDF signing certificate)."""


_keys_option = click.option(
    "--keys",
    "keys_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Identity folder [default: .audit/keys, or $AUDIT_HOME/keys].",
)
_passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the passphrase that encrypts the private keys (else $AUDIT_KEY_PASSPHRASE).",
)


@keys.command("init")
@_keys_option
@_passphrase_option
@click.option("--name", "common_name", required=True, help="Signer name in the certificate.")
@click.option("--valid-days", type=click.IntRange(min=1), default=365, show_default=True)
def keys_init(
    keys_dir: Path | None, passphrase_file: Path | None, common_name: str, valid_days: int
) -> None:
    """Create a signing identity (private keys written 0600, optionally encrypted)."""
    from .signing import init_identity

    folder = _keys_dir(keys_dir)
    _guard("keys init", "keys")
    ident = init_identity(
        folder,
        common_name=common_name,
        passphrase=_passphrase(passphrase_file),
        valid_days=valid_days,
    )
    click.echo(f"created signing identity in {_relative(folder)}  key id {ident.keyid}")


@keys.command("export")
@_keys_option
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the public keyring (JSON).",
)
def keys_export(keys_dir: Path | None, out: Path) -> None:
    """Write the public keyring that verifiers trust (no private keys)."""
    from .signing import export_keyring

    _guard("keys export", "keys")
    ring = export_keyring(_keys_dir(keys_dir), out)
    click.echo(f"wrote {out} ({len(ring.keys)} key(s)); give it to whoever verifies your reports")


@keys.command("rotate")
@_keys_option
@_passphrase_option
@click.option("--valid-days", type=click.IntRange(min=1), default=365, show_default=True)
def keys_rotate(keys_dir: Path | None, passphrase_file: Path | None, valid_days: int) -> None:
    """Replace the signing keys; the new key is announced in a statement signed by the old one."""
    from .signing import rotate_identity

    _guard("keys rotate", "keys")
    rot = rotate_identity(
        _keys_dir(keys_dir), passphrase=_passphrase(passphrase_file), valid_days=valid_days
    )
    click.echo(f"rotated {rot.old_keyid[:16]} -> {rot.new_keyid[:16]}; statement: {rot.statement}")
    click.echo("export the keyring again and send it to verifiers")


@cli.command(epilog=EPILOG)
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--keyring",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The public keyring you trust (never a key found in or beside the bundle).",
)
@click.option(
    "--no-rollback-check",
    is_flag=True,
    help="Do not require BUNDLE to be the latest version beside it.",
)
@click.pass_context
def verify(ctx: click.Context, bundle: Path, keyring: Path, no_rollback_check: bool) -> None:
    """Verify a report bundle's attestation, file digests and PDF signature (exit 0 intact, 3 not)."""
    from .signing import latest_version_beside, verify_bundle

    folder = _bundle_dir(bundle)
    _guard("verify", _report_resource(folder))
    latest = None if no_rollback_check else latest_version_beside(folder)
    result = verify_bundle(folder, keyring, latest_version=latest)
    if result.ok:
        click.echo(f"ok: {_relative(folder)} is intact and signed by key {str(result.keyid)[:16]}")
        ctx.exit(0)
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    click.echo(
        f"FAILED: {_relative(folder)} does not verify ({len(result.problems)} problem(s))", err=True
    )
    ctx.exit(EXIT_INTEGRITY)


@cli.command(epilog=EPILOG)
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--keyring",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Keyring to verify the bundle with [default: the local identity's].",
)
@click.option("--note", default="", help="Why it is approved (recorded).")
@_keys_option
@_passphrase_option
def approve(
    bundle: Path,
    keyring: Path | None,
    note: str,
    keys_dir: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Approve a verified, passing report for deployment (needs report:approve)."""
    from .approval import approve as record_approval
    from .signing import export_keyring, load_identity

    folder = _bundle_dir(bundle)
    actor = _guard("approve", _report_resource(folder))
    ident = load_identity(_keys_dir(keys_dir), _passphrase(passphrase_file))
    ring: Any = keyring or export_keyring(ident, _home() / "keys" / "keyring.json")
    out = record_approval(folder, _home(), ident, ring, approver=actor.label, note=note)
    click.echo(f"approved {_relative(folder)} as {actor.label}; signed approval: {_relative(out)}")


@cli.command(epilog=EPILOG)
@click.option("--model", "model_ref", required=True, help="The registered model, name@version.")
@click.option(
    "--policy",
    "policy_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The policy in force now (a report judged under another policy does not count).",
)
@click.option(
    "--output",
    "reports",
    default="reports",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The reports folder.",
)
@click.option(
    "--keyring",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Keyring to verify reports and approvals [default: the local identity's].",
)
@click.option(
    "--max-age-days",
    type=click.IntRange(min=1),
    default=365,
    show_default=True,
    help="Reports older than this are stale.",
)
@click.pass_context
def gate(
    ctx: click.Context,
    model_ref: str,
    policy_file: Path,
    reports: Path,
    keyring: Path | None,
    max_age_days: int,
) -> None:
    """Exit 0 only if an approved, verified, passing report exists for this exact model digest
    under the current policy; else exit 1 with the reason (none, failed, not approved, stale,
    policy changed, unverified)."""
    from datetime import timedelta

    from .approval import gate as decide
    from .errors import InputError
    from .policy import load_policy
    from .signing import export_keyring
    from .spec import REF_PATTERN

    m = REF_PATTERN.match(model_ref)
    if not m:
        raise InputError(
            f"--model {model_ref!r} is not name@version", hint="for example adult-gbm@1"
        )
    _guard("gate", f"model:{model_ref}")
    artifact = _registry().get("model", m["name"], m["version"])
    _registry().path_of(artifact)  # the registered bytes must still match their digest
    policy_obj = load_policy(policy_file)
    if keyring is None:
        keyring = _home() / "keys" / "keyring.json"
        export_keyring(_keys_dir(None), keyring)
    d = decide(
        artifact.sha256,
        policy_obj.sha256,
        reports,
        _home(),
        keyring,
        max_age=timedelta(days=max_age_days),
    )
    if d.allowed:
        click.echo(f"gate open: {d.message}")
        ctx.exit(0)
    click.echo(f"gate closed ({d.reason}): {d.message}", err=True)
    ctx.exit(EXIT_FAIL)


@cli.group()
def log() -> None:
    """Read, export and verify the tamper-evident access log (.audit/access.db)."""


def _log_keys() -> dict[str, Any]:
    """Keys trusted for checkpoints: the local identity's, and $AUDIT_KEYRING's."""
    return _trusted_token_keys(_home())


@log.command("show")
@click.option("--actor", help="Only this actor (glob pattern).")
@click.option("--action", help="Only this action (glob pattern, e.g. 'report:*').")
@click.option("--resource", help="Only this resource (glob pattern).")
@click.option("--decision", type=click.Choice(["allow", "deny"]))
@click.option("--since", help="ISO time, e.g. 2026-11-01 or 2026-11-01T12:00:00Z.")
@click.option("--until", help="ISO time.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def log_show(
    actor: str | None,
    action: str | None,
    resource: str | None,
    decision: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Show access-log entries, oldest first."""
    from .access import LogFilter

    _guard("log show", "log")
    where = LogFilter(
        since=_when(since, "--since"),
        until=_when(until, "--until"),
        actor=actor,
        action=action,
        resource=resource,
        decision=decision,  # type: ignore[arg-type]
    )
    for e in _Access.ctx.log.entries(where):
        if as_json:
            click.echo(json.dumps({**json.loads(e.body()), "hash": e.hash}))
        else:
            word = click.style(e.decision.upper(), fg="green" if e.decision == "allow" else "red")
            click.echo(
                f"{e.seq:>6} {e.time} {e.actor:<16} {word:<5} {e.action:<16} {e.resource}  {e.reason}"
            )


def _when(text: str | None, option: str) -> Any:
    from datetime import UTC, datetime

    from .errors import InputError

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{option} {text!r} is not an ISO date or time", hint="e.g. 2026-11-01T12:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@log.command("export")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@_passphrase_option
def log_export(out: Path, passphrase_file: Path | None) -> None:
    """Export the log as JSON Lines with a freshly signed checkpoint (keep it somewhere else)."""
    from .errors import InputError
    from .signing import load_identity

    _guard("log export", "log")
    if out.exists():
        raise InputError(f"{out} already exists", hint="choose a new file name")
    checkpoint = None
    if (_home() / "keys" / "identity.json").is_file():
        ident = load_identity(_home() / "keys", _passphrase(passphrase_file))
        checkpoint = _Access.ctx.log.checkpoint(ident.attestation_key)
    tmp = out.with_name(f".{out.name}.partial")
    with tmp.open("wb") as fh:
        n = _Access.ctx.log.export(fh, checkpoint)
    tmp.replace(out)
    signed = (
        f", checkpoint of size {checkpoint.size} signed"
        if checkpoint
        else ", no signing key: unsigned"
    )
    click.echo(f"exported {n} entries to {out}{signed}")


@log.command("verify")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A checkpoint held elsewhere: a log export, an attestation.json, or a checkpoint JSON.",
)
@click.pass_context
def log_verify(ctx: click.Context, checkpoints: tuple[Path, ...]) -> None:
    """Verify the chain and every checkpoint (exit 3 naming the first bad entry)."""
    from .access import Checkpoint

    _guard("log verify", "log")
    external = [Checkpoint.from_dict(cp) for path in checkpoints for cp in _checkpoints_in(path)]
    result = _Access.ctx.log.verify(_log_keys(), external)
    if result.ok:
        click.echo(f"ok: {result.entries} entries, {result.checkpoints} checkpoints verify")
        ctx.exit(0)
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    click.echo(
        f"FAILED: the access log does not verify (first bad entry: {result.first_bad_seq})",
        err=True,
    )
    ctx.exit(EXIT_INTEGRITY)


def _checkpoints_in(path: Path) -> list[dict[str, Any]]:
    """Checkpoints found in a log export, a bundle's attestation.json, or a checkpoint file."""
    import base64

    from .errors import InputError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    found: list[dict[str, Any]] = []
    for line in text.splitlines() if path.suffix == ".jsonl" else [text]:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "payload" in doc and "payloadType" in doc:  # DSSE envelope
            statement = json.loads(base64.b64decode(doc["payload"]))
            cp = statement.get("predicate", {}).get("checkpoint")
            if cp:
                found.append(cp)
        elif isinstance(doc, dict) and isinstance(doc.get("checkpoint"), dict):
            found.append(doc["checkpoint"])
        elif isinstance(doc, dict) and doc.get("kind") and "root" in doc:
            found.append(doc)
    if not found:
        raise InputError(f"{path} holds no access-log checkpoint")
    return found


@cli.group()
def token() -> None:
    """Signed tokens for CI runners acting under a named service identity."""


@token.command("issue")
@click.option("--user", "subject", required=True, help="The service identity (e.g. ci-bot).")
@click.option(
    "--roles", required=True, help="Comma-separated roles (bound to the service in rbac.yaml)."
)
@click.option("--expires", default="7d", show_default=True, help="Lifetime: 90s, 15m, 12h, 7d, 2w.")
@_keys_option
@_passphrase_option
def token_issue(
    subject: str, roles: str, expires: str, keys_dir: Path | None, passphrase_file: Path | None
) -> None:
    """Print an EdDSA-signed token; the runner passes it as $AUDIT_TOKEN."""
    from .access import issue_token, parse_duration
    from .signing import load_identity

    _guard("token issue", f"service:{subject}")
    ident = load_identity(_keys_dir(keys_dir), _passphrase(passphrase_file))
    role_list = [r.strip() for r in roles.split(",") if r.strip()]
    click.echo(
        issue_token(
            ident.attestation_key,
            subject=subject,
            roles=role_list,
            expires_in=parse_duration(expires),
        )
    )


@cli.group()
def rbac() -> None:
    """Role-based access control: who may do what (deny by default)."""


@rbac.command("init")
def rbac_init() -> None:
    """Create $AUDIT_HOME/rbac.yaml binding the current OS account as admin (only if none exists)."""
    from .access import AccessLog, bootstrap_rbac
    from .errors import InputError

    home = _home()
    if (home / "rbac.yaml").exists():
        raise InputError(f"{home / 'rbac.yaml'} already exists", hint="edit it, or audit rbac show")
    home.mkdir(parents=True, exist_ok=True)
    r = bootstrap_rbac(home, AccessLog(home / "access.db"))
    click.echo(f"wrote {r.source}; the current OS account is admin")


@rbac.command("show")
def rbac_show() -> None:
    """Print the RBAC file in force and its digest."""
    _guard("rbac show", "rbac")
    r = _Access.ctx.rbac
    click.echo(f"# {r.source}  sha256:{r.sha256}")
    click.echo(Path(r.source).read_text(encoding="utf-8"), nl=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every outcome to a documented exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    _Access.ctx = None  # one access context per invocation (tests call main() repeatedly)
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
