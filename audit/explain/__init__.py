"""SHAP explanations of audited models, attributed to the model's input columns."""

from audit.explain.engine import EXPLAINERS, METHODS, explain_model, select_explainer
from audit.explain.explanation import Additivity, Explanation, FeatureImportance
from audit.explain.importance import Association, cramers_v
from audit.explain.interface import Explainer, ExplanationUnavailable
from audit.explain.reasons import (
    CSV_COLUMNS,
    MAX_REASONS,
    DecisionReasons,
    Reason,
    ReasonCode,
    ReasonCodes,
    load_reason_codes,
    write_reasons_csv,
)

__all__ = [
    "CSV_COLUMNS",
    "EXPLAINERS",
    "MAX_REASONS",
    "METHODS",
    "Additivity",
    "Association",
    "DecisionReasons",
    "Explainer",
    "Explanation",
    "ExplanationUnavailable",
    "FeatureImportance",
    "Reason",
    "ReasonCode",
    "ReasonCodes",
    "cramers_v",
    "explain_model",
    "load_reason_codes",
    "select_explainer",
    "write_reasons_csv",
]
