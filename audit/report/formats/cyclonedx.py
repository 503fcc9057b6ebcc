"""bom.cdx.json: the audit as a CycloneDX 1.6 ML-BOM, for supply-chain and regulatory tooling.

One BOM per bundle, built from the typed report alone:

- ``metadata.component`` is the audited model (``machine-learning-model``, with the sha256 of
  the file that was audited) or, for recorded decisions, the system as an ``application``;
- ``components`` hold the model, the audited dataset, the reference dataset and the policy
  (``data`` components with their digests; the dataset names its sensitive features);
- the model's ``modelCard`` carries ``modelParameters`` (task, estimator, datasets),
  ``quantitativeAnalysis.performanceMetrics`` with every per-group metric of the report as one
  metric per ``slice`` (``feature=group``) with its confidence interval, the overall metrics
  without a slice, and ``considerations``: intended use and limitations from the model's
  registry metadata, one ``fairnessAssessment`` per judged fairness finding (harms for a
  failed, warned or waived rule, benefits for a passed one) and one ethical consideration per
  rule that failed, warned, was waived or could not be judged.

cyclonedx-python-lib has no classes for model cards, so the document is built here as JSON and
then checked with that library's strict JSON-schema validator (the CycloneDX 1.6 schema it
ships): a BOM that does not validate is never written. The file is a bundle file like any
other, so the attestation covers it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

from audit.contract import GROUP_METRICS, Artifact, FeatureFairness, Finding, Report

from .interface import OutputFormat, rule_location

SPEC_VERSION = "1.6"
#: the rule kinds whose findings are fairness assessments
FAIRNESS_KINDS = ("fairness", "continuous_fairness", "multiclass_fairness", "counterfactual")
#: overall metrics of ``report.performance`` published without a slice
OVERALL = ("accuracy", "precision", "recall", "f1", "roc_auc", "selection_rate", "base_rate")


class BomInvalid(RuntimeError):
    """The BOM built from a report does not validate against CycloneDX 1.6 (a bug)."""


class CycloneDxFormat(OutputFormat):
    """bom.cdx.json (see the module docstring)."""

    name: ClassVar[str] = "cyclonedx"
    filename: ClassVar[str] = "bom.cdx.json"

    def text(self, report: Report, *, bundle_path: str | None = None) -> str:
        text = json.dumps(bom(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        problem = validate_bom(text)
        if problem is not None:
            raise BomInvalid(f"bom.cdx.json does not validate against CycloneDX 1.6: {problem}")
        return text


def validate_bom(text: str) -> str | None:
    """None if ``text`` is a valid CycloneDX 1.6 JSON BOM, else the validator's message."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return None if error is None else str(error)


def bom(report: Report) -> dict[str, Any]:
    """The ML-BOM of ``report`` as JSON-ready data."""
    subject = report.subject
    data = _artifact(subject.dataset, "data", "dataset")
    data["data"][0]["sensitiveData"] = list(subject.dataset.sensitive_features)
    components = [data]
    datasets = [{"ref": data["bom-ref"]}]
    if subject.reference is not None:
        reference = _artifact(subject.reference, "data", "reference")
        components.append(reference)
        datasets.append({"ref": reference["bom-ref"]})
    policy = subject.policy
    components.append(
        {
            "type": "data",
            "bom-ref": f"policy:{policy.name}",
            "name": policy.name,
            **({"version": str(policy.version)} if policy.version else {}),
            "hashes": [_hash(policy.sha256)],
            "data": [
                {
                    "type": "configuration",
                    "name": policy.path or policy.name,
                    **({"description": policy.description} if policy.description else {}),
                }
            ],
        }
    )
    if subject.model is not None:
        main = _artifact(subject.model, "machine-learning-model", "model")
        main["modelCard"] = _model_card(report, datasets)
        components.insert(0, main)
        described = {k: v for k, v in main.items() if k != "modelCard"}
    else:
        described = {
            "type": "application",
            "bom-ref": f"system:{subject.name}",
            "name": subject.name,
            "description": "recorded decisions (no model was called)",
        }
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{serial(report.report_id)}",
        "version": 1,
        "metadata": {
            "timestamp": report.created_at,
            "tools": {
                "components": [
                    {"type": "application", "name": "audit", "version": report.tool.version}
                ]
            },
            "component": described,
            "properties": [
                {"name": "audit:system", "value": subject.name},
                {"name": "audit:report_version", "value": str(report.version)},
                {"name": "audit:outcome", "value": report.outcome},
            ],
        },
        "components": components,
    }


def serial(report_id: str) -> uuid.UUID:
    """The BOM's serial number: the report id when it is a UUID (as the publisher makes them),
    else a UUID derived from it (name-based, so the same report gives the same BOM)."""
    try:
        return uuid.UUID(report_id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"audit-report:{report_id}")


def _hash(digest: str) -> dict[str, str]:
    return {"alg": "SHA-256", "content": digest.removeprefix("sha256:")}


def _artifact(artifact: Artifact, kind: str, role: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": kind,
        "bom-ref": f"{role}:{artifact.name}@{artifact.version or ''}",
        "name": artifact.name,
    }
    if artifact.version:
        out["version"] = str(artifact.version)
    if artifact.estimator:
        out["description"] = artifact.estimator
    meta = artifact.metadata or {}
    if meta.get("owner"):
        out["authors"] = [{"name": meta["owner"]}]
    out["hashes"] = [_hash(artifact.sha256)]
    props = [{"name": "audit:source", "value": artifact.source}]
    if artifact.format:
        props.append({"name": "audit:format", "value": artifact.format})
    out["properties"] = props
    if kind == "data":
        entry: dict[str, Any] = {"type": "dataset", "name": artifact.name}
        description = getattr(artifact, "description", None)
        if description:
            entry["description"] = description
        out["data"] = [entry]
    return out


def _model_card(report: Report, datasets: list[dict[str, str]]) -> dict[str, Any]:
    model = report.subject.model
    assert model is not None
    task = report.task or "binary"
    parameters: dict[str, Any] = {
        "approach": {"type": "supervised"},
        "task": "regression" if task == "regression" else "classification",
        "datasets": datasets,
        "inputs": [{"format": "tabular"}],
        "outputs": [{"format": "number" if task == "regression" else "class label"}],
    }
    if model.estimator:
        parameters["modelArchitecture"] = model.estimator
    card: dict[str, Any] = {"bom-ref": "model-card", "modelParameters": parameters}
    metrics = list(performance_metrics(report))
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    card["considerations"] = _considerations(report)
    return card


def _metric(name: str, value: Any, slice_: str | None, ci: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": name, "value": repr(value)}
    if slice_ is not None:
        out["slice"] = slice_
    if ci is not None and len(ci) == 2 and None not in ci:
        out["confidenceInterval"] = {"lowerBound": repr(ci[0]), "upperBound": repr(ci[1])}
    return out


def performance_metrics(report: Report) -> Iterator[dict[str, Any]]:
    """Every overall metric (no slice) and every per-group metric (``feature=group``, with its
    confidence interval where the report has one), in report order."""
    perf = report.performance
    for name in OVERALL:
        value = perf.metric(name)
        if value is not None:
            yield _metric(name, value, None)
    yield from fairness_metrics(report.fairness)
    if report.multiclass is not None:
        for c, by_feature in report.multiclass.by_class.items():
            yield from fairness_metrics(by_feature, prefix=f"class={c};")
    if report.regression is not None:
        yield from regression_metrics(report)


#: the per-group statistics of a regression audit published as metrics
REGRESSION_GROUP = (
    "mean_prediction",
    "mean_outcome",
    "mae",
    "rmse",
    "mse",
    "mean_prediction_difference",
    "mean_prediction_ratio",
    "mean_outcome_ratio",
    "ks_statistic",
    "ks_p_value",
    "wasserstein",
)


def regression_metrics(report: Report) -> Iterator[dict[str, Any]]:
    """A regression audit's overall statistics (no slice) and every group's (``feature=group``)."""
    reg = report.regression
    assert reg is not None
    overall = reg.overall
    for name in ("mean_prediction", "mean_outcome", "mae", "rmse", "mse"):
        value = getattr(overall, name, None)
        if value is not None:
            yield _metric(name, value, None, overall.ci.get(name))
    for feature, f in reg.features.items():
        for group, g in f.groups.items():
            for name in REGRESSION_GROUP:
                value = getattr(g, name, None)
                if value is not None:
                    yield _metric(name, value, f"{feature}={group}", g.ci.get(name))


def fairness_metrics(
    fairness: dict[str, FeatureFairness], prefix: str = ""
) -> Iterator[dict[str, Any]]:
    """The per-group metrics of one fairness section (``prefix`` names a class: ``class=c;``)."""
    for feature, ff in fairness.items():
        for group, g in ff.groups.items():
            slice_ = f"{prefix}{feature}={group}"
            for metric in GROUP_METRICS:
                value = g.metric(metric.name)
                if value is None:
                    continue
                yield _metric(metric.name, value, slice_, g.ci.get(metric.name))


def _considerations(report: Report) -> dict[str, Any]:
    model = report.subject.model
    meta = (model.metadata if model else None) or {}
    out: dict[str, Any] = {}
    if meta.get("intended_use"):
        out["useCases"] = [meta["intended_use"]]
    if meta.get("limitations"):
        out["technicalLimitations"] = [meta["limitations"]]
    # a fairness rule that was judged (not skipped for want of data) is an assessment
    assessments = [
        _assessment(f)
        for f in report.rules
        if f.kind in FAIRNESS_KINDS and f.status in ("pass", "fail", "warn", "waived")
    ]
    if assessments:
        out["fairnessAssessments"] = assessments
    risks = [
        {"name": f"{f.id} ({f.status}): {f.message}"}
        for f in report.rules
        if f.status in ("fail", "warn", "waived", "skipped")
    ]
    if risks:
        out["ethicalConsiderations"] = risks
    return out


def _assessment(finding: Finding) -> dict[str, str]:
    """One fairness finding as a CycloneDX fairness assessment."""
    places = [loc for b in finding.breaches if (loc := rule_location(b))]
    where = rule_location(finding)
    group = ", ".join(places) if places else (where or "every group")
    out = {"groupAtRisk": group}
    text = f"{finding.id} ({finding.status}): {finding.message}"
    if finding.status in ("fail", "warn", "waived"):
        out["harms"] = text
    else:
        out["benefits"] = text
    if finding.waiver is not None:
        out["mitigationStrategy"] = (
            f"waived by {finding.waiver.approved_by} until {finding.waiver.expires}: "
            f"{finding.waiver.reason}"
        )
    return out
