"""Policy files: the one place an organisation states what "fair and explainable enough" means.

A policy is YAML, validated strictly (unknown keys, wrong types and unknown metrics are errors
that name the file and line). Rule kinds are a discriminated union on ``kind``; each kind knows
which metrics it may compare.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import InputError
from ..yamlio import load_model, locate, read_yaml

#: Per-group metrics of the fairness engine (judged for every group of a feature).
GROUP_METRICS = (
    "selection_rate",
    "impact_ratio",
    "tpr",
    "fpr",
    "fnr",
    "ppv",
    "base_rate",
    "accuracy",
)
#: Between-group summaries of the fairness engine (one value per feature).
BETWEEN_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equal_opportunity_difference",
)
PERFORMANCE_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "selection_rate",
    "base_rate",
)
EXPLANATION_METRICS = ("sensitive_share", "additivity_max_abs_error")

Operator = Literal[">=", ">", "<=", "<"]


def _check_metric(value: str, allowed: tuple[str, ...], kind: str) -> str:
    if value not in allowed:
        close = difflib.get_close_matches(value, allowed, n=1)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        raise ValueError(
            f"unknown {kind} metric {value!r}; {suggestion}valid: {', '.join(allowed)}"
        )
    return value


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    metric: str
    operator: Operator
    threshold: float
    severity: Literal["error", "warning"] = "error"
    description: str | None = None


class FairnessRule(_RuleBase):
    """Compare a fairness metric per group (or a between-group summary) with a threshold.

    ``feature`` limits the rule to one sensitive feature or intersection (``sex&race``); without
    it every feature and intersection is judged. ``group`` limits a per-group metric to one group.
    """

    kind: Literal["fairness"]
    feature: str | None = None
    group: str | None = None
    min_group_size: int | None = Field(None, ge=1)

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return _check_metric(v, GROUP_METRICS + BETWEEN_METRICS, "fairness")


class PerformanceRule(_RuleBase):
    """Compare an overall performance metric (accuracy, AUC, ...) with a threshold."""

    kind: Literal["performance"]

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return _check_metric(v, PERFORMANCE_METRICS, "performance")


class ExplanationRule(_RuleBase):
    """Compare an explanation metric (share of attribution on sensitive features, additivity)."""

    kind: Literal["explanation"]

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return _check_metric(v, EXPLANATION_METRICS, "explanation")


Rule = Annotated[FairnessRule | PerformanceRule | ExplanationRule, Field(discriminator="kind")]


class PolicyDocument(BaseModel):
    """The YAML document as written."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: Literal["audit/v1"] = Field(alias="apiVersion")
    kind: Literal["Policy"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: str
    description: str | None = None
    references: list[str] = Field(default_factory=list)
    min_group_size: int = Field(
        30, ge=1, description="groups smaller than this are reported but not judged"
    )
    rules: list[Rule] = Field(min_length=1)


@dataclass(frozen=True)
class Policy:
    """A validated policy, with where it came from (for messages that name file and line)."""

    document: PolicyDocument
    path: Path
    sha256: str
    rule_lines: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.document.name

    @property
    def rules(self) -> list[FairnessRule | PerformanceRule | ExplanationRule]:
        return list(self.document.rules)

    def where(self, rule_id: str) -> str:
        line = self.rule_lines.get(rule_id)
        return f"{self.path}:{line}" if line else str(self.path)


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; raise InputError naming file, line and field."""
    if not path.is_file():
        raise InputError(f"policy file {path} does not exist", hint="check the `policy` path")
    document = load_model(path, PolicyDocument)
    _, node = read_yaml(path)
    lines: dict[str, int] = {}
    for i, rule in enumerate(document.rules):
        pos, _ = locate(node, ["rules", i, "id"])
        line = pos[0] if pos else 0
        if rule.id in lines:
            raise InputError(
                f"{path}:{line}: rules[{i}].id: duplicate rule id {rule.id!r} "
                f"(first defined at line {lines[rule.id]})",
                hint="give every rule its own id",
            )
        lines[rule.id] = line
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Policy(document=document, path=path, sha256=digest, rule_lines=lines)
