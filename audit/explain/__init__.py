"""SHAP explanations of audited models, attributed to the model's input columns.

The names below are imported from their modules when first used (PEP 562), so that an audit
with no model to explain (recorded decisions), which needs only ``ExplanationUnavailable`` and
``load_reason_codes``, does not load the explainers, the proxy models and their libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

#: Where each public name lives (a module of this package).
_WHERE = {
    "EXPLAINERS": "engine",
    "METHODS": "engine",
    "explain_model": "engine",
    "select_explainer": "engine",
    "Additivity": "explanation",
    "DirectUse": "explanation",
    "Explanation": "explanation",
    "FeatureImportance": "explanation",
    "Explainer": "interface",
    "ExplanationUnavailable": "interface",
    "Association": "proxies",
    "ProxyModel": "proxies",
    "associations": "proxies",
    "cramers_v": "proxies",
    "mutual_information": "proxies",
    "proxy_model": "proxies",
    "proxy_models": "proxies",
    "CSV_COLUMNS": "reasons",
    "MAX_REASONS": "reasons",
    "DecisionReasons": "reasons",
    "Reason": "reasons",
    "ReasonCode": "reasons",
    "ReasonCodes": "reasons",
    "load_reason_codes": "reasons",
    "write_reasons_csv": "reasons",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
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
