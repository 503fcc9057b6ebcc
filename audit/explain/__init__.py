"""SHAP explanations of audited models, attributed to the model's input columns."""

from audit.explain.engine import EXPLAINERS, explain_model, select_explainer
from audit.explain.explanation import Additivity, Explanation, FeatureImportance
from audit.explain.interface import Explainer, ExplanationUnavailable

__all__ = [
    "EXPLAINERS",
    "Additivity",
    "Explainer",
    "Explanation",
    "ExplanationUnavailable",
    "FeatureImportance",
    "explain_model",
    "select_explainer",
]
