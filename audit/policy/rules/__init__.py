"""Rule kinds: one module each, holding the kind's part of the policy schema and its judge.

A rule kind is a :class:`~.interface.RuleModel`: a strict pydantic model whose ``kind: Literal[...]``
field names it in policy files, whose validators refuse what the kind cannot judge, and whose
``judge(policy, evidence)`` method returns its :class:`~audit.policy.findings.Finding`. Policies
validate rules against :data:`Rule`, the union of every kind discriminated on ``kind``, so a rule
of an unknown kind is refused when the policy is loaded and never reaches evaluation.

To add a rule kind:

1. write ``rules/<kind>.py`` with ``class <Kind>Rule(Comparison)`` (a metric against a threshold;
   set ``metrics`` to the names it accepts, kept in :mod:`audit.policy.metrics`) or
   ``(RuleModel)``, declaring ``kind: Literal["<kind>"]`` and ``judge``, built from the helpers
   in :mod:`.judging`;
2. add ``<Kind>Rule`` to :data:`AnyRule` below (then regenerate
   ``policies/policy.schema.json`` with ``audit policy schema``).
"""

from typing import Annotated

from pydantic import Field

from .continuous_fairness import ContinuousFairnessRule
from .counterfactual import CounterfactualRule
from .data import DataRule
from .direct_use import DirectUseRule
from .documentation import DocumentationRule
from .drift import DriftRule
from .explanation import ExplanationRule
from .fairness import FairnessRule
from .interface import RuleModel
from .multiclass_fairness import MulticlassFairnessRule
from .performance import PerformanceRule
from .regression import RegressionRule
from .shift import ShiftRule
from .trend import TrendRule

#: Every rule kind (the order is the order of the published JSON Schema).
AnyRule = (
    FairnessRule
    | PerformanceRule
    | ExplanationRule
    | DirectUseRule
    | DataRule
    | DocumentationRule
    | RegressionRule
    | DriftRule
    | TrendRule
    | ShiftRule
    | ContinuousFairnessRule
    | MulticlassFairnessRule
    | CounterfactualRule
)
#: A rule as a policy file holds it: the kind named by its ``kind`` field.
Rule = Annotated[AnyRule, Field(discriminator="kind")]

__all__ = [
    "AnyRule",
    "ContinuousFairnessRule",
    "CounterfactualRule",
    "DataRule",
    "DirectUseRule",
    "DocumentationRule",
    "DriftRule",
    "ExplanationRule",
    "FairnessRule",
    "MulticlassFairnessRule",
    "PerformanceRule",
    "RegressionRule",
    "Rule",
    "RuleModel",
    "TrendRule",
    "ShiftRule",
]
