"""Models from an MLflow model registry: ``models:/<name>/<version>`` (optional ``mlflow`` extra).

MLflow's own ``load_model`` unpickles most flavors (scikit-learn is stored as a pickle or
cloudpickle), so audit never calls it. Instead it asks the registry for the version's artifact
folder, downloads the files (no loading), reads the ``MLmodel`` file with the strict YAML loader to
find the model file, and loads that file with audit's own content-detected loaders. Models logged
in a safe format (XGBoost JSON/UBJ, LightGBM text, ONNX, a ``.skops`` file) audit normally; a
pickled model is refused with the usual explanation (it is not a registered audit artifact, so
the pinned-digest opt-in does not apply).
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..names import check_name
from ..safefs import is_plain_dir, is_plain_file
from ..yamlio import read_yaml
from .interface import LoadedModel

URI_PATTERN = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[0-9]+)$")
#: Files an MLflow model folder holds beside the model itself.
_METADATA = frozenset(
    {
        "MLmodel",
        "conda.yaml",
        "python_env.yaml",
        "requirements.txt",
        "input_example.json",
        "serving_input_example.json",
        "registered_model_meta",
        "README.md",
    }
)
#: Keys of an ``MLmodel`` flavor that name the model's data file or folder.
_DATA_KEYS = ("data", "pickled_model", "model_data", "model_path", "skops_model")


def is_model_uri(value: str) -> bool:
    """True for ``models:/<name>/<version>``."""
    return value.startswith("models:/")


def load_model_uri(
    uri: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> LoadedModel:
    """Resolve ``models:/<name>/<version>`` in the MLflow registry and load its model file.

    ``tracking_uri`` / ``registry_uri``: the MLflow store (e.g. ``sqlite:///mlflow.db``); the
    registry defaults to the tracking store. The result's ``format`` is ``mlflow/<format>`` and
    its ``path`` is ``<name>/<version>/<file inside the model folder>``.
    """
    m = URI_PATTERN.match(uri)
    if m is None:
        raise InputError(
            f"{uri!r} is not an MLflow model URI of the form models:/<name>/<version>",
            hint="for example models:/credit-scoring/3 (aliases and stages are not accepted: "
            "an audit names one exact version)",
        )
    try:
        from mlflow.artifacts import download_artifacts
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InputError(
            f"{uri} is an MLflow registry URI, but MLflow is not installed",
            hint="install the optional extra: pip install 'audit[mlflow]'",
        ) from None
    name, version = m["name"], m["version"]
    check_name(
        name,
        f"{uri}: the MLflow model name",
        hint="audit names reports and log entries after the model: register it in MLflow "
        "under a plain name (letters, digits, '.', '_', '-')",
    )
    client = MlflowClient(tracking_uri, registry_uri=registry_uri or tracking_uri)
    with tempfile.TemporaryDirectory(prefix="audit-mlflow-") as tmp:
        try:
            client.get_model_version(name, version)
            source = client.get_model_version_download_uri(name, version)
            local = Path(
                download_artifacts(artifact_uri=source, dst_path=tmp, tracking_uri=tracking_uri)
            )
        except MlflowException as exc:
            raise InputError(
                f"{uri}: not found in the MLflow registry ({exc.message})",
                hint="check the model name, version and the tracking/registry URI",
            ) from None
        model_file = _model_file(local, uri)
        from . import load_model

        loaded = load_model(model_file)
        relative = model_file.relative_to(local.resolve()) if local.is_dir() else model_file.name
        return dataclasses.replace(
            loaded, format=f"mlflow/{loaded.format}", path=Path(name) / version / relative
        )


def _plain_files(folder: Path) -> list[Path]:
    """Regular files under ``folder``, sorted; a symlinked file or folder is refused (a
    downloaded model folder has no reason to hold one, and following it could read anything)."""
    found: list[Path] = []
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            raise InputError(
                f"the MLflow model folder holds a symbolic link ({p.relative_to(folder)}); "
                "links are not followed",
                hint="log the model's files themselves, not links to them",
            )
        if is_plain_file(p):
            found.append(p)
    return found


def _model_file(local: Path, uri: str) -> Path:
    """The one model file of a downloaded MLflow model folder (confined to that folder)."""
    if local.is_file():
        return local
    root = local.resolve()
    candidates: list[Path] = []
    mlmodel = root / "MLmodel"
    if mlmodel.is_file():
        candidates = _flavor_files(mlmodel, root, uri)
    if not candidates:
        candidates = [p for p in _plain_files(root) if p.name not in _METADATA]
    files = [p for p in dict.fromkeys(candidates) if is_plain_file(p)]
    if len(files) != 1:
        listed = ", ".join(str(p.relative_to(root)) for p in files[:10]) or "none"
        raise InputError(
            f"{uri}: cannot tell which file is the model (candidates: {listed})",
            hint="log exactly one model file (e.g. model.skops, model.json, model.txt, "
            "model.onnx) in the registered model's folder",
        )
    return files[0]


def _flavor_files(mlmodel: Path, root: Path, uri: str) -> list[Path]:
    try:
        doc: Any = read_yaml(mlmodel)[0]
    except InputError as exc:
        raise InputError(f"{uri}: its MLmodel file is not valid: {exc.message}") from None
    flavors = doc.get("flavors", {}) if isinstance(doc, dict) else {}
    found: list[Path] = []
    for flavor in flavors.values() if isinstance(flavors, dict) else []:
        if not isinstance(flavor, dict):
            continue
        for key in _DATA_KEYS:
            value = flavor.get(key)
            if not isinstance(value, str):
                continue
            target = (root / value).resolve()
            if not target.is_relative_to(root):
                raise InputError(
                    f"{uri}: its MLmodel names a model file outside the model folder ({value!r})",
                    hint="this registered model is malformed or hostile; do not use it",
                )
            if is_plain_dir(target):
                found += _plain_files(target)
            else:
                found.append(target)
    return found
