"""SHAP explanations of audited models, attributed to the model's input columns."""

from audit.explain.engine import EXPLAINERS, METHODS, explain_model, select_explainer
from audit.explain.explanation import Additivity, DirectUse, Explanation, FeatureImportance
from audit.explain.interface import Explainer, ExplanationUnavailable
from audit.explain.proxies import (
    Association,
    ProxyModel,
    associations,
    cramers_v,
    mutual_information,
    proxy_model,
    proxy_models,
)
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
    "DirectUse",
    "Explainer",
    "Explanation",
    "ExplanationUnavailable",
    "FeatureImportance",
    "ProxyModel",
    "Reason",
    "ReasonCode",
    "ReasonCodes",
    "associations",
    "cramers_v",
    "explain_model",
    "load_reason_codes",
    "mutual_information",
    "proxy_model",
    "proxy_models",
    "select_explainer",
    "write_reasons_csv",
]
