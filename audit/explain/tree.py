"""Exact TreeSHAP for tree ensembles (``shap.TreeExplainer``, path-dependent).

Uses the trees' own node counts as the background ("tree_path_dependent"), so no background
sample is needed and the values are exact for the model. The output space is the one the trees
add up in: log-odds for gradient boosting classifiers, class probability for random forests and
single decision trees (their leaves hold class fractions, averaged over trees).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audit.explain.interface import (
    Attribution,
    Explainer,
    ExplanationUnavailable,
    ModelRows,
    Target,
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

    @classmethod
    def supports(cls, estimator: Any) -> bool:
        library = type(estimator).__module__.split(".", 1)[0]
        if library in _THIRD_PARTY:
            return type(estimator).__name__ in _THIRD_PARTY[library]
        return isinstance(estimator, _sklearn_trees())

    def explain(
        self, estimator: Any, rows: ModelRows, *, target: Target, background: np.ndarray | None
    ) -> Attribution:
        import shap

        explainer = shap.TreeExplainer(estimator)
        # Additivity is checked by the engine against an independent prediction, and reported.
        # The call API (unlike .shap_values) gives the same shapes for every library without
        # LightGBM's legacy "output has changed" warning.
        result = explainer(rows.dense, check_additivity=False)
        values = np.asarray(result.values, dtype=float)
        expected = np.atleast_1d(np.asarray(result.base_values, dtype=float)[0])

        if values.ndim == 3:
            # One slice per class: the trees add up class probabilities (random forest style).
            if not target.is_classifier or values.shape[2] != 2:
                raise ExplanationUnavailable(
                    f"{type(estimator).__name__} has {values.shape[2]} outputs; only binary "
                    "classifiers and single-output regressors are explained"
                )
            k = target.positive_index
            proba = np.asarray(estimator.predict_proba(rows.native), dtype=float)[:, k]
            return Attribution(values[:, :, k], float(expected[k]), proba, PROBABILITY)
        if values.ndim != 2 or expected.shape[0] != 1:
            raise ExplanationUnavailable(
                f"unexpected SHAP output shape {values.shape} for {type(estimator).__name__}"
            )
        if target.is_classifier:
            # A single margin: the log-odds of classes_[1]; flip it when classes_[0] is positive.
            sign = 1.0 if target.positive_index == 1 else -1.0
            margin = margin_output(estimator, rows.native)
            return Attribution(sign * values, sign * float(expected[0]), sign * margin, LOG_ODDS)
        space, output = _regression_output(estimator, rows.native)
        return Attribution(values, float(expected[0]), output, space)


def _regression_output(estimator: Any, native_rows: Any) -> tuple[str, np.ndarray]:
    """The regressor's output in the space its trees add up in."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    library = type(estimator).__module__.split(".", 1)[0]
    if library in _THIRD_PARTY:
        return "raw score (margin) of the prediction", margin_output(estimator, native_rows)
    prediction = np.asarray(estimator.predict(native_rows), dtype=float)
    if isinstance(estimator, HistGradientBoostingRegressor) and estimator.loss in (
        "poisson",
        "gamma",
    ):
        return "log of the predicted value", np.log(prediction)
    return "predicted value", prediction
