"""Policies: rules that judge an audit's evidence, loaded from strictly validated YAML.

Layout: :mod:`.schema` reads a policy file (and what it extends) into a :class:`Policy`;
:mod:`.rules` holds one module per rule kind, each its part of the schema and its ``judge``;
:mod:`.metrics` the metric names rules may compare; :mod:`.evidence` what rules read;
:mod:`.findings` what they produce; :mod:`.evaluate` judges every rule and applies waivers.
"""

from .evaluate import evaluate, outcome, summarise
from .evidence import Evidence
from .findings import Breach, Finding
from .rules import (
    DataRule,
    DirectUseRule,
    DocumentationRule,
    DriftRule,
    ExplanationRule,
    FairnessRule,
    PerformanceRule,
    RegressionRule,
)
from .schema import (
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
    "DirectUseRule",
    "DocumentationRule",
    "DriftRule",
    "Evidence",
    "ExplanationRule",
    "FairnessRule",
    "Finding",
    "PerformanceRule",
    "Policy",
    "PolicyDocument",
    "RegressionRule",
    "Waiver",
    "evaluate",
    "load_policy",
    "outcome",
    "packs_dir",
    "policy_json_schema",
    "summarise",
]
