"""Model loaders, one per format, chosen by the file's content (never its extension).

Accepted by default, because loading them parses data and runs no code from the file:

- ``skops``: scikit-learn estimators and pipelines (skops.io, fixed reviewed allow-list);
- ``xgboost``: XGBoost JSON or UBJSON (``booster.save_model``);
- ``lightgbm``: LightGBM text (``booster.save_model``);
- ``onnx``: ONNX graphs run with onnxruntime (external data confined to the model's folder).

Refused by default: pickle and joblib files (plain or compressed) and zip archives holding
pickles (PyTorch ``.pt``), because loading them runs arbitrary code. A registered model's pickle
may be loaded by explicit opt-in for its pinned digest (``allow_pickle_digest``); see
:mod:`audit.loaders.pickle_loader`. MLflow registry URIs (``models:/<name>/<version>``) are
resolved by :func:`audit.loaders.mlflow_loader.load_model_uri` (optional ``mlflow`` extra).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..digest import sha256_file
from ..errors import InputError
from .interface import LoadedModel, ModelLoader
from .lightgbm_loader import LightGBMLoader, LightGBMModel
from .onnx_loader import ONNXLoader, ONNXModel
from .pickle_loader import USE_INSTEAD, WHY_REFUSED, load_pickle, pickle_kind, refusal
from .skops_loader import TRUSTED_TYPES, SkopsLoader
from .xgboost_loader import XGBoostLoader, XGBoostModel

LOADERS: tuple[ModelLoader, ...] = (SkopsLoader(), XGBoostLoader(), LightGBMLoader(), ONNXLoader())

#: Every format name ``detect_format`` can return.
FORMATS: tuple[str, ...] = (*(ld.format for ld in LOADERS), "pickle")

_HEAD_BYTES = 64


def detect_format(path: Path, *, allow_pickle: bool = False) -> str:
    """Name the model format of ``path`` from its content; InputError if unknown or unsafe.

    Reads the leading bytes and, for zip files, the directory; never executes the file.
    Pickle-based files are refused unless ``allow_pickle`` (then ``"pickle"`` is returned, e.g.
    for registering a model that will only be loaded with a pinned digest).
    """
    if path.is_dir():
        raise InputError(
            f"model {path} is a folder, not a model file",
            hint="point at the model file itself (.skops, .json, .ubj, .txt, .onnx)",
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except FileNotFoundError:
        raise InputError(
            f"model file {path} does not exist", hint="check the `model` path"
        ) from None
    except OSError as exc:
        raise InputError(f"model file {path} cannot be read: {exc}") from None
    if not head:
        raise InputError(f"model file {path} is empty", hint="copy or export the model again")
    for loader in LOADERS:
        if loader.detect(head, path):
            return loader.format
    kind = pickle_kind(head, path)
    if kind is not None:
        if allow_pickle:
            return "pickle"
        raise refusal(path, kind)
    if head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            raise InputError(
                f"{path} starts like a zip archive (skops) but its directory cannot be read; "
                "it is truncated or corrupted",
                hint="copy or export the model again with skops.io.dump",
            )
        raise InputError(
            f"{path} is a zip archive but not a skops file (no schema.json)",
            hint="save scikit-learn models with skops.io.dump(model, 'model.skops')",
        )
    raise InputError(
        f"{path}: unrecognised model format",
        hint="audit loads skops (.skops), XGBoost JSON/UBJSON, LightGBM text and ONNX models; "
        + USE_INSTEAD,
    )


def load_model(
    path: Path, sha256: str | None = None, *, allow_pickle_digest: str | None = None
) -> LoadedModel:
    """Load the model at ``path`` with the loader its content calls for.

    ``allow_pickle_digest``: the caller's explicit opt-in to load a pickle/joblib file. Pass it
    only for a registered model (the registry has verified the stored file's digest) and only
    when the user pinned that digest (``--allow-pickle SHA256``). The file must be the registry's
    content-addressed copy (named by its digest) and its sha256 must equal the pinned digest;
    the result has ``format == "pickle"`` and ``unsafe`` set.
    """
    fmt = detect_format(path, allow_pickle=allow_pickle_digest is not None)
    if fmt == "pickle":
        assert allow_pickle_digest is not None
        pinned = allow_pickle_digest.strip().lower().removeprefix("sha256:")
        actual = sha256_file(path)
        if actual != pinned:
            raise InputError(
                f"{path} is a pickle whose sha256 {actual} is not the pinned digest {pinned}. "
                f"{WHY_REFUSED}",
                hint="pin the digest of the registered model you reviewed, or " + USE_INSTEAD,
            )
        if path.name != actual:
            raise InputError(
                f"{path}: a pickle is loaded only for a registered model (the registry's "
                "content-addressed copy), never from a path",
                hint="register the reviewed model with `audit registry add-model` and audit it "
                "by name@version with --allow-pickle SHA256",
            )
        return load_pickle(path, actual)
    digest = sha256 or sha256_file(path)
    loader = next(ld for ld in LOADERS if ld.format == fmt)
    return loader.load(path, digest)


__all__ = [
    "FORMATS",
    "LOADERS",
    "TRUSTED_TYPES",
    "LightGBMModel",
    "LoadedModel",
    "ONNXModel",
    "XGBoostModel",
    "detect_format",
    "load_model",
]
