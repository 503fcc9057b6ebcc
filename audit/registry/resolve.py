"""A model or dataset reference turned into one private, hashed copy and its description.

Whatever the reference (a path, or a registry ``name@version``), the audit reads the artifact
exactly once: into a private copy (:mod:`audit.readonce`) whose digest is computed from the bytes
copied. The report's digest and the loaded bytes are therefore the same bytes, whoever rewrites
the source, the registry's stored object or a symlink on the way after the copy is made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..data import read_table
from ..errors import InputError
from ..names import check_name
from ..readonce import Copied, PrivateCopies, named_as_source
from ..spec import Ref, ResolvedSpec
from .store import Kind, Registry


def resolve_artifact(
    ref: Ref, kind: Kind, registry: Registry | None, copies: PrivateCopies
) -> tuple[Copied, dict[str, Any]]:
    """The private copy to load for ``ref`` and its subject description (``name``, ``version``,
    ``sha256`` of the copied bytes, ``source``, ``path``; a registered entry's metadata).

    A registered artifact's copy is checked against its registered digest (IntegrityError,
    exit 3, if the stored file was altered) and named by that digest.
    """
    if ref.path is not None:
        path: Path = ref.path
        if not path.exists() and not path.is_symlink():
            raise InputError(
                f"{kind} file {path} does not exist",
                hint=f"check the `{kind}` path, or use a registered name@version",
            )
        copied = copies.copy(path)
        return copied, {
            "name": path.stem,
            "version": None,
            "sha256": copied.sha256,
            "source": "path",
            "path": path.name,
        }
    if registry is None:
        raise InputError(f"{kind} {ref.display()} refers to the registry, but none was given")
    assert ref.name is not None and ref.version is not None
    art = registry.get(kind, ref.name, ref.version)
    copied = registry.copy_out(art, copies)
    info: dict[str, Any] = {
        "name": art.name,
        "version": art.version,
        "sha256": copied.sha256,
        "source": "registry",
        "path": art.original_name,
    }
    if art.metadata:
        info["metadata"] = dict(art.metadata)
    return copied, info


class Artifacts:
    """One run's private copies (read once, hashed while copied), and the hook told of each
    copy before it is loaded; ``copies`` is closed by the run."""

    def __init__(
        self, registry: Registry | None, on_artifact: Callable[[str, Copied], None] | None
    ) -> None:
        self.registry = registry
        self.copies = PrivateCopies()
        self.on_artifact = on_artifact

    def resolve(self, ref: Ref, kind: Kind, role: str) -> tuple[Copied, dict[str, Any]]:
        copied, info = resolve_artifact(ref, kind, self.registry, self.copies)
        if self.on_artifact is not None:
            self.on_artifact(role, copied)
        return copied, info

    def read_table(self, copied: Copied, ref: Ref, **kwargs: Any) -> pd.DataFrame:
        with named_as_source(copied, ref.display()):
            return read_table(copied.path, **kwargs)


def system_name(resolved: ResolvedSpec) -> str:
    """The audited system's name: the spec's ``name``, else the model's (a file's stem, a
    registry or MLflow name), else the dataset's registry name, else ``audit``.

    A derived name names the bundle's folder, so it must be a plain name (``...skops`` has the
    stem ``..``): InputError (exit 2) asking for ``name:`` otherwise.
    """
    spec = resolved.spec
    if spec.name is not None:
        return spec.name
    ref = resolved.model
    if ref is not None and ref.path is not None:
        name, source = ref.path.stem, f"the stem of the model file {ref.path.name!r}"
    elif ref is not None:
        name, source = ref.name or "", f"the model reference {ref.display()!r}"
    elif resolved.dataset.is_registered and resolved.dataset.name:
        name, source = resolved.dataset.name, f"the dataset {resolved.dataset.display()!r}"
    else:
        return "audit"
    return check_name(
        name,
        f"the system name (taken from {source})",
        hint="set `name:` in the audit spec (or --name) to a plain name such as credit-model",
    )
