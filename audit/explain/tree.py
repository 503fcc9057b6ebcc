"""Exact TreeSHAP for tree ensembles (path-dependent).

Every model our own compiled TreeSHAP reads (``audit.explain.fasttree``: scikit-learn trees and
forests, gradient boosting, HistGradientBoosting incl. categorical splits, XGBoost ``gbtree``,
LightGBM) is explained by it: the same values as ``shap.TreeExplainer`` (1e-9), parallel over
rows. On a machine with CUDA and a CUDA build of XGBoost, XGBoost models are explained on the
device and checked against the CPU kernels on a seeded subset of rows. Anything ``fasttree``
declines (``Unsupported``) takes the paths below, as before:

XGBoost and LightGBM models are explained by the library's own TreeSHAP (``pred_contribs`` /
``pred_contrib``): the same algorithm and values as ``shap.TreeExplainer``, without building a
shap model object, so never slower. That holds for their scikit-learn wrappers (``XGBClassifier``,
``LGBMClassifier``...) and for native model files loaded by audit (``XGBoostModel``,
``LightGBMModel``), whose contributions are computed through the wrapper's own input path (the
same DMatrix / pandas frame its predictions use). scikit-learn trees go through
``shap.TreeExplainer``.

Native files are explained here only when the values can be exact and the stability check
(interventional TreeSHAP with ``shap.TreeExplainer`` on the raw booster, see ``replicate``) gives
right numbers too: binary logistic classifiers and single-output regressors with tree boosters
(XGBoost ``gbtree``, LightGBM without ``linear_tree``) and *no categorical features*. shap cannot
run interventional TreeSHAP on categorical splits (XGBoost: NotImplementedError; LightGBM: it
runs but the values do not add up, off by whole log-odds), so categorical boosters, XGBoost
``dart``/``gblinear``/``binary:hinge`` and LightGBM linear trees stay on the model-agnostic
permutation explainer, as before. Multi-class boosters are not TreeSHAP's either; as before, the
engine explains none (binary classifiers and regressors only).

Uses the trees' own node counts as the background ("tree_path_dependent"), so no background
sample is needed and the values are exact for the model. The output space is the one the trees
add up in: log-odds for gradient boosting classifiers, class probability for random forests and
single decision trees (their leaves hold class fractions, averaged over trees).
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from audit.explain.interface import (
    Attribution,
    Explainer,
    ExplanationUnavailable,
    ModelRows,
    Target,
    few_threads,
    margin_output,
)

LOG_ODDS = "log-odds of the positive class"
PROBABILITY = "probability of the positive class"

_THIRD_PARTY = {
    "xgboost": frozenset({"XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor"}),
    "lightgbm": frozenset({"LGBMClassifier", "LGBMRegressor"}),
}


def _sklearn_trees() -> tuple[type, ...]:
    from sklearn import ensemble, tree

    return (
        ensemble.HistGradientBoostingClassifier,
        ensemble.HistGradientBoostingRegressor,
        ensemble.GradientBoostingClassifier,
        ensemble.GradientBoostingRegressor,
        ensemble.RandomForestClassifier,
        ensemble.RandomForestRegressor,
        ensemble.ExtraTreesClassifier,
        ensemble.ExtraTreesRegressor,
        tree.DecisionTreeClassifier,
        tree.DecisionTreeRegressor,
        tree.ExtraTreeClassifier,
        tree.ExtraTreeRegressor,
    )


class TreeSHAP(Explainer):
    """scikit-learn tree ensembles, the XGBoost / LightGBM scikit-learn wrappers, and native
    XGBoost / LightGBM model files without categorical features (see the module docstring)."""

    method = "tree"
    explainer_name = "shap.TreeExplainer"
    needs_background = False
    background_kind = (
        "the training data distribution recorded in the trees (path-dependent TreeSHAP)"
    )

    @classmethod
    def supports(cls, estimator: Any) -> bool:
        library = type(estimator).__module__.split(".", 1)[0]
        if library in _THIRD_PARTY:
            if type(estimator).__name__ not in _THIRD_PARTY[library]:
                return False
            # XGBoost's dart and gblinear boosters: shap cannot replicate them (wrong values for
            # dart, a KeyError for gblinear), so they are explained model-agnostically.
            return library != "xgboost" or estimator.get_params().get("booster") in (
                None,
                "gbtree",
            )
        wrapped = _native_file(estimator)
        if wrapped is not None:
            return _native_file_supported(estimator, wrapped)
        return isinstance(estimator, _sklearn_trees())

    #: Compiled ensembles (or why not), keyed by the estimator object: explaining many batches
    #: of rows with one model compiles it once.
    _compiled: ClassVar[weakref.WeakKeyDictionary[Any, Any]] = weakref.WeakKeyDictionary()

    def explain(
        self,
        estimator: Any,
        rows: ModelRows,
        *,
        target: Target,
        background: np.ndarray | None,
        owner: np.ndarray,
        seed: int,
    ) -> Attribution:
        library = type(estimator).__module__.split(".", 1)[0]
        wrapped = _native_file(estimator)
        ensemble = self.ensemble(estimator)
        if ensemble is not None:
            return _fast(estimator, ensemble, rows, target, wrapped or library, seed)
        if library in _THIRD_PARTY or wrapped is not None:
            library = wrapped or library
            values, expected = _native_contributions(estimator, library, rows)
            attribution = _attribution(estimator, rows, target, values, expected, NATIVE[library])
            if library == "xgboost":
                # XGBoost sums float32 leaf values: agreement to ~1e-7 relative, not 1e-12.
                return replace(attribution, tolerance=FLOAT32_TOLERANCE)
            return attribution
        import shap

        explainer = shap.TreeExplainer(estimator)
        # Additivity is checked by the engine against an independent prediction, and reported.
        # The call API (unlike .shap_values) gives the same shapes for every library without
        # LightGBM's legacy "output has changed" warning.
        result = explainer(rows.dense, check_additivity=False)
        expected = np.atleast_1d(np.asarray(result.base_values, dtype=float)[0])
        return _attribution(estimator, rows, target, np.asarray(result.values, float), expected)

    @classmethod
    def ensemble(cls, estimator: Any) -> Any:
        """The compiled ``fasttree.Ensemble`` of ``estimator``, or None where it is not ours."""
        from audit.explain import fasttree

        try:
            cached = cls._compiled.get(estimator)
        except TypeError:  # not weakly referenceable / hashable: compile every time
            cached = None
        if cached is None:
            try:
                cached = fasttree.compile_ensemble(estimator)
            except fasttree.Unsupported as exc:
                cached = exc
            with contextlib.suppress(TypeError):
                cls._compiled[estimator] = cached
        return None if isinstance(cached, fasttree.Unsupported) else cached

    def replicate(
        self,
        estimator: Any,
        rows: ModelRows,
        *,
        target: Target,
        background: np.ndarray,
        owner: np.ndarray,
        seed: int,
    ) -> Attribution:
        """Interventional TreeSHAP against ``background``: the same trees, another reference.

        Path-dependent values are relative to the training distribution recorded in the trees;
        comparing their top reasons with interventional ones on random background samples of the
        audited data shows how much the reasons depend on that choice.

        Native files (``XGBoostModel``, ``LightGBMModel``) are explained by shap through their
        raw ``booster``, on the dense float rows; ``supports`` admits only boosters without
        categorical features, for which those floats are exactly what the booster sees.
        """
        import shap

        model = estimator.booster if _native_file(estimator) is not None else estimator
        explainer = shap.TreeExplainer(
            model, data=background, feature_perturbation="interventional"
        )
        result = explainer(rows.dense, check_additivity=False)
        expected = np.atleast_1d(np.asarray(result.base_values, dtype=float)[0])
        return _attribution(estimator, rows, target, np.asarray(result.values, float), expected)


def _fast(
    estimator: Any, ensemble: Any, rows: ModelRows, target: Target, library: str, seed: int
) -> Attribution:
    """Our compiled TreeSHAP (XGBoost: on the GPU where there is one, checked against it)."""
    from audit.explain import fasttree
    from audit.explain.fasttree import gpu

    order = _model_columns(estimator, rows)
    X = rows.dense if order is None else rows.dense[:, order]
    name = fasttree.NAME
    values = None
    if library == "xgboost" and gpu.xgboost_cuda():
        values, name = _on_gpu(estimator, ensemble, X, seed)
    if values is None:
        values, _ = ensemble.shap_values(X)
    if order is not None:
        values = values[:, np.argsort(order)]
    attribution = _attribution(estimator, rows, target, values, ensemble.base.copy(), name)
    if library == "xgboost":
        # XGBoost sums float32 leaf values: agreement to ~1e-7 relative, not 1e-12.
        return replace(attribution, tolerance=FLOAT32_TOLERANCE)
    return attribution


def _on_gpu(estimator: Any, ensemble: Any, X: np.ndarray, seed: int) -> tuple[Any, str]:
    """XGBoost's contributions on the CUDA device, if they agree with ours on checked rows."""
    from audit.explain import fasttree
    from audit.explain.fasttree import gpu

    booster = estimator.booster if _native_file(estimator) else estimator.get_booster()
    try:
        device = gpu.xgboost_contributions(booster, X)
    except Exception as exc:  # noqa: BLE001 - any device failure: the CPU result stands
        return None, f"{fasttree.NAME}; the GPU run failed ({type(exc).__name__})"
    checked = gpu.check_rows(len(X), seed)
    ours, _ = ensemble.shap_values(X[checked])
    gap = float(np.max(np.abs(device[checked] - ours), initial=0.0))
    if device.shape != (len(X), X.shape[1]) or not gap <= gpu.CHECK_TOLERANCE:
        return None, (
            f"{fasttree.NAME}; the GPU result was not used: it differs by {gap:.3g} from the "
            f"CPU values on {len(checked)} checked rows"
        )
    return device, (
        f"{GPU_NAME}, checked against {fasttree.NAME} on {len(checked)} rows (max |diff| {gap:.2g})"
    )


def _model_columns(estimator: Any, rows: ModelRows) -> np.ndarray | None:
    """For native files: the positions of the booster's features among the dense columns
    (their wrappers select columns by name), or None when the order is already the same."""
    if _native_file(estimator) is None or not hasattr(rows.native, "columns"):
        return None
    found = getattr(estimator, "feature_names_in_", None)
    names = [] if found is None else [str(n) for n in found]
    columns = [str(c) for c in rows.native.columns]
    if not names or names == columns:
        return None
    position = {c: i for i, c in enumerate(columns)}
    if len(names) != len(columns) or any(n not in position for n in names):
        raise ExplanationUnavailable("the model's features are not the explained columns")
    return np.array([position[n] for n in names])


#: The name reported for XGBoost contributions computed on a CUDA device.
GPU_NAME = "xgboost Booster.predict(pred_contribs=True) on device=cuda (native TreeSHAP, GPU)"

#: Additivity tolerance for models that compute in float32 (XGBoost).
FLOAT32_TOLERANCE = 1e-5

#: Names reported for the libraries' own TreeSHAP (same values as shap.TreeExplainer, faster).
NATIVE = {
    "xgboost": "xgboost Booster.predict(pred_contribs=True) (native TreeSHAP)",
    "lightgbm": "lightgbm Booster.predict(pred_contrib=True) (native TreeSHAP)",
}


#: Objectives of native files whose single output is the log-odds of class 1.
_LOGISTIC = {
    "xgboost": frozenset({"binary:logistic", "binary:logitraw"}),
    "lightgbm": frozenset({"binary", "cross_entropy"}),
}


def _native_file(estimator: Any) -> str | None:
    """The library ("xgboost" / "lightgbm") of audit's wrappers of native model files, else None."""
    module = type(estimator).__module__
    if not module.startswith("audit.loaders."):
        return None  # not one of ours: no need to import the loaders
    from audit.loaders.lightgbm_loader import LightGBMModel
    from audit.loaders.xgboost_loader import XGBoostModel

    if isinstance(estimator, XGBoostModel):
        return "xgboost"
    if isinstance(estimator, LightGBMModel):
        return "lightgbm"
    return None


def _native_file_supported(estimator: Any, library: str) -> bool:
    """Whether native TreeSHAP (explain) and shap's interventional TreeSHAP (replicate) are both
    exact for this booster: see the module docstring for what is left to permutation SHAP."""
    booster = estimator.booster
    kind = estimator.objective.split(" ", 1)[0]
    if estimator.is_classifier and kind not in _LOGISTIC[library]:
        return False  # multi-class, or a margin that is not log-odds (binary:hinge)
    if library == "xgboost":
        import json

        config = json.loads(booster.save_config())
        if config["learner"]["gradient_booster"]["name"] != "gbtree":
            return False  # dart: shap's values do not add up; gblinear: no trees
        return "c" not in (booster.feature_types or [])
    if str(booster.params.get("linear_tree", "")).lower() in ("true", "1"):
        return False  # LightGBM has no TreeSHAP for linear trees
    return not estimator.categories_ and not booster.params.get("categorical_feature")


def _native_contributions(
    estimator: Any, library: str, rows: ModelRows
) -> tuple[np.ndarray, np.ndarray]:
    """(values, expected) from the library's own path-dependent TreeSHAP; last column is bias.

    Native files go through their wrapper's ``_raw`` on the rows as the model receives them
    (columns selected and typed as for its predictions); scikit-learn wrappers get the dense
    floats, as the pipeline's preprocessing produced them.
    """
    dense = rows.dense
    if _native_file(estimator) is not None:
        option = "pred_contribs" if library == "xgboost" else "pred_contrib"
        contribs = estimator._raw(rows.native, **{option: True})
    elif library == "xgboost":
        import xgboost

        booster = estimator.get_booster()
        contribs = booster.predict(
            xgboost.DMatrix(dense, missing=np.nan), pred_contribs=True, validate_features=False
        )
    else:
        contribs = estimator.booster_.predict(dense, pred_contrib=True)
    contribs = np.asarray(contribs, dtype=float)
    if contribs.ndim != 2 or contribs.shape[1] != dense.shape[1] + 1:
        raise ExplanationUnavailable(
            f"{type(estimator).__name__} returned contributions of shape {contribs.shape}; only "
            "binary classifiers and single-output regressors are explained"
        )
    return contribs[:, :-1], np.atleast_1d(contribs[0, -1]) if len(contribs) else np.zeros(1)


def _attribution(
    estimator: Any,
    rows: ModelRows,
    target: Target,
    values: np.ndarray,
    expected: np.ndarray,
    explainer: str | None = None,
) -> Attribution:
    """Pick the positive class's values and the model output they must add up to."""
    if values.ndim == 3:
        # One slice per class: the trees add up class probabilities (random forest style).
        if not target.is_classifier or (values.shape[2] != 2 and target.class_index is None):
            raise ExplanationUnavailable(
                f"{type(estimator).__name__} has {values.shape[2]} outputs; only binary "
                "classifiers and single-output regressors are explained"
            )
        k = target.positive_index
        if target.class_index is not None and not _averages_probabilities(estimator):
            with few_threads():  # multiclass boosting: the trees add up class k's raw score
                raw = np.asarray(estimator.decision_function(rows.native), dtype=float)[:, k]
            return Attribution(values[:, :, k], float(expected[k]), raw, CLASS_RAW, explainer)
        with few_threads():
            proba = np.asarray(estimator.predict_proba(rows.native), dtype=float)[:, k]
        return Attribution(values[:, :, k], float(expected[k]), proba, PROBABILITY, explainer)
    if values.ndim != 2 or expected.shape[0] != 1:
        raise ExplanationUnavailable(
            f"unexpected SHAP output shape {values.shape} for {type(estimator).__name__}"
        )
    if target.is_classifier:
        # A single margin: the log-odds of classes_[1]; flip it when classes_[0] is positive.
        sign = 1.0 if target.positive_index == 1 else -1.0
        margin = margin_output(estimator, rows.native)
        return Attribution(
            sign * values, sign * float(expected[0]), sign * margin, LOG_ODDS, explainer
        )
    space, output = _regression_output(estimator, rows.native)
    return Attribution(values, float(expected[0]), output, space, explainer)


#: The output space of one class of a multiclass boosting model (softmax input).
CLASS_RAW = "raw score of the class (softmax input)"


def _averages_probabilities(estimator: Any) -> bool:
    """Forests and single trees: their leaves hold class fractions (probability space)."""
    from sklearn import ensemble, tree

    kinds = (ensemble.RandomForestClassifier, ensemble.ExtraTreesClassifier)
    return isinstance(estimator, kinds + (tree.DecisionTreeClassifier, tree.ExtraTreeClassifier))


def _regression_output(estimator: Any, native_rows: Any) -> tuple[str, np.ndarray]:
    """The regressor's output in the space its trees add up in."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    library = type(estimator).__module__.split(".", 1)[0]
    if library in _THIRD_PARTY or _native_file(estimator) is not None:
        return "raw score (margin) of the prediction", margin_output(estimator, native_rows)
    with few_threads():
        prediction = np.asarray(estimator.predict(native_rows), dtype=float)
    if isinstance(estimator, HistGradientBoostingRegressor) and estimator.loss in (
        "poisson",
        "gamma",
    ):
        return "log of the predicted value", np.log(prediction)
    return "predicted value", prediction
