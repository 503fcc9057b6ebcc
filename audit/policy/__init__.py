"""Policies: rules that judge an audit's evidence, loaded from strictly validated YAML."""

from .evaluate import Breach, Evidence, Finding, evaluate, outcome, summarise
from .schema import (
    ExplanationRule,
    FairnessRule,
    PerformanceRule,
    Policy,
    PolicyDocument,
    load_policy,
)

__all__ = [
    "Breach",
    "Evidence",
    "ExplanationRule",
    "FairnessRule",
    "Finding",
    "PerformanceRule",
    "Policy",
    "PolicyDocument",
    "evaluate",
    "load_policy",
    "outcome",
    "summarise",
]
