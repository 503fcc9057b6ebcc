"""Loading what an audit judges: the model (a file, a registry entry or an MLflow URI), the
baseline report, and the checks that need both before any data is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import contract
from ..bundles import read_report
from ..errors import InputError
from ..loaders import LoadedModel, load_model
from ..readonce import PrivateCopies, named_as_source
from ..registry.resolve import Artifacts
from ..spec import ResolvedSpec


def _load_model(
    resolved: ResolvedSpec, artifacts: Artifacts, allow_pickle_digest: str | None
) -> tuple[LoadedModel, dict[str, Any]]:
    """Load the spec's model from a path, the registry or an MLflow registry, and describe it."""
    ref = resolved.model
    assert ref is not None
    info: dict[str, Any]
    if ref.endpoint:
        from ..loaders.endpoint_loader import load_endpoint

        _check_endpoint(resolved)
        model, info = load_endpoint(ref, resolved.spec.endpoint, base=resolved.base)
    elif ref.uri is not None:
        from ..loaders.mlflow_loader import load_model_uri

        ml = resolved.spec.mlflow
        model = load_model_uri(
            ref.uri,
            tracking_uri=ml.tracking_uri if ml else None,
            registry_uri=ml.registry_uri if ml else None,
        )
        info = {
            "name": ref.name or ref.uri,
            "version": ref.version,
            "sha256": model.sha256,
            "source": "mlflow",
            "path": ref.uri,
        }
    else:
        if allow_pickle_digest and not ref.is_registered:
            raise InputError(
                "--allow-pickle applies only to a registered model (its digest is pinned in the "
                "registry); a model given by path is never unpickled",
                hint="register it: audit registry add-model --allow-pickle ..., then use name@version",
            )
        copied, info = artifacts.resolve(ref, "model", "model")
        with named_as_source(copied, ref.display()):
            model = load_model(copied.path, copied.sha256, allow_pickle_digest=allow_pickle_digest)
    info["format"] = model.format
    info["estimator"] = model.description
    if getattr(model, "unsafe", False):
        info["unsafe_format"] = True
    return model, info


def _check_endpoint(resolved: ResolvedSpec) -> None:
    """What an endpoint model cannot be audited with."""
    spec = resolved.spec
    if spec.engine.backend == "dask":
        raise InputError(
            "engine: dask cannot audit a model behind an endpoint: every worker would call it, "
            "and endpoint.requests_per_second would hold per worker, not for the audit",
            hint="use engine: stream (or memory) for an endpoint model",
        )
    if spec.explain.rows == "adverse":
        raise InputError(
            "explain.rows: adverse needs the model's own explainer for every adverse decision; "
            "a model behind an endpoint is explained on the explanation sample only",
            hint="remove explain.rows, or audit the model from its file",
        )


def _finish_model_info(model: LoadedModel | None, info: dict[str, Any] | None) -> None:
    """After the audit: an endpoint model's digest and calls go into its description."""
    if model is not None and info is not None and info.get("source") == "endpoint":
        from ..loaders.endpoint_loader import finish_endpoint

        finish_endpoint(model, info)


def _check_adverse(model: LoadedModel | None, reason_codes: Any) -> None:
    """``explain.rows: adverse`` needs a model to explain and reason codes to word it."""
    if model is None:
        raise InputError(
            "explain.rows: adverse gives reasons for a model's adverse decisions, but this audit "
            "judges recorded decisions (no model)",
            hint="name the model in the spec, or remove explain.rows",
        )
    if reason_codes is None:
        raise InputError(
            "explain.rows: adverse needs a reason-code file: reasons must be given in words",
            hint="set explain.reason_codes in the spec (examples: policies/reason-codes/), or "
            "use a policy pack that names one",
        )


def _load_baseline(
    path: Path | None, copies: PrivateCopies
) -> tuple[contract.Report | None, dict[str, Any] | None]:
    """The baseline report and its identity, or (None, None) when no baseline was given."""
    if path is None:
        return None, None
    if not path.is_file():
        raise InputError(
            f"baseline report {path} does not exist",
            hint="give a report.json, a bundle folder, or <name>@<N> for version N in the output folder",
        )
    copied = copies.copy(path)  # read once: the digest is of the report that was read
    try:
        with named_as_source(copied):
            typed = read_report(copied.path)
    except InputError as exc:
        raise InputError(f"baseline report: {exc.message}", hint=exc.hint) from None
    info = {
        "report_id": typed.report_id,
        "version": typed.version,
        "created_at": typed.created_at,
        "sha256": copied.sha256,
        "path": str(path),
    }
    return typed, info


def _load_history(output: Path, name: str) -> tuple[Any, ...]:
    """The system's latest published versions in the output folder, oldest first (at most
    ``audit.policy.trend.HISTORY``); an unreadable report.json is left out."""
    from ..bundles import BundleStore
    from ..errors import AuditError
    from ..policy.trend import HISTORY, Published

    store = BundleStore(output)
    history = []
    for version in store.versions(name)[-HISTORY:]:
        try:
            bundle = store.open(name, version)
            history.append(Published(bundle.report, bundle.report_sha256()))
        except AuditError:
            continue
    return tuple(history)
