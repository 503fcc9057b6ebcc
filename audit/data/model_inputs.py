"""What a model expects of the dataset: its input columns, their order, and which must be numbers.

Read from the fitted model, never from the data: ``feature_names_in_`` / ``n_features_in_``; the
adapters' ``feature_types_`` (XGBoost, LightGBM, ONNX); and for scikit-learn pipelines the
fitted ``ColumnTransformer``: columns routed to an encoder (one-hot, ordinal, target, a text
vectorizer) may hold text, columns routed anywhere else (scalers, imputers, ``passthrough``)
must hold numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Adapter feature types that accept text or categories rather than numbers.
_NON_NUMERIC_TYPES = frozenset({"c", "category", "string"})
_ENCODERS = (
    "OneHotEncoder",
    "OrdinalEncoder",
    "TargetEncoder",
    # text inputs (a bio, a letter) turned into word counts
    "CountVectorizer",
    "TfidfVectorizer",
    "HashingVectorizer",
)


@dataclass(frozen=True)
class ModelInputs:
    """The model's input contract.

    ``names``: input columns in the order the model was fitted on (None if it does not name
    them); ``count``: how many columns it takes; ``numeric``: columns that must hold numbers.
    """

    names: tuple[str, ...] | None
    count: int | None
    numeric: frozenset[str]


def model_inputs(model: Any) -> ModelInputs:
    """The :class:`ModelInputs` of a fitted estimator, pipeline or audit adapter."""
    names_raw = getattr(model, "feature_names_in_", None)
    names = tuple(str(n) for n in names_raw) if names_raw is not None else None
    count = getattr(model, "n_features_in_", None)
    count = int(count) if count is not None else (len(names) if names else None)
    types = getattr(model, "feature_types_", None)
    if isinstance(types, dict):
        numeric = {str(c) for c, t in types.items() if str(t) not in _NON_NUMERIC_TYPES}
    elif names is not None:
        numeric = _sklearn_numeric(model, names)
    else:
        numeric = set()
    return ModelInputs(names, count, frozenset(numeric))


def _sklearn_numeric(model: Any, names: tuple[str, ...]) -> set[str]:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    first = model.steps[0][1] if isinstance(model, Pipeline) else model
    if isinstance(first, ColumnTransformer) and hasattr(first, "transformers_"):
        numeric: set[str] = set()
        for _name, transformer, columns in first.transformers_:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            if _is_encoder(transformer):
                continue
            numeric.update(_column_names(columns, names))
        return numeric
    if _is_encoder(first):
        return set()
    return set(names)


def _is_encoder(transformer: Any) -> bool:
    from sklearn.pipeline import Pipeline

    steps = (
        [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    )
    return any(type(s).__name__ in _ENCODERS for s in steps)


def _column_names(columns: Any, names: tuple[str, ...]) -> list[str]:
    import numpy as np

    if isinstance(columns, str):
        return [columns]
    if isinstance(columns, slice):
        return list(names[columns])
    try:
        items = list(columns)
    except TypeError:
        return []
    if items and all(isinstance(c, bool | np.bool_) for c in items):
        return [n for n, keep in zip(names, items, strict=False) if keep]
    return [names[int(c)] if isinstance(c, int | np.integer) else str(c) for c in items]
