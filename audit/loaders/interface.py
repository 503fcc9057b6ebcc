"""What a model loader gives the audit: an estimator with predict (and maybe predict_proba)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to audit, and what is known about where it came from."""

    estimator: Any
    format: str
    sha256: str
    path: Path

    @property
    def description(self) -> str:
        """``Pipeline(HistGradientBoostingClassifier)``-style summary of the estimator."""
        est = self.estimator
        steps = getattr(est, "steps", None)
        if steps:
            return f"{type(est).__name__}({type(steps[-1][1]).__name__})"
        return type(est).__name__

    @property
    def feature_names(self) -> list[str] | None:
        names = getattr(self.estimator, "feature_names_in_", None)
        return [str(n) for n in names] if names is not None else None


class ModelLoader(Protocol):
    """One implementation per model format."""

    format: str

    def detect(self, head: bytes, path: Path) -> bool:
        """True when the file's leading bytes (and structure) are this loader's format."""

    def load(self, path: Path, sha256: str) -> LoadedModel:
        """Load the model; raise InputError with a clear message when it cannot be loaded safely."""
