"""Report sections other than fairness and explanations: who, what, rules, numbers, provenance."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Digest, Interval, Num, Scalar, Section
from .endpoint import EndpointCalls

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
    "continuous_fairness",
    "multiclass_fairness",
    "counterfactual",
    "shift",
    "trend",
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
    source: Literal["registry", "path", "mlflow", "endpoint"]
    path: str | None = None
    metadata: dict[str, str] | None = None
    format: str | None = None
    estimator: str | None = None
    unsafe_format: bool | None = None
    #: a model behind an endpoint (``source: endpoint``): the calls and their digests
    endpoint: EndpointCalls | None = None


class DatasetInfo(Artifact):
    """The audited dataset, with what the audit read from it."""

    description: str | None = None
    rows: int = Field(ge=0)
    label: str | None  # None: the audit has no label (ground truth)
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
    #: the date the policy's text and references were last checked (YYYY-MM-DD); only when set
    checked: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
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


Verdict = Literal["breach", "no_breach", "inconclusive"]


class RuleTest(Section):
    """One comparison a rule made: a group's (or feature's) value, interval and test.

    ``hypothesis`` says what was tested (``H0: impact_ratio >= 0.8``); ``p_value`` is the raw
    one-sided p-value and ``p_adjusted`` the one adjusted across all the rule's comparisons
    (``Finding.correction``). ``mde`` is the minimum detectable effect: the value of the metric
    at which the test detects a breach with power 0.8 at this group's size.
    """

    feature: str | None
    group: str | None
    n: int | None = None
    value: float | None
    ci: Interval | None = None
    ci_method: str | None = None
    hypothesis: str | None = None
    method: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    mde: float | None = None
    verdict: Verdict
    reason: str | None = None


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
    #: what the evidence shows (modes bound and significance): a breach, none, or inconclusive
    verdict: Verdict | None = None
    #: what an inconclusive verdict counts as (the policy's ``on_inconclusive``)
    on_inconclusive: Literal["fail", "warn", "pass"] | None = None
    #: multiple-comparison correction of the p-values (``holm``, ``bh``, ``none``)
    correction: Literal["holm", "bh", "none"] | None = None
    alpha: float | None = None
    tests: list[RuleTest] = Field(default_factory=list)

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
    inconclusive: int = Field(0, ge=0)  # findings whose evidence was inconclusive (any status)


# -- numbers -----------------------------------------------------------------------------------


#: Why a metric or rule that compares with the true outcome is not assessable in an audit of
#: decisions or scores alone (findings read "not assessable: the audit has no label").
NO_LABEL = "the audit has no label"


class Performance(Section):
    """Overall performance of the decisions against the true labels.

    With no label (``status == "not_assessable"``, and ``reason`` says why) only ``n`` and the
    selection rate are computed; every label-dependent metric and count is None.
    """

    n: int
    base_rate: float | None
    selection_rate: float | None
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None
    tp: int | None
    fp: int | None
    fn: int | None
    tn: int | None
    status: Literal["computed", "not_assessable", "not_applicable"] = "computed"
    reason: str | None = None
    #: multiclass: how precision, recall and F1 average over the classes
    average: Literal["macro"] | None = None

    def metric(self, name: str) -> float | None:
        value = getattr(self, name, None)
        return None if value is None else float(value)


class ProfileGroup(Section):
    n: int
    share: float | None
    missing_share: float
    base_rate: float | None  # None: the audit has no label

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
    #: None: every score kept exactly; else the scores were rounded to this step (an audit with
    #: more than 2,000,000 distinct scores: audit.fairness.counters)
    score_resolution: float | None = None


class Environment(Section):
    python: str
    platform: str | None = None
    libraries: dict[str, str]
