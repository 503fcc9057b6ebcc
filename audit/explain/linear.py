"""Exact SHAP for linear models (``shap.LinearExplainer``, interventional).

With a background sample B, the SHAP value of transformed column j for row x is

    phi_j(x) = coef_j * (x_j - mean_B(x_j)),   base value = intercept + coef . mean_B(x)

(features treated as independent). The background is a seeded random sample of the population,
transformed like the explained rows; all of it is used (shap would otherwise subsample it).
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
)

LOG_ODDS = "log-odds of the positive class"
MARGIN = "decision function (margin) of the positive class"


class LinearSHAP(Explainer):
    """Linear models from ``sklearn.linear_model`` and ``LinearSVC`` / ``LinearSVR``."""

    method = "linear"
    explainer_name = "shap.LinearExplainer"
    needs_background = True
    background_kind = "a seeded random background sample of the audited data (interventional)"

    @classmethod
    def supports(cls, estimator: Any) -> bool:
        from sklearn.svm import LinearSVC, LinearSVR

        if isinstance(estimator, LinearSVC | LinearSVR):
            return True
        module = type(estimator).__module__
        return module.startswith("sklearn.linear_model") and hasattr(estimator, "coef_")

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
        import shap

        if background is None or len(background) == 0:
            raise ValueError("LinearSHAP needs a non-empty background sample")
        coef = np.asarray(estimator.coef_)
        if coef.ndim == 2 and coef.shape[0] != 1 and target.class_index is not None:
            return _one_class(estimator, rows, background, coef, target.class_index)
        if coef.ndim == 2 and coef.shape[0] != 1:
            raise ExplanationUnavailable(
                f"{type(estimator).__name__} has {coef.shape[0]} coefficient rows (multi-class or "
                "multi-output); only binary classifiers and single-output regressors are explained"
            )
        masker = shap.maskers.Independent(background, max_samples=len(background))
        explainer = shap.LinearExplainer(estimator, masker)
        values = np.asarray(explainer.shap_values(rows.dense), dtype=float)
        base = float(np.ravel(explainer.expected_value)[0])

        if target.is_classifier:
            sign = 1.0 if target.positive_index == 1 else -1.0
            margin = np.asarray(estimator.decision_function(rows.native), dtype=float)
            return Attribution(
                sign * values, sign * base, sign * margin, _classifier_space(estimator)
            )
        space, output = _regression_output(estimator, rows.native)
        return Attribution(values, base, output, space)


def _one_class(
    estimator: Any, rows: ModelRows, background: np.ndarray, coef: np.ndarray, k: int
) -> Attribution:
    """Class k of a multiclass linear model: phi = coef_k * (x - mean_B(x)), base =
    intercept_k + coef_k . mean_B(x), adding up to decision_function[:, k] (the formula of
    shap.LinearExplainer with an independent masker, per class)."""
    mean = np.asarray(background, dtype=float).mean(axis=0)
    values = (np.asarray(rows.dense, dtype=float) - mean) * coef[k]
    base = float(np.ravel(estimator.intercept_)[k] + coef[k] @ mean)
    margin = np.asarray(estimator.decision_function(rows.native), dtype=float)[:, k]
    return Attribution(values, base, margin, "decision function (softmax input) of the class")


def _classifier_space(estimator: Any) -> str:
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, SGDClassifier

    if isinstance(estimator, LogisticRegression | LogisticRegressionCV):
        return LOG_ODDS
    if isinstance(estimator, SGDClassifier) and estimator.loss == "log_loss":
        return LOG_ODDS
    return MARGIN


def _regression_output(estimator: Any, native_rows: Any) -> tuple[str, np.ndarray]:
    """Generalised linear models are linear in the log of their prediction; the rest in it."""
    from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor

    prediction = np.asarray(estimator.predict(native_rows), dtype=float)
    log_link = isinstance(estimator, PoissonRegressor | GammaRegressor) or (
        isinstance(estimator, TweedieRegressor)
        and (estimator.link == "log" or (estimator.link == "auto" and estimator.power > 0))
    )
    if log_link:
        return "log of the predicted value", np.log(prediction)
    return "predicted value", prediction
