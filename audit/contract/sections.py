"""Report sections other than fairness and explanations: who, what, rules, numbers, provenance."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Digest, Interval, Num, Scalar, Section

Status = Literal["pass", "fail", "warn", "skipped", "waived"]
RuleKind = Literal[
    "fairness",
    "performance",
    "explanation",
    "direct_use",
    "data",
    "documentation",
    "regression",
    "drift",
]


class Tool(Section):
    name: Literal["audit"]
    version: str


class Actor(Section):
    """Who ran the audit: an OS account (kernel uid) or a token's service account."""

    user: str
    uid: int | None = None
    source: str


# -- subject -----------------------------------------------------------------------------------


class Artifact(Section):
    """A model or dataset as audited: name, version, digest and where it came from."""

    name: str
    version: str | None
    sha256: Digest
    source: Literal["registry", "path", "mlflow"]
    path: str | None = None
    metadata: dict[str, str] | None = None
    format: str | None = None
    estimator: str | None = None
    unsafe_format: bool | None = None


class DatasetInfo(Artifact):
    """The audited dataset, with what the audit read from it."""

    description: str | None = None
    rows: int = Field(ge=0)
    label: str
    positive_label: Scalar
    sensitive_features: list[str]
    decisions: Literal["model", "recorded"]


class ReferenceData(Artifact):
    """The reference (training) dataset drift is measured against."""

    rows: int | None = None


class ChecklistEntry(Section):
    id: str
    reference: str
    text: str
    evidence: str


class PolicyInfo(Section):
    name: str
    version: str
    sha256: Digest
    path: str | None = None
    description: str | None = None
    references: list[str] = Field(default_factory=list)
    not_covered: list[str] = Field(default_factory=list)
    checklist: list[ChecklistEntry] = Field(default_factory=list)
    report_sections: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)


class Subject(Section):
    """What was audited: the system's name, its model, dataset, reference data and policy."""

    name: str
    model: Artifact | None
    dataset: DatasetInfo
    reference: ReferenceData | None = None
    policy: PolicyInfo


# -- rules -------------------------------------------------------------------------------------


class Breach(Section):
    feature: str | None
    group: str | None
    value: float


class Waiver(Section):
    reason: str
    approved_by: str
    expires: str
    active: bool


class BaselineComparison(Section):
    """A regression rule's numbers: the baseline's value, the current one and the change."""

    baseline_report: str | None
    baseline_version: int | None
    baseline: float
    current: float
    change: float


class Finding(Section):
    """The judgement of one rule, with the evidence that decided it."""

    id: str
    kind: RuleKind
    metric: str
    severity: Literal["error", "warning"]
    status: Status
    value: Num | None
    threshold: Num
    operator: Literal[">=", ">", "<=", "<"]
    feature: str | None
    group: str | None
    message: str
    ci: Interval | None
    mode: str | None = None
    breaches: list[Breach] = Field(default_factory=list)
    waiver: Waiver | None = None
    comparison: BaselineComparison | None = None

    @property
    def location(self) -> str | None:
        """Where it was judged: ``feature=group``, the feature alone, or None."""
        if self.feature is not None and self.group is not None:
            return f"{self.feature}={self.group}"
        return self.feature if self.feature is not None else self.group


class Summary(Section):
    rules: int = Field(ge=0)
    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    warned: int = Field(ge=0)
    waived: int = Field(ge=0)
    skipped: int = Field(ge=0)


# -- numbers -----------------------------------------------------------------------------------


class Performance(Section):
    """Overall performance of the decisions against the true labels."""

    n: int
    base_rate: float | None
    selection_rate: float | None
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None
    tp: int
    fp: int
    fn: int
    tn: int

    def metric(self, name: str) -> float | None:
        value = getattr(self, name, None)
        return None if value is None else float(value)


class ProfileGroup(Section):
    n: int
    share: float | None
    missing_share: float
    base_rate: float

    def metric(self, name: str) -> float | None:
        value = getattr(self, name, None)
        return None if value is None else float(value)


class ProfileFeature(Section):
    groups: dict[str, ProfileGroup]
    unknown: int
    unknown_share: float | None


class DataProfile(Section):
    """Rows, missing values, label balance, and per sensitive feature its groups' shares."""

    rows: int
    rows_with_missing_values: int | None = None
    label_balance: float | None
    features: dict[str, ProfileFeature]


class GroupDrift(Section):
    status: Literal["insufficient_data"] | None = None
    psi: float | None = None
    p_value: float | None = None
    n_reference: int
    n_current: int


class ColumnDrift(Section):
    type: str
    psi: float
    test: str
    statistic: float | None
    p_value: float | None
    n_reference: int
    n_current: int
    missing_share_reference: float
    missing_share_current: float
    bins: int
    groups: dict[str, dict[str, GroupDrift]] | None = None


class DriftMethod(Section):
    psi_bins: int
    binning: str
    numeric_test: str
    categorical_test: str
    epsilon: Num
    min_group_size: int


class Drift(Section):
    """Drift of the audit data (and the model's scores) against the reference data."""

    method: DriftMethod
    features: dict[str, ColumnDrift]
    label: ColumnDrift | None
    predictions: ColumnDrift | None
    max_psi: float | None
    max_psi_feature: str | None


# -- provenance --------------------------------------------------------------------------------


class BaselineRef(Section):
    """The earlier report regression rules compared against."""

    report_id: str
    version: int
    created_at: str | None = None
    sha256: Digest
    path: str | None = None


class Settings(Section):
    """Run settings that shape the numbers (the methodology's inputs)."""

    seed: int
    explain_sample_size: int | None = None
    explain_background_size: int | None = None
    min_group_size: int | None = None
    distribution_date: str | None = None
    score_threshold: Num | str | None = None


class Environment(Section):
    python: str
    platform: str | None = None
    libraries: dict[str, str]
