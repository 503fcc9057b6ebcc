"""The explainer extension point: one abstract base, one file per implementation.

An ``Explainer`` explains the *final estimator* of a model on already transformed, dense rows and
returns an ``Attribution``: SHAP values per transformed column for the positive class, the base
value, and the model output the values should add up to, computed independently of SHAP through
the estimator's own prediction API. Mapping back to input columns, sampling and reporting live in
the engine, so an implementation only decides how to call SHAP and how to read the model's output.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


class ExplanationUnavailable(Exception):
    """The model cannot be explained exactly by the explainers we have.

    Not a user error: the audit reports the explanation as unavailable, with ``reason``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """What is explained: a classifier's positive class, or a regressor's prediction.

    ``positive_index`` is the position of the positive label in the estimator's ``classes_``
    (None for regressors). ``class_index`` is set (to the same position) when one class of a
    multiclass classifier is explained against the rest (:mod:`audit.explain.classes`).
    """

    positive_index: int | None
    class_index: int | None = None

    @property
    def is_classifier(self) -> bool:
        return self.positive_index is not None


@dataclass(frozen=True, eq=False)
class ModelRows:
    """The same transformed rows twice: ``dense`` float64 for SHAP, ``native`` as the pipeline
    hands them to its final estimator (array, sparse matrix or DataFrame), for predictions."""

    dense: np.ndarray
    native: Any


@dataclass(frozen=True, eq=False)
class Attribution:
    """SHAP values of the final estimator for the positive class, on transformed columns.

    ``values[i].sum() + base_value`` should equal ``model_output[i]`` (additivity); the engine
    reports how far it is off.
    """

    values: np.ndarray
    base_value: float
    model_output: np.ndarray
    output_space: str
    #: The SHAP implementation that produced the values, when it differs from the class default
    #: (e.g. XGBoost's native ``pred_contribs``).
    explainer: str | None = None
    #: True when ``values`` are already per input column (model-agnostic explainers mask input
    #: columns as a whole); False when they are per transformed column and must be summed back.
    per_input_column: bool = False
    #: Standard error of each value from sampling (model-agnostic only), same shape as values.
    standard_error: np.ndarray | None = None
    #: Additivity error expected from floating-point arithmetic alone (float64: 1e-6; XGBoost
    #: computes in float32, so its margins and contributions agree only to about 1e-5).
    tolerance: float = 1e-6


class Explainer(ABC):
    """Explains one family of estimators exactly."""

    #: "tree" | "linear", reported as the explanation method.
    method: ClassVar[str]
    #: The SHAP explainer used, e.g. "shap.TreeExplainer".
    explainer_name: ClassVar[str]
    #: Whether ``explain`` needs a background sample of the population.
    needs_background: ClassVar[bool]
    #: What the attributions are relative to (reported: reasons are "relative to" this).
    background_kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def supports(cls, estimator: Any) -> bool:
        """True if this explainer can explain ``estimator`` exactly."""

    @abstractmethod
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
        """SHAP values of ``estimator`` on ``rows`` for ``target``.

        ``owner[k]`` is the input column that transformed column ``k`` derives from (explainers
        that mask whole input columns use it); ``seed`` seeds any sampling the explainer does.

        Raises ``ExplanationUnavailable`` for variants of the family it cannot explain exactly
        (multi-class, multi-output, unusual link functions).
        """

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
        """The same explanation under another background sample and seed, for stability checks.

        Explainers without a background (path-dependent TreeSHAP) override this with their
        interventional variant; by default it is ``explain`` with the new background and seed.
        """
        return self.explain(
            estimator, rows, target=target, background=background, owner=owner, seed=seed
        )


def few_threads() -> Any:
    """Limit OpenMP to one thread for the model's own predictions on explained rows.

    scikit-learn's tree predictors start an OpenMP team per tree; on a few thousand rows that
    costs more than it saves, and on a busy machine it is 10-20x slower than one thread. SHAP's
    own work is not affected.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def margin_output(estimator: Any, native_rows: Any) -> np.ndarray:
    """The estimator's raw score (log-odds of ``classes_[1]`` for binary classifiers).

    Uses the library's own raw-score API: ``decision_function`` (scikit-learn),
    ``predict(output_margin=True)`` (XGBoost), ``predict(raw_score=True)`` (LightGBM); failing
    those, ``log p(classes_[1]) - log p(classes_[0])`` from ``predict_proba``.
    """
    with few_threads():
        return _margin(estimator, native_rows)


def _margin(estimator: Any, native_rows: Any) -> np.ndarray:
    library = type(estimator).__module__.split(".", 1)[0]
    if library == "xgboost":
        return np.asarray(estimator.predict(native_rows, output_margin=True), dtype=float)
    if library == "lightgbm":
        return np.asarray(estimator.predict(native_rows, raw_score=True), dtype=float)
    if hasattr(estimator, "decision_function"):
        return np.asarray(estimator.decision_function(native_rows), dtype=float)
    proba = np.asarray(estimator.predict_proba(native_rows), dtype=float)
    with np.errstate(divide="ignore"):
        return np.log(proba[:, 1]) - np.log(proba[:, 0])
