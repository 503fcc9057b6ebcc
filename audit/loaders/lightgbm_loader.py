"""LightGBM models in LightGBM's text format, wrapped for the audit.

``booster.save_model("model.txt")`` writes trees and parameters as text: loading it runs only
LightGBM's parser, never Python code. Recognised by content (the file starts with ``tree`` and a
``version=`` line). A complete file ends its trees with ``end of trees``; a file without it is
truncated and refused before LightGBM sees it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .interface import LoadedModel
from .isolate import probe

_HEAD = re.compile(rb"^tree\r?\nversion=v\d+\r?\n")


def _chunks(n: int, size: int = 1_000_000) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)] or [slice(0, 0)]


class LightGBMModel:
    """A native ``lightgbm.Booster`` with the scikit-learn-style interface the audit uses.

    ``booster`` is the underlying ``lightgbm.Booster`` (TreeSHAP explains it directly);
    ``decision_function`` is the raw score (log-odds of ``classes_[1]`` for binary models).
    Columns LightGBM was trained on as pandas categoricals are cast back to those categories.
    """

    def __init__(self, booster: Any, objective: str, num_class: int) -> None:
        self.booster = booster
        self.objective = objective
        self.feature_names_in_ = np.asarray(booster.feature_name(), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        cat_index = _categorical_indices(booster)
        cats = booster.pandas_categorical or []
        self.categories_ = {
            str(self.feature_names_in_[i]): list(values)
            for i, values in zip(cat_index, cats, strict=False)
        }
        self.feature_types_ = {
            str(n): ("category" if str(n) in self.categories_ else "float")
            for n in self.feature_names_in_
        }
        kind = objective.split(" ", 1)[0]
        if kind in ("binary", "cross_entropy"):
            self.classes_ = np.array([0, 1])
        elif kind in ("multiclass", "multiclassova"):
            self.classes_ = np.arange(num_class)
        self.description = f"lightgbm.Booster({kind})"

    @property
    def is_classifier(self) -> bool:
        return hasattr(self, "classes_")

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.loc[:, list(self.feature_names_in_)]
        if self.categories_:
            X = X.copy()
            for col, values in self.categories_.items():
                # as LightGBM does for pandas input: unseen categories become missing
                X[col] = X[col].astype("category").cat.set_categories(values)
        return X

    def _raw(self, X: pd.DataFrame, **kwargs: Any) -> np.ndarray:
        parts = [
            np.asarray(self.booster.predict(self._frame(X.iloc[s]), **kwargs))
            for s in _chunks(len(X))
        ]
        return np.concatenate(parts, axis=0)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self._raw(X, raw_score=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if not self.is_classifier:
            raise AttributeError("a regression booster has no predict_proba")
        p = self._raw(X)
        return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if not self.is_classifier:
            return self._raw(X)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _categorical_indices(booster: Any) -> list[int]:
    raw = str(booster.params.get("categorical_feature", "") or "")
    if not raw:
        return []
    return sorted(int(i) for i in re.findall(r"\d+", raw))


class LightGBMLoader:
    format = "lightgbm"

    def detect(self, head: bytes, path: Path) -> bool:
        return bool(_HEAD.match(head))

    def load(self, path: Path, sha256: str) -> LoadedModel:
        import lightgbm

        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError) as exc:
            raise InputError(
                f"{path}: the LightGBM model is not readable text ({exc})",
                hint="save the model again with booster.save_model('model.txt')",
            ) from None
        if "end of trees" not in text:
            raise InputError(
                f"{path}: the LightGBM model has no 'end of trees' line; it is truncated",
                hint="copy or save the model again with booster.save_model('model.txt')",
            )
        probe(
            "LightGBM",
            path,
            hint="the file may be corrupted; save it again with booster.save_model('model.txt')",
        )
        try:
            booster = lightgbm.Booster(model_str=text)
        except (lightgbm.basic.LightGBMError, ValueError) as exc:
            raise InputError(
                f"{path}: not a loadable LightGBM model ({' '.join(str(exc).split())[:300]})",
                hint="the file may be corrupted; save it again with booster.save_model",
            ) from None
        objective = _field(text, "objective") or booster.params.get("objective", "")
        num_class = int(_field(text, "num_class") or 1)
        return LoadedModel(LightGBMModel(booster, objective, num_class), self.format, sha256, path)


def _field(text: str, key: str) -> str | None:
    m = re.search(rf"^{key}=(.*)$", text[:65536], re.MULTILINE)
    return m.group(1).strip() if m else None
