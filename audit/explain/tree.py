"""Exact TreeSHAP for tree ensembles (path-dependent).

XGBoost and LightGBM models are explained by the library's own TreeSHAP (``pred_contribs`` /
``pred_contrib``): the same algorithm and values as ``shap.TreeExplainer``, without building a
shap model object, so never slower. scikit-learn trees go through ``shap.TreeExplainer``.

Uses the trees' own node counts as the background ("tree_path_dependent"), so no background
sample is needed and the values are exact for the model. The output space is the one the trees
add up in: log-odds for gradient boosting classifiers, class probability for random forests and
single decision trees (their leaves hold class fractions, averaged over trees).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

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
    """scikit-learn tree ensembles and the XGBoost / LightGBM scikit-learn wrappers."""

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
            return type(estimator).__name__ in _THIRD_PARTY[library]
        return isinstance(estimator, _sklearn_trees())

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
        if library in _THIRD_PARTY:
            values, expected = _native_contributions(estimator, library, rows.dense)
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
        """
        import shap

        explainer = shap.TreeExplainer(
            estimator, data=background, feature_perturbation="interventional"
        )
        result = explainer(rows.dense, check_additivity=False)
        expected = np.atleast_1d(np.asarray(result.base_values, dtype=float)[0])
        return _attribution(estimator, rows, target, np.asarray(result.values, float), expected)


#: Additivity tolerance for models that compute in float32 (XGBoost).
FLOAT32_TOLERANCE = 1e-5

#: Names reported for the libraries' own TreeSHAP (same values as shap.TreeExplainer, faster).
NATIVE = {
    "xgboost": "xgboost Booster.predict(pred_contribs=True) (native TreeSHAP)",
    "lightgbm": "lightgbm Booster.predict(pred_contrib=True) (native TreeSHAP)",
}


def _native_contributions(
    estimator: Any, library: str, dense: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(values, expected) from the library's own path-dependent TreeSHAP; last column is bias."""
    if library == "xgboost":
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
        if not target.is_classifier or values.shape[2] != 2:
            raise ExplanationUnavailable(
                f"{type(estimator).__name__} has {values.shape[2]} outputs; only binary "
                "classifiers and single-output regressors are explained"
            )
        k = target.positive_index
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


def _regression_output(estimator: Any, native_rows: Any) -> tuple[str, np.ndarray]:
    """The regressor's output in the space its trees add up in."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    library = type(estimator).__module__.split(".", 1)[0]
    if library in _THIRD_PARTY:
        return "raw score (margin) of the prediction", margin_output(estimator, native_rows)
    with few_threads():
        prediction = np.asarray(estimator.predict(native_rows), dtype=float)
    if isinstance(estimator, HistGradientBoostingRegressor) and estimator.loss in (
        "poisson",
        "gamma",
    ):
        return "log of the predicted value", np.log(prediction)
    return "predicted value", prediction
