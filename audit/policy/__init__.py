"""Policies: rules that judge an audit's evidence, loaded from strictly validated YAML."""

from .evaluate import Breach, Evidence, Finding, evaluate, outcome, summarise
from .schema import (
    DataRule,
    DocumentationRule,
    ExplanationRule,
    FairnessRule,
    PerformanceRule,
    Policy,
    PolicyDocument,
    Waiver,
    load_policy,
    packs_dir,
    policy_json_schema,
)

__all__ = [
    "Breach",
    "DataRule",
    "DocumentationRule",
    "Evidence",
    "ExplanationRule",
    "FairnessRule",
    "Finding",
    "PerformanceRule",
    "Policy",
    "PolicyDocument",
    "Waiver",
    "evaluate",
    "load_policy",
    "outcome",
    "packs_dir",
    "policy_json_schema",
    "summarise",
]
