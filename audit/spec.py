"""The audit spec: what to audit, against which policy, and where the reports go.

Read from ``audit.yaml`` (validated strictly: unknown keys are errors naming file and line) and
overridden by CLI flags. Relative paths resolve against the spec file's folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError
from .names import NAME, VERSION, is_name
from .spec_settings import CounterfactualSettings, EndpointSettings, ShiftScenario, Task
from .yamlio import load_model, validation_message

REF_PATTERN = re.compile(f"^(?P<name>{NAME})@(?P<version>{VERSION})$")
#: ``<name>@<N>`` (or ``<name>@v<N>``): version N of a system in the output folder.
BASELINE_PATTERN = re.compile(f"^(?P<name>{NAME})@v?(?P<n>[0-9]+)$")


class ExplainSettings(BaseModel):
    """How explanations are computed and which decisions get reasons."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_size: int = Field(1000, ge=1, description="rows explained (a seeded random sample)")
    background_size: int = Field(200, ge=1, description="background rows (linear, model-agnostic)")
    rows: Literal["sample", "all", "adverse"] | list[str | int] = Field(
        "sample",
        description="sample, all, adverse (a sample for the report; reasons.csv for every "
        "adverse decision, in a second pass over the data), or a list of row ids (id_column "
        "values or row numbers)",
    )
    method: Literal["auto", "tree", "linear", "permutation"] = "auto"
    permutations: int = Field(4, ge=1, description="orderings per row for permutation SHAP")
    reason_codes: str | None = Field(
        None, description="YAML mapping each input column to a reason code and its wording"
    )
    max_reasons: int = Field(4, ge=1, le=10, description="reasons per adverse decision (ECOA: 4)")
    population: int = Field(
        200_000,
        ge=1,
        description="rows explanations, proxies and stability draw from: every row up to this "
        "many, else a seeded uniform sample of this many (the same on every engine)",
    )
    stability_replicas: int = Field(3, ge=0, description="re-explanations to measure stability")
    stability_rows: int = Field(100, ge=1)
    stability_background: int = Field(50, ge=1)
    proxy_threshold: float = Field(
        0.3, gt=0, le=1, description="Cramér's V at or above this: an input is a strong proxy"
    )
    proxy_auc_threshold: float = Field(
        0.75,
        gt=0.5,
        le=1,
        description="proxy-model AUC at or above this: the inputs predict a sensitive feature",
    )
    proxy_model_rows: int = Field(
        20_000, ge=0, description="rows the proxy models are fitted on at most (0: no models)"
    )


class FairnessSettings(BaseModel):
    """Uncertainty of the fairness metrics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_bootstrap: int = Field(
        1000, ge=0, description="multinomial resamples for intervals (0: none)"
    )
    confidence: float = Field(0.95, gt=0, lt=1)


class EngineSettings(BaseModel):
    """Which backend reads and summarises the data (the report is the same for every one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["auto", "memory", "stream", "dask"] = Field(
        "auto",
        description="memory: read the whole dataset; stream: pyarrow record batches, memory "
        "bounded by batch_rows; dask: partitions on a Dask cluster; auto: stream files over "
        "512 MiB, else memory",
    )
    batch_rows: int = Field(
        250_000,
        ge=1,
        description="rows per batch (stream): memory grows with it (the batch, and the model's "
        "working memory for that many rows)",
    )
    scheduler: str | None = Field(
        None, description="dask: a scheduler address (tcp://host:8786); none starts a LocalCluster"
    )
    workers: int = Field(2, ge=1, description="dask: LocalCluster worker processes")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"backend": value} if isinstance(value, str) else value


class MlflowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: str | None = None
    registry_uri: str | None = None


class AuditSpec(BaseModel):
    """One audit: a model (or recorded decisions), a dataset, a policy, an output folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="the audited system; defaults to the model's name")
    task: Task = Field(
        "binary",
        description="binary: favourable or adverse decisions; multiclass: one of several "
        "classes; regression: a number (a credit limit, a price, a risk score)",
    )
    model: str | None = Field(
        None,
        description="registered name@version, a path to a model file, an MLflow models:/ URI, "
        "or endpoint+https://... (a model behind an MLflow or KServe v2 endpoint)",
    )
    dataset: str = Field(description="registered name@version, or a path to a CSV or Parquet file")
    label: str | None = Field(
        None,
        description="column holding the true outcome; leave it out when there is none (a hiring "
        "audit of decisions or scores alone): metrics and rules that need it are then reported "
        "as not assessable",
    )
    positive_label: str | int | float | bool | None = Field(
        None,
        description="the favourable value: of the label, of the `predictions` column, and the "
        "model's class counted as selected (needed unless the audit has only `scores`)",
    )
    sensitive_features: list[str] = Field(min_length=1)
    policy: str = Field(description="path to a policy YAML file")
    output: str = Field("reports", description="folder that receives reports/<name>/v<N>/")
    predictions: str | None = Field(None, description="column of decisions already made (no model)")
    scores: str | None = Field(None, description="column of scores already made (no model)")
    score_threshold: float | Literal["median"] = Field(
        "median",
        description="with `scores` and no `predictions`: a score at or above this is a selection; "
        "'median' selects scores above the median of the full sample (NYC LL144 scoring rate)",
    )
    reference_dataset: str | None = Field(
        None,
        description="training or reference data (registered name@version or path) for drift checks",
    )
    baseline: str | None = Field(
        None,
        description="a previous report to compare with (regression rules): a report.json, a bundle "
        "folder, or <name>@<N> for version N of a system in the output folder",
    )
    data_description: str | None = Field(
        None, description="where the data comes from and what it holds (published summaries)"
    )
    distribution_date: str | None = Field(
        None, description="the date the audited tool was first distributed (NYC LL144 summary)"
    )
    templates: str | None = Field(
        None,
        description="folder with your own report.html.j2 and report.css (default: report_templates/)",
    )
    id_column: str | None = Field(
        None,
        description="column identifying each row (reasons.csv); never drift-checked or profiled "
        "as a feature",
    )
    dtypes: dict[str, Literal["string", "integer", "float", "category"]] = Field(
        default_factory=dict, description="declared column types (CSV columns are text otherwise)"
    )
    mlflow: MlflowSettings | None = None
    classes: list[str | int | float | bool] | None = Field(
        None,
        description="multiclass with recorded predictions: every class, in order (a model "
        "names its own)",
    )
    favourable: Literal["higher", "lower"] = Field(
        "higher", description="regression: whether a higher prediction favours the person"
    )
    endpoint: EndpointSettings | None = None
    counterfactual: CounterfactualSettings | None = None
    shift: list[ShiftScenario] = Field(default_factory=list)
    seed: int = 0
    explain: ExplainSettings = ExplainSettings()
    fairness: FairnessSettings = FairnessSettings()
    engine: EngineSettings = Field(
        EngineSettings(), description="`engine: stream`, or a mapping of EngineSettings"
    )

    @model_validator(mode="after")
    def _decisions_source(self) -> AuditSpec:
        if self.model is None and self.predictions is None and self.scores is None:
            raise ValueError(
                "give a `model`, or a `predictions` or `scores` column of recorded decisions"
            )
        if self.model is not None and (self.predictions is not None or self.scores is not None):
            raise ValueError("give either a `model` or recorded `predictions`/`scores`, not both")
        if self.task != "binary":
            return self._other_task()
        if self.positive_label is None and (
            self.label is not None or self.model is not None or self.predictions is not None
        ):
            uses = [
                f"the label {self.label!r}" if self.label is not None else None,
                f"the predictions column {self.predictions!r}" if self.predictions else None,
                "the model's classes" if self.model is not None else None,
            ]
            raise ValueError(
                "give `positive_label`: the favourable value of "
                + " and ".join(u for u in uses if u)
                + " (e.g. positive_label: 1)"
            )
        return self._common()

    def _common(self) -> AuditSpec:
        if self.label is not None and self.label in self.sensitive_features:
            raise ValueError(f"the label column {self.label!r} cannot also be a sensitive feature")
        if self.id_column is not None:
            roles = {
                "the label": self.label,
                "the predictions column": self.predictions,
                "the scores column": self.scores,
            }
            taken = [r for r, c in roles.items() if c == self.id_column]
            if self.id_column in self.sensitive_features:
                taken.append("a sensitive feature")
            if taken:
                raise ValueError(
                    f"id_column {self.id_column!r} cannot also be {' or '.join(taken)}: it only "
                    "identifies rows"
                )
        if len(set(self.sensitive_features)) != len(self.sensitive_features):
            raise ValueError("sensitive_features lists a column twice")
        if self.name is not None and not is_name(self.name):
            raise ValueError(
                "name may hold only letters, digits, '.', '_' and '-', starting with a letter "
                "or digit, at most 128 characters (it names a folder)"
            )
        return self

    def _other_task(self) -> AuditSpec:
        """A multiclass or regression audit has no favourable value (positive_label)."""
        if self.positive_label is not None:
            raise ValueError(
                f"positive_label applies to binary audits; task: {self.task} has none (remove it)"
            )
        if self.scores is not None:
            raise ValueError(f"task: {self.task} takes recorded `predictions`, not `scores`")
        return self._common()


@dataclass(frozen=True)
class Ref:
    """A model or dataset reference: a registry entry (``name@version``) or a file path."""

    raw: str
    path: Path | None = None
    name: str | None = None
    version: str | None = None
    uri: str | None = None  # an MLflow model URI, or an endpoint's URL
    endpoint: bool = False  # ``endpoint+https://...``: a model behind an HTTP endpoint

    @property
    def is_registered(self) -> bool:
        return self.path is None and self.uri is None

    def display(self) -> str:
        if self.uri is not None:
            return self.uri
        return f"{self.name}@{self.version}" if self.path is None else str(self.path)


def parse_ref(raw: str, base: Path) -> Ref:
    """``name@version`` refers to the registry unless a file of that name exists; an MLflow URI
    ``models:/<name>/<version>`` to an MLflow registry; ``endpoint+https://...`` to a model
    behind an HTTP endpoint; anything else is a path."""
    if raw.startswith("endpoint+"):
        return Ref(raw=raw, uri=raw[len("endpoint+") :], endpoint=True)
    if raw.startswith("models:/"):
        parts = raw[len("models:/") :].split("/")
        return Ref(raw=raw, name=parts[0], version=parts[1] if len(parts) > 1 else None, uri=raw)
    candidate = (base / raw).resolve() if not Path(raw).is_absolute() else Path(raw)
    m = REF_PATTERN.match(raw)
    if m and not candidate.exists():
        return Ref(raw=raw, name=m["name"], version=m["version"])
    return Ref(raw=raw, path=candidate)


@dataclass(frozen=True)
class ResolvedSpec:
    """A validated spec with every reference resolved against the spec's folder."""

    spec: AuditSpec
    source: Path | None
    model: Ref | None
    dataset: Ref
    policy: Path
    output: Path
    baseline: Path | None = None
    reference: Ref | None = None
    reason_codes: Path | None = None
    templates: Path | None = None

    @property
    def base(self) -> Path:
        return self.source.parent if self.source else Path.cwd()


def load_spec(path: Path, overrides: dict[str, Any] | None = None) -> ResolvedSpec:
    """Read and validate ``path``; apply CLI ``overrides`` (None values are ignored)."""
    spec = load_model(path, AuditSpec)
    return resolve(spec, path, overrides)


def resolve(
    spec: AuditSpec, source: Path | None, overrides: dict[str, Any] | None = None
) -> ResolvedSpec:
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if overrides:
        data = spec.model_dump(exclude_unset=True)
        explain = dict(data.get("explain", {}))
        if "explain_sample_size" in overrides:
            explain["sample_size"] = overrides.pop("explain_sample_size")
        if "explain_rows" in overrides:
            explain["rows"] = overrides.pop("explain_rows")
        engine = dict(data.get("engine", {}))
        for key in ("engine", "batch_rows", "scheduler", "workers"):
            if key in overrides:
                engine["backend" if key == "engine" else key] = overrides.pop(key)
        if engine:
            data["engine"] = engine
        if "reason_codes" in overrides:
            explain["reason_codes"] = str(Path(overrides.pop("reason_codes")).resolve())
        data.update(overrides)
        if explain:
            data["explain"] = explain
        if "model" in overrides:
            data.pop("predictions", None)
            data.pop("scores", None)
        try:
            spec = AuditSpec.model_validate(data)
        except ValidationError as exc:
            raise validation_message(exc, source or Path("<flags>"), None, AuditSpec) from None
    base = source.resolve().parent if source else Path.cwd()

    # Flag values are relative to the working directory, spec values to the spec's folder.
    def base_for(key: str) -> Path:
        return Path.cwd() if key in overrides else base

    model = parse_ref(spec.model, base_for("model")) if spec.model else None
    dataset = parse_ref(spec.dataset, base_for("dataset"))
    policy = (base_for("policy") / spec.policy).resolve()
    output = (base_for("output") / spec.output).resolve()
    baseline = None
    if spec.baseline is not None:
        m = BASELINE_PATTERN.match(spec.baseline)
        candidate = base_for("baseline") / spec.baseline
        if m and not candidate.exists():
            baseline = output / m["name"] / f"v{m['n']}" / "report.json"
        else:
            baseline = candidate.resolve()
            if baseline.is_dir():
                baseline = baseline / "report.json"
    reference = (
        parse_ref(spec.reference_dataset, base_for("reference_dataset"))
        if spec.reference_dataset
        else None
    )
    codes = spec.explain.reason_codes
    reason_codes = (base / codes).resolve() if codes else None
    templates = (base / spec.templates).resolve() if spec.templates else None
    return ResolvedSpec(
        spec, source, model, dataset, policy, output, baseline, reference, reason_codes, templates
    )


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist", hint="check the path in the spec or flag")
    return path
