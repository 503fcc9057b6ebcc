"""Policy files: the one place an organisation states what "fair and explainable enough" means.

A policy is YAML (``apiVersion: audit/v1``, ``kind: Policy``), validated strictly: unknown keys,
wrong types and unknown metrics are errors that name the file, line and column and suggest the
nearest valid name. Rule kinds are a discriminated union on ``kind``; each kind knows which metrics
it may compare. A policy may ``extends`` others (shipped packs by name, or paths); a rule with the
same id overrides the inherited one, and cycles are errors.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import InputError
from ..yamlio import load_model, locate, read_yaml

#: Per-group metrics of the fairness engine (judged for every group of a feature).
GROUP_METRICS = (
    "selection_rate",
    "impact_ratio",
    "scoring_rate",
    "scoring_impact_ratio",
    "tpr",
    "fpr",
    "tnr",
    "fnr",
    "ppv",
    "npv",
    "fdr",
    "for",
    "base_rate",
    "accuracy",
    "auc",
    "ece",
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
#: Performance metrics that also exist per group, and the fairness-engine name they have there.
PER_GROUP_PERFORMANCE = {
    "accuracy": "accuracy",
    "precision": "ppv",
    "recall": "tpr",
    "roc_auc": "auc",
    "selection_rate": "selection_rate",
    "base_rate": "base_rate",
}
EXPLANATION_METRICS = (
    "sensitive_share",
    "proxy_share",
    "additivity_max_abs_error",
    "sensitive_in_top_k",
    "reason_stability",
)
DATA_METRICS = ("group_size", "group_share", "missing_share", "unknown_share", "label_balance")
#: Registry metadata a documentation rule can require of the model.
DOCUMENTATION_FIELDS = ("owner", "intended_use", "training_data", "limitations")

Operator = Literal[">=", ">", "<=", "<"]


def check_metric(value: str, allowed: tuple[str, ...], kind: str) -> str:
    """Refuse an unknown metric, suggesting the nearest valid one."""
    if value not in allowed:
        close = difflib.get_close_matches(value, allowed, n=1)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        raise ValueError(
            f"unknown {kind} metric {value!r}; {suggestion}valid: {', '.join(allowed)}"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Comparison(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="unique rule id")
    metric: str
    operator: Operator
    threshold: float
    severity: Literal["error", "warning"] = Field(
        "error", description="error blocks; warning informs"
    )
    description: str | None = None


class FairnessRule(_Comparison):
    """Compare a fairness metric per group (or a between-group summary) with a threshold.

    ``feature`` limits the rule to one sensitive feature or intersection (``sex&race``); without
    it every feature and intersection is judged. ``group`` limits a per-group metric to one group.
    ``mode`` says how a breach is judged: ``point`` on the estimate; ``bound`` only when the whole
    confidence interval is on the failing side; ``significance`` only when the estimate breaches
    and the difference from the reference group is statistically significant (p < ``alpha``).
    """

    kind: Literal["fairness"]
    feature: str | None = None
    group: str | None = None
    min_group_size: int | None = Field(None, ge=1)
    mode: Literal["point", "bound", "significance"] = "point"
    alpha: float = Field(0.05, gt=0, lt=1)

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return check_metric(v, GROUP_METRICS + BETWEEN_METRICS, "fairness")

    @model_validator(mode="after")
    def _mode(self) -> FairnessRule:
        if self.mode == "significance" and self.metric in BETWEEN_METRICS:
            raise ValueError(
                "mode 'significance' tests each group against the reference group; "
                f"use a per-group metric, or mode 'bound' for {self.metric}"
            )
        if self.group is not None and self.metric in BETWEEN_METRICS:
            raise ValueError(f"`group` does not apply to the between-group metric {self.metric}")
        return self


class PerformanceRule(_Comparison):
    """Performance: overall (``scope: overall``), a floor for every group (``per_group``), or the
    largest gap between groups (``gap``, max - min over the groups of ``feature`` or of all)."""

    kind: Literal["performance"]
    scope: Literal["overall", "per_group", "gap"] = "overall"
    feature: str | None = None
    min_group_size: int | None = Field(None, ge=1)

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return check_metric(v, PERFORMANCE_METRICS, "performance")

    @model_validator(mode="after")
    def _scope(self) -> PerformanceRule:
        if self.scope != "overall" and self.metric not in PER_GROUP_PERFORMANCE:
            raise ValueError(
                f"{self.metric} is not computed per group; per-group metrics: "
                f"{', '.join(PER_GROUP_PERFORMANCE)}"
            )
        if self.scope == "overall" and self.feature is not None:
            raise ValueError("`feature` applies to scope per_group or gap")
        return self


class ExplanationRule(_Comparison):
    """Compare an explanation metric: share of attribution on sensitive features (or proxies),
    additivity error, sensitive features among the top ``k``, stability of the top reasons."""

    kind: Literal["explanation"]
    k: int | None = Field(None, ge=1, description="for sensitive_in_top_k: how many top features")

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return check_metric(v, EXPLANATION_METRICS, "explanation")


class DataRule(_Comparison):
    """Data governance: group sizes and shares, missing values per group, unknown sensitive
    values, label balance (share of the minority class)."""

    kind: Literal["data"]
    feature: str | None = None

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return check_metric(v, DATA_METRICS, "data")


#: Which way is better, for metrics a regression rule can watch without an explicit direction.
HIGHER_IS_BETTER = {
    "impact_ratio",
    "scoring_impact_ratio",
    "tpr",
    "tnr",
    "ppv",
    "npv",
    "accuracy",
    "auc",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "demographic_parity_ratio",
}
LOWER_IS_BETTER = {
    "fpr",
    "fnr",
    "fdr",
    "for",
    "ece",
    "demographic_parity_difference",
    "equalized_odds_difference",
    "equal_opportunity_difference",
}


class RegressionRule(_Strict):
    """No metric may worsen beyond ``tolerance`` against a baseline report (``--baseline``), even
    when it still meets its threshold. Fairness metrics are compared group by group."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: Literal["regression"]
    metric: str
    section: Literal["fairness", "performance"] = "fairness"
    feature: str | None = None
    tolerance: float = Field(0.0, ge=0, description="allowed worsening")
    direction: Literal["higher_is_better", "lower_is_better"] | None = None
    severity: Literal["error", "warning"] = "error"
    description: str | None = None

    @model_validator(mode="after")
    def _check(self) -> RegressionRule:
        allowed = (
            PERFORMANCE_METRICS
            if self.section == "performance"
            else GROUP_METRICS + BETWEEN_METRICS
        )
        check_metric(self.metric, allowed, self.section)
        if self.direction is None and self.metric not in HIGHER_IS_BETTER | LOWER_IS_BETTER:
            raise ValueError(
                f"say which way is better for {self.metric}: direction: higher_is_better or lower_is_better"
            )
        if self.section == "performance" and self.feature is not None:
            raise ValueError("`feature` applies to fairness regressions")
        return self

    @property
    def higher_is_better(self) -> bool:
        if self.direction is not None:
            return self.direction == "higher_is_better"
        return self.metric in HIGHER_IS_BETTER


class DriftRule(_Strict):
    """Population drift of the audit data against the reference data (``reference_dataset``).

    A column has drifted when its population stability index exceeds ``threshold`` AND its
    two-sample test (KS for numbers, chi-squared for categories) gives p < ``alpha``: PSI alone
    reads high on small samples with no drift at all. ``per_group`` also judges each group of
    each sensitive feature (groups too small to compare are skipped).
    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: Literal["drift"]
    target: Literal["features", "label", "predictions"] = "features"
    feature: str | None = None
    per_group: bool = False
    threshold: float = Field(0.25, gt=0, description="PSI above this (and significant) is drift")
    alpha: float = Field(0.001, gt=0, lt=1)
    severity: Literal["error", "warning"] = "error"
    description: str | None = None

    @model_validator(mode="after")
    def _check(self) -> DriftRule:
        if self.target != "features" and (self.feature is not None or self.per_group):
            raise ValueError("`feature` and `per_group` apply to target: features")
        return self


class DocumentationRule(_Strict):
    """The model's registry entry carries the named metadata (owner, intended use, ...)."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: Literal["documentation"]
    require: list[Literal["owner", "intended_use", "training_data", "limitations"]] = Field(
        min_length=1
    )
    severity: Literal["error", "warning"] = "error"
    description: str | None = None


Rule = Annotated[
    FairnessRule
    | PerformanceRule
    | ExplanationRule
    | DataRule
    | DocumentationRule
    | RegressionRule
    | DriftRule,
    Field(discriminator="kind"),
]
AnyRule = (
    FairnessRule
    | PerformanceRule
    | ExplanationRule
    | DataRule
    | DocumentationRule
    | RegressionRule
    | DriftRule
)


class Waiver(_Strict):
    """An accepted failure of one rule: who approved it, why, and until when."""

    rule: str
    reason: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    expires: date


class ChecklistItem(_Strict):
    """An obligation the policy tracks: evidenced by a section of the report, or left to the provider.

    ``evidence`` names the report section that evidences the item (``fairness``, ``performance``,
    ``explanations``, ``data``, ``provenance``, ``rules``) or is ``provider`` when the report cannot
    evidence it and the provider must complete it by hand.
    """

    id: str
    reference: str
    text: str
    evidence: Literal[
        "fairness", "performance", "explanations", "data", "provenance", "rules", "provider"
    ]


class PolicyDocument(_Strict):
    """One policy file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: Literal["audit/v1"] = Field(alias="apiVersion")
    kind: Literal["Policy"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: str
    description: str | None = None
    references: list[str] = Field(default_factory=list)
    not_covered: list[str] = Field(
        default_factory=list, description="what this policy does not check (shown in the report)"
    )
    extends: list[str] = Field(
        default_factory=list, description="packs in policies/ by name, or paths to policy files"
    )
    min_group_size: int | None = Field(
        None, ge=1, description="groups smaller than this are reported but not judged (default 30)"
    )
    exclude_below_share: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="leave groups under this share of the data out of impact ratios (NYC LL144: 0.02)",
    )
    reference_group: Literal["most_favoured", "largest"] | dict[str, str] = Field(
        "most_favoured", description="most_favoured, largest, or {feature: group}"
    )
    rules: list[Rule] = Field(default_factory=list)
    waivers: list[Waiver] = Field(default_factory=list)
    checklist: list[ChecklistItem] = Field(
        default_factory=list,
        description="obligations: evidenced by the report, or left to the provider",
    )
    report_sections: list[Literal["nyc_ll144_summary"]] = Field(
        default_factory=list, description="extra report sections a regulation requires"
    )


DEFAULT_MIN_GROUP_SIZE = 30


@dataclass(frozen=True)
class RuleOrigin:
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Policy:
    """A validated policy with every inherited rule resolved, and where each came from."""

    document: PolicyDocument
    path: Path
    sha256: str
    rules: list[AnyRule]
    origins: dict[str, RuleOrigin]
    waivers: list[Waiver]
    waiver_lines: dict[int, RuleOrigin]
    checklist: list[ChecklistItem] = field(default_factory=list)
    report_sections: list[str] = field(default_factory=list)
    sources: list[tuple[Path, str]] = field(default_factory=list)
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    exclude_below_share: float | None = None
    reference_group: Any = "most_favoured"

    @property
    def name(self) -> str:
        return self.document.name

    def where(self, rule_id: str) -> str:
        origin = self.origins.get(rule_id)
        return str(origin) if origin else str(self.path)


def packs_dir() -> Path:
    """The shipped policy packs: ``<repo>/policies``, or the copy inside an installed package."""
    repo = Path(__file__).resolve().parents[2] / "policies"
    return repo if repo.is_dir() else Path(__file__).resolve().parent / "packs"


def _resolve_base(ref: str, parent: Path, where: str) -> Path:
    if "/" not in ref and not ref.endswith((".yaml", ".yml")):
        path = packs_dir() / f"{ref}.yaml"
        if not path.is_file():
            packs = sorted(p.stem for p in packs_dir().glob("*.yaml") if p.name != "rbac.yaml")
            close = difflib.get_close_matches(ref, packs, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise InputError(
                f"{where}: extends: no policy pack named {ref!r}",
                hint=f"{hint}shipped packs: {', '.join(packs)}; or give a path to a .yaml file",
            )
        return path.resolve()
    path = (parent / ref).resolve()
    if not path.is_file():
        raise InputError(f"{where}: extends: {ref} ({path}) does not exist", hint="check the path")
    return path


@dataclass
class _Resolved:
    rules: dict[str, tuple[AnyRule, RuleOrigin]]
    waivers: list[tuple[Waiver, RuleOrigin]]
    checklist: dict[str, ChecklistItem]
    sections: list[str]
    sources: list[tuple[Path, str]]
    min_group_size: int | None
    exclude_below_share: float | None
    reference_group: Any


def _load(path: Path, stack: tuple[Path, ...]) -> tuple[PolicyDocument, _Resolved]:
    document = load_model(path, PolicyDocument)
    _, node = read_yaml(path)
    resolved = _Resolved({}, [], {}, [], [], None, None, None)
    for i, ref in enumerate(document.extends):
        pos, _ = locate(node, ["extends", i])
        where = f"{path}:{pos[0]}" if pos else str(path)
        base_path = _resolve_base(ref, path.parent, where)
        if base_path in stack or base_path == path.resolve():
            chain = " -> ".join(p.name for p in (*stack, path.resolve(), base_path))
            raise InputError(
                f"{where}: extends: cycle in policy inheritance ({chain})",
                hint="remove one of the extends entries so that no policy inherits from itself",
            )
        _, base = _load(base_path, (*stack, path.resolve()))
        resolved.rules.update(base.rules)
        resolved.waivers += base.waivers
        resolved.checklist.update(base.checklist)
        resolved.sections += [x for x in base.sections if x not in resolved.sections]
        resolved.sources += [s for s in base.sources if s not in resolved.sources]
        for attr in ("min_group_size", "exclude_below_share", "reference_group"):
            if getattr(resolved, attr) is None:
                setattr(resolved, attr, getattr(base, attr))
    own: dict[str, int] = {}
    for i, rule in enumerate(document.rules):
        pos, _ = locate(node, ["rules", i, "id"])
        line = pos[0] if pos else 0
        if rule.id in own:
            raise InputError(
                f"{path}:{line}: rules[{i}].id: duplicate rule id {rule.id!r} "
                f"(first defined at line {own[rule.id]})",
                hint="give every rule its own id (to override an inherited rule, define it once)",
            )
        own[rule.id] = line
        resolved.rules[rule.id] = (rule, RuleOrigin(path, line))  # overrides an inherited rule
    resolved.checklist.update({item.id: item for item in document.checklist})
    resolved.sections += [x for x in document.report_sections if x not in resolved.sections]
    for i, waiver in enumerate(document.waivers):
        pos, _ = locate(node, ["waivers", i, "rule"])
        resolved.waivers.append((waiver, RuleOrigin(path, pos[0] if pos else 0)))
    resolved.sources.append((path, hashlib.sha256(path.read_bytes()).hexdigest()))
    fields_set = document.model_fields_set
    if "min_group_size" in fields_set:
        resolved.min_group_size = document.min_group_size
    if "exclude_below_share" in fields_set:
        resolved.exclude_below_share = document.exclude_below_share
    if "reference_group" in fields_set:
        resolved.reference_group = document.reference_group
    return document, resolved


def load_policy(path: Path) -> Policy:
    """Read, validate and resolve a policy file (and what it extends).

    Raises InputError naming the file and line for every problem: YAML syntax, unknown key, wrong
    type, unknown metric, duplicate rule id, unknown pack, cycle in ``extends``, a waiver for a rule
    the policy does not have, and a policy that ends up with no rules at all.
    """
    if not path.is_file():
        raise InputError(f"policy file {path} does not exist", hint="check the `policy` path")
    path = path.resolve()
    document, resolved = _load(path, ())
    if not resolved.rules:
        raise InputError(
            f"{path}: the policy has no rules (an empty policy would pass anything)",
            hint="add rules, or extend a pack such as four-fifths",
        )
    for waiver, origin in resolved.waivers:
        if waiver.rule not in resolved.rules:
            close = difflib.get_close_matches(waiver.rule, list(resolved.rules), n=1)
            raise InputError(
                f"{origin}: waivers: no rule {waiver.rule!r} to waive"
                + (f" (did you mean '{close[0]}'?)" if close else ""),
                hint="a waiver names the id of a rule in this policy or one it extends",
            )
    if len(resolved.sources) == 1:
        digest = resolved.sources[0][1]
    else:
        listing = "".join(f"{sha}  {p.name}\n" for p, sha in resolved.sources)
        digest = hashlib.sha256(listing.encode()).hexdigest()
    return Policy(
        document=document,
        path=path,
        sha256=digest,
        rules=[rule for rule, _ in resolved.rules.values()],
        origins={rid: origin for rid, (_, origin) in resolved.rules.items()},
        waivers=[w for w, _ in resolved.waivers],
        waiver_lines={i: o for i, (_, o) in enumerate(resolved.waivers)},
        checklist=list(resolved.checklist.values()),
        report_sections=resolved.sections,
        sources=resolved.sources,
        min_group_size=resolved.min_group_size or DEFAULT_MIN_GROUP_SIZE,
        exclude_below_share=resolved.exclude_below_share,
        reference_group=resolved.reference_group or "most_favoured",
    )


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema of a policy file, for editors (published as policies/policy.schema.json)."""
    schema = PolicyDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "audit policy (apiVersion audit/v1)"
    return schema
