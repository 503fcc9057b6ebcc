"""Model loaders, one per format, chosen by the file's content (never its extension)."""

from __future__ import annotations

from pathlib import Path

from ..digest import sha256_file
from ..errors import InputError
from .interface import LoadedModel, ModelLoader
from .skops_loader import TRUSTED_TYPES, SkopsLoader

LOADERS: tuple[ModelLoader, ...] = (SkopsLoader(),)

_REFUSED = (
    (b"\x80", "a Python pickle"),
    (b"x\x9c", "a zlib-compressed (joblib) pickle"),
)


def detect_format(path: Path) -> str:
    """Name the model format of ``path`` from its content; InputError if unknown or unsafe."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except FileNotFoundError:
        raise InputError(
            f"model file {path} does not exist", hint="check the `model` path"
        ) from None
    except OSError as exc:
        raise InputError(f"model file {path} cannot be read: {exc}") from None
    for loader in LOADERS:
        if loader.detect(head, path):
            return loader.format
    for magic, what in _REFUSED:
        if head.startswith(magic):
            raise InputError(
                f"{path} is {what}; audit refuses pickle-based model files because loading one "
                "runs whatever code it contains",
                hint="save scikit-learn models with skops.io.dump(model, 'model.skops')",
            )
    if head.startswith(b"PK"):
        raise InputError(
            f"{path} is a zip archive but not a skops file (PyTorch and similar archives hold "
            "pickles, which audit refuses)",
            hint="save scikit-learn models with skops.io.dump",
        )
    raise InputError(
        f"{path}: unrecognised model format",
        hint="audit loads scikit-learn models saved with skops.io.dump (.skops)",
    )


def load_model(path: Path, sha256: str | None = None) -> LoadedModel:
    """Load the model at ``path`` with the loader its content calls for."""
    fmt = detect_format(path)
    digest = sha256 or sha256_file(path)
    loader = next(ld for ld in LOADERS if ld.format == fmt)
    return loader.load(path, digest)


__all__ = ["LOADERS", "TRUSTED_TYPES", "LoadedModel", "detect_format", "load_model"]
