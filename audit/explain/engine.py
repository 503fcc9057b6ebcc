"""Explain a model with SHAP: choose the explainer, sample, transform, explain, map back.

Steps, each seeded or exact so the same inputs give the same report:

1. pick the explainer for the final estimator (tree ensembles: TreeSHAP, native in XGBoost and
   LightGBM; linear: LinearSHAP; anything else: model-agnostic PermutationSHAP);
2. draw ``sample_size`` rows of X without replacement with ``numpy.random.default_rng(seed)``
   (all rows if X is smaller; or all rows, or named rows), and for explainers with a background
   then ``background_size`` rows from the same generator;
3. transform them with the pipeline's preprocessing (``model[:-1]``) and densify;
4. explain the final estimator on the transformed rows, for the positive class;
5. sum the attributions of derived columns back to the model's input columns;
6. record the model's decision for each row, and re-explain a seeded subset of the adverse
   decisions with other backgrounds and seeds to measure how stable their top reasons are;
7. look for proxies of the sensitive features on every row (:mod:`audit.explain.proxies`):
   the association of each input column with each sensitive feature, and a cross-validated
   proxy model per sensitive feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import InputError
from audit.explain.adverse import AdverseExplainer
from audit.explain.explanation import Explanation
from audit.explain.features import (
    FeatureMap,
    identity_map,
    map_features,
    per_input,
    transform_rows,
)
from audit.explain.interface import (
    Explainer,
    ExplanationUnavailable,
    ModelRows,
    Target,
    few_threads,
)
from audit.explain.linear import LinearSHAP
from audit.explain.permutation import PermutationSHAP
from audit.explain.proxies import (
    FOLDS,
    MAX_ROWS,
    PROXY_AUC_THRESHOLD,
    PROXY_THRESHOLD,
    Association,
    ProxyModel,
    associations,
    proxy_models,
)
from audit.explain.reasons import MAX_REASONS, ReasonCodes, top_adverse
from audit.explain.tree import TreeSHAP

#: Exact explainers, tried in order; anything else is explained by :class:`PermutationSHAP`.
EXPLAINERS: tuple[type[Explainer], ...] = (TreeSHAP, LinearSHAP)

#: Explainer chosen by name (``method``); "auto" picks by model type.
METHODS = ("auto", "tree", "linear", "permutation")


def select_explainer(estimator: Any, method: str = "auto", *, pairs: int = 4) -> Explainer:
    """The explainer for ``estimator``: exact TreeSHAP for tree ensembles, exact linear SHAP for
    linear models, model-agnostic permutation SHAP (``pairs`` antithetic orderings per row) for
    anything else, or the one named by ``method``.

    Raises ``ExplanationUnavailable`` if the named explainer does not support the estimator, and
    ``InputError`` for an unknown ``method``.
    """
    if method not in METHODS:
        raise InputError(
            f"unknown explanation method {method!r}", hint=f"choose one of: {', '.join(METHODS)}"
        )
    if method == "auto":
        for explainer in EXPLAINERS:
            if explainer.supports(estimator):
                return explainer()
    elif method != "permutation":
        chosen = {e.method: e for e in EXPLAINERS}[method]
        if chosen.supports(estimator):
            return chosen()
        raise ExplanationUnavailable(
            f"the {method} explainer cannot explain {type(estimator).__name__}"
        )
    if not PermutationSHAP.supports(estimator):
        raise ExplanationUnavailable(
            f"{type(estimator).__name__} has no prediction method, so no explainer applies "
            "(not even the model-agnostic one)"
        )
    return PermutationSHAP(pairs=pairs)


def explain_model(
    model: Any,
    X: pd.DataFrame,
    *,
    positive_label: Any,
    sensitive_features: Sequence[str] = (),
    sample_size: int = 1000,
    background_size: int = 200,
    seed: int = 0,
    rows: str | Sequence[Any] = "sample",
    row_ids: Sequence[Any] | pd.Series | None = None,
    groups: pd.DataFrame | None = None,
    reason_codes: ReasonCodes | None = None,
    max_reasons: int = MAX_REASONS,
    method: str = "auto",
    permutations: int = 4,
    stability_replicas: int = 3,
    stability_rows: int = 100,
    stability_background: int = 50,
    proxy_threshold: float = PROXY_THRESHOLD,
    proxy_auc_threshold: float = PROXY_AUC_THRESHOLD,
    proxy_model_rows: int = MAX_ROWS,
    proxy_folds: int = FOLDS,
    adverse: bool = False,
    each_class: bool = False,
) -> Explanation:
    """Explain ``model`` (a fitted estimator or ``Pipeline``) on rows of ``X``.

    ``rows`` chooses the explained rows: ``"sample"`` (``sample_size`` rows drawn with ``seed``),
    ``"all"``, or a list of row ids (values of ``row_ids``, the dataset's id column, or 0-based
    row numbers when there is none). ``positive_label`` is the favourable class whose score is
    explained (ignored for regressors); a decision is adverse when the model predicts another.
    ``sensitive_features`` are columns of ``X`` or of ``groups`` (a frame with one row per row of
    ``X``, for sensitive attributes the model does not take as input): their share of the
    attributions (direct use), per-group importance and proxies are reported. ``reason_codes``
    turns the top ``max_reasons`` negative attributions of each adverse decision into words.

    Proxies, on every row of ``X`` whether or not the sensitive features are inputs: an input
    column is a strong proxy when its Cramér's V with a sensitive feature is at least
    ``proxy_threshold``; a proxy model per sensitive feature (``proxy_folds``-fold cross-validated,
    on at most about ``proxy_model_rows`` rows; 0: no proxy models) flags the sensitive features
    the inputs predict with an AUC of at least ``proxy_auc_threshold``.

    Fidelity: ``stability_replicas`` re-explanations with other background samples and seeds, of
    up to ``stability_rows`` adverse decisions (seeded), each against its own random background of
    ``stability_background`` rows, measure how stable the top reasons are (0 replicas: not
    measured).

    ``adverse``: also keep the explainer, ready to give reasons for any other rows of the same
    dataset (:class:`~audit.explain.adverse.AdverseExplainer`, as ``row_explainer``; classifiers
    with ``reason_codes`` only), for reasons on every adverse decision.

    ``each_class``: ``positive_label`` is one class of a multiclass classifier, explained
    against the rest (:func:`audit.explain.classes.explain_classes` calls this once per class).

    Raises ``InputError`` for bad arguments or data (missing columns, unknown positive label or
    row ids, incomplete reason codes) and ``ExplanationUnavailable`` when no explainer applies.
    """
    _check_arguments(X, sample_size, background_size, seed)
    if max_reasons < 1 or stability_replicas < 0 or stability_rows < 0 or stability_background < 1:
        raise InputError(
            "max_reasons and stability_background must be at least 1, stability_replicas and "
            "stability_rows at least 0"
        )
    if proxy_folds < 2 or proxy_model_rows < 0:
        raise InputError(
            f"proxy models need at least 2 folds and a non-negative row count, got "
            f"{proxy_folds} folds and {proxy_model_rows} rows",
            hint="set explain.proxy_model_rows to 0 to leave the proxy models out",
        )
    input_names = _input_columns(model, X)
    estimator, preprocessor = _split(model, X, input_names)
    explainer = select_explainer(estimator, method, pairs=permutations)
    target = _target(estimator, positive_label, each_class)
    sensitive = tuple(sensitive_features)
    group_frame = _groups(X, groups, sensitive)
    if reason_codes is not None:
        reason_codes.lookup(input_names)  # fail early, naming every column without words
    ids = _row_ids(X, row_ids)

    data = X.loc[:, list(input_names)] if list(X.columns) != list(input_names) else X
    rng = np.random.default_rng(seed)
    positions, mode = _explained_positions(rng, data, rows, sample_size, ids)
    model_rows = transform_rows(preprocessor, data.iloc[positions])
    feature_map: FeatureMap = (
        identity_map(input_names)
        if preprocessor is None or getattr(preprocessor, "identity", False)
        else map_features(preprocessor, input_names, model_rows.dense.shape[1])
    )

    background_positions = None
    background = None
    if explainer.needs_background:
        background_positions = _draw(rng, len(data), background_size)
        background = transform_rows(preprocessor, data.iloc[background_positions]).dense

    attribution = explainer.explain(
        estimator,
        model_rows,
        target=target,
        background=background,
        owner=feature_map.owner,
        seed=seed,
    )
    values = per_input(attribution.values, attribution, feature_map)
    decisions = _decisions(estimator, model_rows, target)
    stability = None
    if decisions is not None and stability_replicas > 0:
        adverse_rows = np.asarray([d != positive_label for d in decisions], dtype=bool)
        stability = _stability(
            explainer,
            estimator,
            preprocessor,
            data,
            model_rows,
            values,
            adverse_rows,
            target=target,
            feature_map=feature_map,
            seed=seed,
            replicas=stability_replicas,
            max_rows=stability_rows,
            background_size=stability_background,
            k=max_reasons,
        )
    proxies: tuple[Association, ...] = ()
    models: tuple[ProxyModel, ...] = ()
    if group_frame is not None:
        proxies = associations(data, group_frame)
        if proxy_model_rows > 0:
            models = proxy_models(
                data, group_frame, folds=proxy_folds, max_rows=proxy_model_rows, seed=seed
            )
    row_explainer = None
    if adverse and reason_codes is not None and target.is_classifier:
        row_explainer = _adverse_explainer(
            estimator,
            preprocessor,
            explainer,
            target,
            feature_map,
            input_names,
            background,
            seed=seed,
            reason_codes=reason_codes,
            sensitive=sensitive,
            max_reasons=max_reasons,
            tolerance=attribution.tolerance,
            stability={}
            if stability is None
            else {
                int(X.index[p]): float(v)
                for p, v in zip(positions, stability, strict=True)
                if not np.isnan(v)
            },
        )
    se = attribution.standard_error
    return Explanation(
        method=explainer.method,
        explainer=attribution.explainer or explainer.explainer_name,
        output_space=attribution.output_space,
        positive_label=positive_label if target.is_classifier else None,
        population_rows=len(data),
        seed=seed,
        background_size=None if background_positions is None else len(background_positions),
        base_value=attribution.base_value,
        attributions=_frozen(values),
        feature_names=feature_map.original_names,
        row_index=X.index[positions],
        row_positions=_frozen(positions),
        model_output=_frozen(attribution.model_output),
        sensitive_features=sensitive,
        background_rows=None if background_positions is None else _frozen(background_positions),
        background=explainer.background_kind,
        rows=mode,
        row_ids=None if ids is None else _frozen(np.asarray(ids)[positions]),
        standard_error=None if se is None else _frozen(per_input(se, attribution, feature_map)),
        decisions=None if decisions is None else _frozen(decisions),
        feature_values=data.iloc[positions].reset_index(drop=True),
        group_values=None
        if group_frame is None
        else group_frame.iloc[positions].reset_index(drop=True),
        proxies=proxies,
        proxy_threshold=proxy_threshold,
        proxy_models=models,
        proxy_auc_threshold=proxy_auc_threshold,
        stability=None if stability is None else _frozen(stability),
        stability_replicas=stability_replicas if stability is not None else 0,
        stability_background=stability_background,
        reason_codes=reason_codes,
        max_reasons=max_reasons,
        additivity_tolerance=attribution.tolerance,
        row_explainer=row_explainer,
    )


def _adverse_explainer(
    estimator: Any,
    preprocessor: Any,
    explainer: Explainer,
    target: Target,
    feature_map: FeatureMap,
    input_names: tuple[str, ...],
    background: np.ndarray | None,
    *,
    seed: int,
    reason_codes: ReasonCodes,
    sensitive: tuple[str, ...],
    max_reasons: int,
    tolerance: float,
    stability: dict[int, float],
) -> AdverseExplainer:
    from audit.explain.reasons import plain_value

    assert target.positive_index is not None
    classes = list(np.asarray(estimator.classes_).tolist())
    names = feature_map.original_names
    codes = reason_codes.lookup(names)
    return AdverseExplainer(
        estimator=estimator,
        preprocessor=preprocessor,
        explainer=explainer,
        target=target,
        feature_map=feature_map,
        input_names=input_names,
        background=background,
        seed=seed,
        adverse_label=plain_value(classes[1 - target.positive_index]),
        codes=tuple(codes[n] for n in names),
        sensitive=tuple(n in sensitive for n in names),
        max_reasons=max_reasons,
        tolerance=tolerance,
        stability=stability,
    )


def _groups(
    X: pd.DataFrame, groups: pd.DataFrame | None, sensitive: tuple[str, ...]
) -> pd.DataFrame | None:
    """The sensitive columns for every row of X, from ``groups`` first, then X itself."""
    if groups is not None and len(groups) != len(X):
        raise InputError(
            f"the sensitive-attribute frame has {len(groups)} rows but the dataset {len(X)}",
            hint="pass the sensitive columns of the same rows, in the same order",
        )
    available = set(X.columns) | (set(groups.columns) if groups is not None else set())
    unknown = [c for c in sensitive if c not in available]
    if unknown:
        raise InputError(
            f"sensitive feature(s) {', '.join(map(repr, unknown))} are not columns of the dataset",
            hint=f"choose among: {', '.join(map(str, sorted(map(str, available))))}",
        )
    if not sensitive:
        return None
    columns = {
        c: (groups[c] if groups is not None and c in groups.columns else X[c]).to_numpy()
        for c in sensitive
    }
    return pd.DataFrame(columns)


def _row_ids(X: pd.DataFrame, row_ids: Sequence[Any] | pd.Series | None) -> np.ndarray | None:
    if row_ids is None:
        return None
    ids = np.asarray(row_ids.to_numpy() if isinstance(row_ids, pd.Series) else list(row_ids))
    if len(ids) != len(X):
        raise InputError(
            f"{len(ids)} row ids for {len(X)} rows", hint="pass the id column of the same rows"
        )
    return ids


def _explained_positions(
    rng: np.random.Generator,
    data: pd.DataFrame,
    rows: str | Sequence[Any],
    sample_size: int,
    ids: np.ndarray | None,
) -> tuple[np.ndarray, str]:
    if isinstance(rows, str):
        if rows == "sample":
            return _draw(rng, len(data), sample_size), "sample"
        if rows == "all":
            return np.arange(len(data)), "all"
        raise InputError(
            f"rows to explain must be 'sample', 'all' or a list of row ids, got {rows!r}"
        )
    wanted = list(rows)
    if not wanted:
        raise InputError("no row ids to explain were given", hint="name at least one row id")
    if ids is None:
        lookup: dict[Any, int] = {i: i for i in range(len(data))}
        keys = [_as_int(w) for w in wanted]
    else:
        lookup = {}  # first position of each id, as text
        for position, value in enumerate(ids.tolist()):
            lookup.setdefault(str(value), position)
        keys = [str(w) for w in wanted]
    missing = [str(w) for w, k in zip(wanted, keys, strict=True) if k not in lookup]
    if missing:
        where = "the id column" if ids is not None else "0-based row numbers of the dataset"
        raise InputError(
            f"row id(s) not found: {', '.join(missing)}",
            hint=f"row ids are {where} (0 to {len(data) - 1})"
            if ids is None
            else f"row ids are values of {where}",
        )
    return np.asarray([lookup[k] for k in keys], dtype=np.intp), "named"


def _as_int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _decisions(estimator: Any, rows: ModelRows, target: Target) -> np.ndarray | None:
    """The model's predicted label per row (classifiers): the final estimator's ``predict`` on
    the rows the preprocessing already produced, as the pipeline would call it."""
    if not target.is_classifier or len(rows.dense) == 0:
        return None
    with few_threads():
        return np.asarray(estimator.predict(rows.native), dtype=object)


def _stability(
    explainer: Explainer,
    estimator: Any,
    preprocessor: Any,
    data: pd.DataFrame,
    model_rows: ModelRows,
    values: np.ndarray,
    adverse: np.ndarray,
    *,
    target: Target,
    feature_map: FeatureMap,
    seed: int,
    replicas: int,
    max_rows: int,
    background_size: int,
    k: int,
) -> np.ndarray:
    """Per explained row, the mean over replicas of ``|top_k(main) & top_k(replica)| / |top_k(main)|``
    (NaN for rows not checked; 1 for an adverse row with no negative attribution at all).

    Each replica draws its own background sample (``background_size`` rows) and seed from
    ``numpy.random.default_rng([seed, r])``; the checked rows are a seeded sample of at most
    ``max_rows`` adverse decisions.
    """
    result = np.full(len(values), np.nan)
    candidates = np.flatnonzero(adverse)
    if candidates.size == 0 or max_rows == 0:
        return result
    chosen = np.sort(_draw(np.random.default_rng([seed, 0]), candidates.size, max_rows))
    checked = candidates[chosen]
    subset = ModelRows(
        dense=model_rows.dense[checked],
        native=_take(model_rows.native, checked),
    )
    main = top_adverse(values[checked], k)
    overlap = np.zeros(len(checked))
    for r in range(1, replicas + 1):
        rng = np.random.default_rng([seed, r])
        positions = _draw(rng, len(data), background_size)
        background = transform_rows(preprocessor, data.iloc[positions]).dense
        again = explainer.replicate(
            estimator,
            subset,
            target=target,
            background=background,
            owner=feature_map.owner,
            seed=int(rng.integers(2**31)),
        )
        other = top_adverse(per_input(again.values, again, feature_map), k)
        for i, (a, b) in enumerate(zip(main, other, strict=True)):
            overlap[i] += len(set(a.tolist()) & set(b.tolist())) / len(a) if len(a) else 1.0
    result[checked] = overlap / replicas
    return result


def _take(native: Any, positions: np.ndarray) -> Any:
    if isinstance(native, pd.DataFrame):
        return native.iloc[positions]
    return native[positions]


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


def _split(model: Any, X: pd.DataFrame, columns: tuple[str, ...]) -> tuple[Any, Any | None]:
    """(final estimator, preprocessing or None); an opaque model (an endpoint) is explained
    on coded input columns (:mod:`audit.explain.opaque`)."""
    from sklearn.pipeline import Pipeline

    if getattr(model, "opaque", False):
        from audit.explain.opaque import split_opaque

        return split_opaque(model, X, columns)
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


def _target(estimator: Any, positive_label: Any, each_class: bool = False) -> Target:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return Target(positive_index=None)
    labels = list(np.asarray(classes).tolist())
    if each_class:  # one class of a multiclass model (audit.explain.classes)
        found = [i for i, label in enumerate(labels) if str(label) == str(positive_label)]
        if not found:
            raise InputError(f"class {positive_label!r} is not one of the model's {labels!r}")
        return Target(positive_index=found[0], class_index=found[0])
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


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array
