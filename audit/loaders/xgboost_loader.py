"""XGBoost models in XGBoost's own formats (JSON or UBJSON), wrapped for the audit.

``booster.save_model("model.json")`` and ``"model.ubj"`` write data, not code: the file holds
trees and parameters, and loading it runs only XGBoost's parser. (The legacy binary format and
pickled ``XGBClassifier`` objects are not accepted.) The format is recognised by content: a JSON
object whose first key is ``"learner"``, or the same in UBJSON (``{`` + length-prefixed key).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..jsonio import check_depth
from .interface import LoadedModel
from .isolate import probe

#: Objectives with one logistic output: a binary classifier with classes [0, 1].
BINARY_OBJECTIVES = frozenset({"binary:logistic", "binary:logitraw", "binary:hinge"})
#: Multi-class objectives; classes are 0 .. num_class - 1.
MULTICLASS_OBJECTIVES = frozenset({"multi:softprob", "multi:softmax"})

_UBJ_KEY = b"learner"
_UBJ_LENGTH_TYPES = (b"i", b"U", b"I", b"l", b"L")


def _chunks(n: int, size: int = 1_000_000) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)] or [slice(0, 0)]


class XGBoostModel:
    """A native ``xgboost.Booster`` with the scikit-learn-style interface the audit uses.

    ``booster`` is the underlying ``xgboost.Booster`` (TreeSHAP explains it directly).
    ``decision_function`` is the raw margin (log-odds of ``classes_[1]`` for binary models).
    Predictions are made in chunks of a million rows to bound memory on large datasets.
    """

    def __init__(self, booster: Any, objective: str, num_class: int) -> None:
        self.booster = booster
        self.objective = objective
        names = booster.feature_names
        self.feature_names_in_ = np.asarray(names, dtype=object) if names else None
        self.n_features_in_ = int(booster.num_features())
        types = booster.feature_types or []
        #: XGBoost's per-feature type: "float", "int", "i" (indicator), "q" (quantised), "c".
        self.feature_types_ = dict(zip(names or [], types, strict=False))
        if objective in BINARY_OBJECTIVES:
            self.classes_ = np.array([0, 1])
        elif objective in MULTICLASS_OBJECTIVES:
            self.classes_ = np.arange(num_class)
        self.description = f"xgboost.Booster({objective})"

    @property
    def is_classifier(self) -> bool:
        return hasattr(self, "classes_")

    def _matrix(self, X: pd.DataFrame) -> Any:
        import xgboost

        if self.feature_names_in_ is not None:
            X = X.loc[:, list(self.feature_names_in_)]
        categorical = any(t == "c" for t in self.feature_types_.values())
        return xgboost.DMatrix(X, enable_categorical=categorical)

    def _raw(self, X: pd.DataFrame, **kwargs: Any) -> np.ndarray:
        parts = [
            np.asarray(self.booster.predict(self._matrix(X.iloc[s]), **kwargs))
            for s in _chunks(len(X))
        ]
        return np.concatenate(parts, axis=0)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self._raw(X, output_margin=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if not self.is_classifier:
            raise AttributeError("a regression booster has no predict_proba")
        if self.objective == "binary:logitraw":
            p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        elif self.objective == "binary:hinge":
            p = self._raw(X).astype(float)
        else:
            p = self._raw(X)
        if p.ndim == 1:
            return np.column_stack([1.0 - p, p])
        return p

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if not self.is_classifier:
            return self._raw(X)
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class XGBoostLoader:
    format = "xgboost"

    def detect(self, head: bytes, path: Path) -> bool:
        if head.startswith(b"{"):
            text = head.lstrip(b"{ \t\r\n")
            if text.startswith(b'"learner"') or text.startswith(b'"version"'):
                return True
            # UBJSON: "{" then a length-typed key, e.g. b"{L" + 8-byte length + b"learner".
            return _UBJ_KEY in head[:32] and head[1:2] in _UBJ_LENGTH_TYPES
        return False

    def load(self, path: Path, sha256: str) -> LoadedModel:
        import xgboost

        with path.open("rb") as fh:
            second = fh.read(2)[1:2]
        if second not in _UBJ_LENGTH_TYPES:
            _check_json(path)
        else:
            probe(
                "XGBoost UBJSON",
                path,
                hint="the file may be truncated or corrupted; save it again with "
                "booster.save_model('model.ubj')",
            )
        try:
            booster = xgboost.Booster()
            # From bytes, not the path: XGBoost would pick the parser by the file's extension.
            booster.load_model(bytearray(path.read_bytes()))
            config = json.loads(booster.save_config())
        except (xgboost.core.XGBoostError, ValueError, OSError) as exc:
            raise InputError(
                f"{path}: not a loadable XGBoost model ({' '.join(str(exc).split())[:300]})",
                hint="the file may be truncated or corrupted; save it again with "
                "booster.save_model('model.json')",
            ) from None
        learner = config.get("learner", {})
        objective = learner.get("objective", {}).get("name", "")
        num_class = int(learner.get("learner_model_param", {}).get("num_class", "0") or 0)
        return LoadedModel(XGBoostModel(booster, objective, num_class), self.format, sha256, path)


def _check_json(path: Path) -> None:
    """JSON models are parsed fully first, so a truncated file gets a clear message."""
    raw = path.read_bytes()
    check_depth(raw, path)  # before json or XGBoost recurse into it
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: the XGBoost JSON model is not valid JSON ({exc}); it may be truncated",
            hint="save the model again with booster.save_model('model.json')",
        ) from None
    if not isinstance(doc, dict) or "learner" not in doc:
        raise InputError(
            f"{path}: JSON without a 'learner' object is not an XGBoost model",
            hint="save the model with booster.save_model('model.json')",
        )
