"""Explain a model with SHAP: choose the explainer, sample, transform, explain, map back.

Steps, each seeded or exact so the same inputs give the same report:

1. pick the explainer for the final estimator (tree ensembles: TreeSHAP; linear: LinearSHAP;
   anything else: ``ExplanationUnavailable``);
2. draw ``sample_size`` rows of X without replacement with ``numpy.random.default_rng(seed)``
   (all rows if X is smaller), and for linear models then ``background_size`` rows from the same
   generator;
3. transform them with the pipeline's preprocessing (``model[:-1]``) and densify;
4. explain the final estimator on the transformed rows, for the positive class;
5. sum the attributions of derived columns back to the model's input columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import InputError
from audit.explain.explanation import Explanation
from audit.explain.features import FeatureMap, identity_map, map_features
from audit.explain.interface import Explainer, ExplanationUnavailable, ModelRows, Target
from audit.explain.linear import LinearSHAP
from audit.explain.tree import TreeSHAP

#: Every explainer, tried in order.
EXPLAINERS: tuple[type[Explainer], ...] = (TreeSHAP, LinearSHAP)


def select_explainer(estimator: Any) -> Explainer:
    """The explainer for ``estimator``; ``ExplanationUnavailable`` if none explains it exactly."""
    for explainer in EXPLAINERS:
        if explainer.supports(estimator):
            return explainer()
    raise ExplanationUnavailable(
        f"no exact SHAP explainer for {type(estimator).__name__}: supported are tree ensembles "
        "(scikit-learn trees, forests and gradient boosting, XGBoost, LightGBM) and linear models; "
        "model-agnostic explanations are not available yet"
    )


def explain_model(
    model: Any,
    X: pd.DataFrame,
    *,
    positive_label: Any,
    sensitive_features: Sequence[str] = (),
    sample_size: int = 1000,
    background_size: int = 200,
    seed: int = 0,
) -> Explanation:
    """Explain ``model`` (a fitted estimator or ``Pipeline``) on a seeded sample of ``X``.

    ``positive_label`` is the class whose score is explained (ignored for regressors).
    ``sensitive_features`` are input columns whose share of the attributions is reported.

    Raises ``InputError`` for bad arguments or data (missing columns, unknown positive label) and
    ``ExplanationUnavailable`` when the model cannot be explained exactly.
    """
    _check_arguments(X, sample_size, background_size, seed)
    estimator, preprocessor = _split(model)
    explainer = select_explainer(estimator)
    input_names = _input_columns(model, X)
    target = _target(estimator, positive_label)
    sensitive = tuple(sensitive_features)
    unknown = [c for c in sensitive if c not in X.columns]
    if unknown:
        raise InputError(
            f"sensitive feature(s) {', '.join(map(repr, unknown))} are not columns of the dataset",
            hint=f"choose among: {', '.join(map(str, X.columns))}",
        )

    data = X.loc[:, list(input_names)] if list(X.columns) != list(input_names) else X
    rng = np.random.default_rng(seed)
    positions = _draw(rng, len(data), sample_size)
    rows = _transform(preprocessor, data.iloc[positions])
    feature_map: FeatureMap = (
        identity_map(input_names)
        if preprocessor is None
        else map_features(preprocessor, input_names, rows.dense.shape[1])
    )

    background_positions = None
    background = None
    if explainer.needs_background:
        background_positions = _draw(rng, len(data), background_size)
        background = _transform(preprocessor, data.iloc[background_positions]).dense

    attribution = explainer.explain(estimator, rows, target=target, background=background)
    return Explanation(
        method=explainer.method,
        explainer=explainer.explainer_name,
        output_space=attribution.output_space,
        positive_label=positive_label if target.is_classifier else None,
        population_rows=len(data),
        seed=seed,
        background_size=None if background_positions is None else len(background_positions),
        base_value=attribution.base_value,
        attributions=_frozen(feature_map.aggregate(attribution.values)),
        feature_names=feature_map.original_names,
        row_index=X.index[positions],
        row_positions=_frozen(positions),
        model_output=_frozen(attribution.model_output),
        sensitive_features=sensitive,
        background_rows=None if background_positions is None else _frozen(background_positions),
    )


def _check_arguments(X: Any, sample_size: int, background_size: int, seed: int) -> None:
    if not isinstance(X, pd.DataFrame):
        raise InputError(
            f"explain_model needs a pandas DataFrame of model inputs, got {type(X).__name__}",
            hint="load the dataset with audit's loaders or wrap it in pandas.DataFrame",
        )
    if len(X) == 0:
        raise InputError("the dataset to explain has no rows", hint="check the dataset's filter")
    for field, value in (("sample_size", sample_size), ("background_size", background_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise InputError(
                f"explanations.{field} must be a positive integer, got {value!r}",
                hint=f"set {field} to e.g. 1000 (sample) or 200 (background)",
            )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")


def _split(model: Any) -> tuple[Any, Any | None]:
    """(final estimator, preprocessing or None)."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        estimator = model.steps[-1][1]
        if isinstance(estimator, Pipeline):
            raise ExplanationUnavailable("the pipeline's last step is itself a Pipeline")
        return estimator, (model[:-1] if len(model.steps) > 1 else None)
    return model, None


def _input_columns(model: Any, X: pd.DataFrame) -> tuple[str, ...]:
    """The columns the model was fitted on, checked against X."""
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is None:
        width = getattr(model, "n_features_in_", X.shape[1])
        if width != X.shape[1]:
            raise InputError(
                f"the model was fitted on {width} unnamed columns but the dataset has {X.shape[1]}",
                hint="pass exactly the model's input columns, in training order",
            )
        return tuple(str(c) for c in X.columns)
    missing = [str(c) for c in fitted if c not in X.columns]
    if missing:
        raise InputError(
            f"the dataset is missing column(s) the model needs: {', '.join(missing)}",
            hint="add these columns to the dataset, or audit the model on the data it was "
            "trained for",
        )
    return tuple(str(c) for c in fitted)


def _target(estimator: Any, positive_label: Any) -> Target:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return Target(positive_index=None)
    labels = list(np.asarray(classes).tolist())
    if len(labels) != 2:
        raise ExplanationUnavailable(
            f"{type(estimator).__name__} has {len(labels)} classes; only binary classifiers and "
            "regressors are explained"
        )
    matches = [i for i, label in enumerate(labels) if label == positive_label]
    if not matches:
        raise InputError(
            f"positive label {positive_label!r} is not one of the model's classes {labels!r}",
            hint="set the positive label to one of the classes, with the same type "
            "(the string '1' is not the number 1)",
        )
    return Target(positive_index=matches[0])


def _draw(rng: np.random.Generator, population: int, size: int) -> np.ndarray:
    """Sorted positions of ``size`` rows drawn without replacement; all rows if fewer."""
    if population <= size:
        return np.arange(population)
    return np.sort(rng.choice(population, size=size, replace=False))


def _transform(preprocessor: Any | None, rows: pd.DataFrame) -> ModelRows:
    """Rows as the final estimator sees them, plus a dense float64 copy for SHAP."""
    from scipy import sparse

    if preprocessor is None:
        native: Any = rows
    else:
        try:
            native = preprocessor.transform(rows)
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(
                f"the model's preprocessing rejected the dataset: {exc}",
                hint="check the dataset's column types and categories against the training data",
            ) from exc
    dense = native.toarray() if sparse.issparse(native) else native
    try:
        dense = np.asarray(dense.to_numpy() if isinstance(dense, pd.DataFrame) else dense, float)
    except (ValueError, TypeError) as exc:
        raise ExplanationUnavailable(
            f"the final estimator receives non-numeric columns ({exc}); SHAP needs numbers"
        ) from exc
    return ModelRows(dense=dense, native=native)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array
