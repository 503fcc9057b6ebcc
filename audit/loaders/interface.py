"""What a model loader gives the audit: an estimator with predict (and maybe predict_proba).

Every loader returns a :class:`LoadedModel` whose ``estimator`` offers, on a pandas DataFrame of
the dataset's feature columns: ``predict`` (class labels), ``predict_proba`` where the model has
probabilities, ``classes_`` for classifiers and ``feature_names_in_`` where the file names its
inputs. Native boosters and ONNX sessions are wrapped in small adapters (one per loader file) that
provide exactly that interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to audit, and what is known about where it came from.

    ``unsafe`` is True only for a pickle/joblib file loaded by explicit opt-in for a pinned digest:
    the report's first page must say so.
    """

    estimator: Any
    format: str
    sha256: str
    path: Path
    unsafe: bool = False

    @property
    def description(self) -> str:
        """``Pipeline(HistGradientBoostingClassifier)``-style summary of the estimator."""
        est = self.estimator
        steps = getattr(est, "steps", None)
        if steps:
            return f"{type(est).__name__}({type(steps[-1][1]).__name__})"
        return getattr(est, "description", None) or type(est).__name__

    @property
    def feature_names(self) -> list[str] | None:
        names = getattr(self.estimator, "feature_names_in_", None)
        return [str(n) for n in names] if names is not None else None


class ModelLoader(Protocol):
    """One implementation per model format."""

    format: str

    def detect(self, head: bytes, path: Path) -> bool:
        """True when the file's leading bytes (and structure) are this loader's format.

        Must not execute anything from the file: read bytes, inspect zip directories, parse
        JSON or protobuf, nothing more.
        """

    def load(self, path: Path, sha256: str) -> LoadedModel:
        """Load the model; raise InputError with a clear message when it cannot be loaded safely."""
