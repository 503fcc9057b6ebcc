"""The explanations section: SHAP importance, direct use and proxies of sensitive features,
per-group importance, reasons."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import Interval, Num, Scalar, Section


class Importance(Section):
    """Mean |SHAP| of one feature, its share of the total, and its bootstrap interval."""

    feature: str
    mean_abs_shap: float
    share: float
    ci: Interval | None = None


class DirectUse(Section):
    """A sensitive feature that is itself a model input: its mean |SHAP|, share of the total and
    1-based rank in global importance."""

    feature: str
    mean_abs_shap: float
    share: float
    rank: int


class ProxyAssociation(Section):
    """Association of a model input with a sensitive feature: ``value`` is the ``measure``
    (Cramér's V) that decides ``proxy`` (at least ``proxy_threshold``); mutual information in
    nats and normalized mutual information (arithmetic mean of the two entropies) on the same
    category codes."""

    feature: str
    sensitive_feature: str
    measure: str
    value: float
    proxy: bool
    mutual_information: float | None = None
    normalized_mutual_information: float | None = None


class ProxyModel(Section):
    """How well the non-sensitive model inputs jointly predict a sensitive feature: the mean
    held-out ROC AUC over stratified cross-validation folds (macro one-vs-rest for more than two
    classes); ``auc`` is None when it could not be computed (``note`` says why)."""

    sensitive_feature: str
    auc: float | None
    fold_aucs: list[float]
    folds: int
    rows: int
    classes: list[str]
    inputs: list[str]
    method: str
    predictable: bool
    note: str | None


class GroupImportance(Section):
    n: int
    small: bool
    global_: list[Importance] = Field(alias="global")
    top_features: list[str]
    sensitive_share: float | None
    rank_correlation_with_overall: float | None


class Distribution(Section):
    """Per-row SHAP values of one feature, binned, with the feature's level per bin."""

    feature: str
    low: float
    high: float
    counts: list[int]
    levels: list[float | None] | None
    median_level: float | None


class Additivity(Section):
    max_abs_error: float
    mean_abs_error: float
    rows: int | None = None
    tolerance: Num | None = None
    rows_above_tolerance: int | None = None


class SamplingError(Section):
    max: float
    mean: float


class ReasonCodesInfo(Section):
    name: str
    version: str | None
    sha256: str


class ReasonSummary(Section):
    feature: str
    code: str
    text: str
    decisions: int
    share: float
    first_reason: int


class Stability(Section):
    replicas: int
    rows_checked: int
    background_size: int | None
    top_k: int
    mean: float | None
    min: float | None
    share_fully_stable: float | None


class Reason(Section):
    rank: int
    feature: str
    code: str
    text: str
    attribution: float
    value: Scalar


class Contribution(Section):
    feature: str
    value: Scalar
    attribution: float


class DecisionExample(Section):
    row_id: Scalar
    decision: Scalar
    reasons: list[Reason]
    additivity_error: float
    stability: float | None
    base_value: float
    model_output: float
    contributions: list[Contribution]


class ReasonsComputed(Section):
    status: Literal["computed"]
    max_reasons: int
    relative_to: str
    reason_codes: ReasonCodesInfo
    explained_decisions: int
    adverse_decisions: int
    decisions_with_sensitive_reason: int
    sensitive_reason_share: float
    summary: list[ReasonSummary]
    stability: Stability
    examples: list[DecisionExample]
    #: with ``explain.rows: adverse``: the fidelity of every adverse decision's explanation
    additivity: Additivity | None = None


class Skipped(Section):
    """A stage that did not run, and why."""

    status: Literal["skipped"]
    reason: str


Reasons = Annotated[ReasonsComputed | Skipped, Field(discriminator="status")]


class ClassExplanation(Section):
    """One class of a multiclass model explained against the rest (``Explanations.by_class``)."""

    output_space: str
    base_value: float
    global_: list[Importance] = Field(alias="global")
    sensitive_share: float | None = None
    additivity: Additivity


class ExplanationsComputed(Section):
    status: Literal["computed"]
    method: str
    explainer: str
    output_space: str | None = None
    background: str | None = None
    rows: str | None = None
    sample_size: int
    population_rows: int | None = None
    seed: int
    background_size: int | None = None
    base_value: float | None = None
    confidence_level: float | None = None
    global_: list[Importance] = Field(alias="global")
    sensitive_features: list[str] = Field(default_factory=list)
    sensitive_share: float | None = None
    sensitive_share_ci: Interval | None = None
    sensitive_rank: int | None = None
    direct_use: list[DirectUse] = Field(default_factory=list)
    proxies: list[ProxyAssociation] = Field(default_factory=list)
    proxy_threshold: Num | None = None
    proxy_features: list[str] = Field(default_factory=list)
    proxy_share: float | None = None
    proxy_models: list[ProxyModel] = Field(default_factory=list)
    proxy_auc_threshold: Num | None = None
    proxy_auc: float | None = None
    groups: dict[str, dict[str, GroupImportance]] = Field(default_factory=dict)
    distribution: list[Distribution] = Field(default_factory=list)
    additivity: Additivity
    sampling_error: SamplingError | None = None
    reasons: Reasons | None = None
    #: multiclass: each class explained against the rest; the sections above then average
    #: the classes' mean |SHAP| (:mod:`audit.explain.classes`)
    classes: list[str] | None = None
    by_class: dict[str, ClassExplanation] | None = None


Explanations = Annotated[ExplanationsComputed | Skipped, Field(discriminator="status")]
