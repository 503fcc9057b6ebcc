"""bom.cdx.json (CycloneDX 1.6 ML-BOM) and model-card.md in a real bundle.

One German credit audit of a registered model (with its owner, intended use, limitations and
training data recorded) is published with signing; its BOM is checked with cyclonedx-python-lib's
own strict JSON-schema validator, its digests against hashlib over the shipped files, every
per-group metric of report.json against the BOM's slices, and the attestation is shown to cover
the BOM (tampering with it fails verification). The model card's front matter is parsed with
PyYAML and its numbers compared with report.json.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from audit.cli.app import main
from audit.contract import GROUP_METRICS, Report
from audit.report.formats import FORMATS
from audit.report.formats.cyclonedx import validate_bom
from audit.report.formats.interface import fmt_number
from audit.report.formats.markdown import cell
from tests.helpers import light_spec

ROOT = Path(__file__).resolve().parent.parent
GERMAN = ROOT / "samples" / "german"
META = {
    "owner": "Credit risk team",
    "intended_use": "Pre-screening of consumer credit applications | reviewed by a person",
    "limitations": "Trained on 700 German applications from the 1990s",
    "training_data": "70 % split of the UCI German credit data",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bom")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in META.items()]
    model = GERMAN / "models" / "german-rf.skops"
    assert (
        main(["registry", "add-model", str(model), "--name", "german-rf", "--version", "1", *flags])
        == 0
    )
    data = GERMAN / "german_test.csv"
    assert (
        main(["registry", "add-dataset", str(data), "--name", "german-test", "--version", "1"]) == 0
    )
    spec = light_spec(GERMAN, tmp, model="german-rf@1", dataset="german-test@1")
    out = tmp / "reports"
    assert main(["run", str(spec), "--output", str(out), "--no-pdf"]) in (0, 1)
    (folder,) = sorted(out.glob("*/v1"))
    return folder


@pytest.fixture(scope="module")
def bom(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "bom.cdx.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def report(bundle: Path) -> Report:
    return Report.from_bytes((bundle / "report.json").read_bytes())


def test_the_bom_validates_against_cyclonedx_1_6(bundle: Path, bom: dict[str, Any]) -> None:
    text = (bundle / "bom.cdx.json").read_text("utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"


def test_the_validator_refuses_a_broken_bom(bom: dict[str, Any]) -> None:
    """The check is real: a metric value that is not a string, or an unknown key, fails."""
    broken = json.loads(json.dumps(bom))
    card = broken["components"][0]["modelCard"]
    card["quantitativeAnalysis"]["performanceMetrics"][0]["value"] = 0.5
    assert validate_bom(json.dumps(broken)) is not None
    extra = json.loads(json.dumps(bom))
    extra["components"][0]["modelCard"]["fairness"] = "none"
    assert validate_bom(json.dumps(extra)) is not None


def test_components_carry_the_audited_files_digests(bom: dict[str, Any], report: Report) -> None:
    model, dataset, policy = bom["components"]
    assert model["type"] == "machine-learning-model"
    assert model["hashes"] == [
        {"alg": "SHA-256", "content": sha256(GERMAN / "models" / "german-rf.skops")}
    ]
    assert model["authors"] == [{"name": META["owner"]}]
    assert dataset["type"] == "data" and dataset["data"][0]["type"] == "dataset"
    assert dataset["hashes"][0]["content"] == sha256(GERMAN / "german_test.csv")
    assert dataset["data"][0]["sensitiveData"] == ["sex", "age_group"]
    assert policy["data"][0]["type"] == "configuration"
    assert policy["hashes"][0]["content"] == report.subject.policy.sha256.removeprefix("sha256:")
    assert bom["metadata"]["component"]["bom-ref"] == model["bom-ref"]
    assert model["modelCard"]["modelParameters"]["datasets"] == [{"ref": dataset["bom-ref"]}]
    assert bom["serialNumber"] == f"urn:uuid:{report.report_id}"


def test_every_per_group_metric_is_a_slice_with_its_interval(
    bom: dict[str, Any], report: Report
) -> None:
    metrics = bom["components"][0]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    sliced = {(m["type"], m["slice"]): m for m in metrics if "slice" in m}
    expected = 0
    with_ci = 0
    for feature, ff in report.fairness.items():
        for group, g in ff.groups.items():
            for metric in GROUP_METRICS:
                value = g.metric(metric.name)
                if value is None:
                    continue
                expected += 1
                entry = sliced[(metric.name, f"{feature}={group}")]
                assert float(entry["value"]) == value
                ci = g.ci.get(metric.name)
                if ci is not None:
                    with_ci += 1
                    bounds = entry["confidenceInterval"]
                    assert [float(bounds["lowerBound"]), float(bounds["upperBound"])] == ci
    assert expected == len(sliced) and with_ci > 20
    overall = {m["type"]: float(m["value"]) for m in metrics if "slice" not in m}
    assert overall["accuracy"] == report.performance.accuracy


def test_fairness_findings_are_the_considerations(bom: dict[str, Any], report: Report) -> None:
    considerations = bom["components"][0]["modelCard"]["considerations"]
    assert considerations["useCases"] == [META["intended_use"]]
    assert considerations["technicalLimitations"] == [META["limitations"]]
    judged = [f for f in report.rules if f.kind == "fairness" and f.status not in ("skipped",)]
    assessments = considerations.get("fairnessAssessments", [])
    assert len(assessments) == len(judged) > 0
    for finding, entry in zip(judged, assessments, strict=True):
        text = entry.get("harms") or entry.get("benefits")
        assert finding.id in text and finding.message in text
        assert ("harms" in entry) == (finding.status in ("fail", "warn", "waived"))


def test_the_attestation_covers_the_bom_and_the_card(bundle: Path, tmp_path: Path) -> None:
    import base64
    import shutil

    envelope = json.loads((bundle / "attestation.json").read_text("utf-8"))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    attested = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    for name in ("bom.cdx.json", "model-card.md"):
        assert attested[name] == sha256(bundle / name)
    assert main(["verify", str(bundle)]) == 0
    for name in ("bom.cdx.json", "model-card.md"):
        copy = tmp_path / name / bundle.parent.name / bundle.name
        shutil.copytree(bundle, copy)
        target = copy / name
        target.chmod(0o644)
        target.write_text(target.read_text("utf-8").replace("German", "Germen", 1) + " ", "utf-8")
        assert main(["verify", str(copy)]) == 3, name


def test_the_model_card_front_matter_and_numbers(bundle: Path, report: Report) -> None:
    text = (bundle / "model-card.md").read_text("utf-8")
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    meta = yaml.safe_load(front)
    assert meta["library_name"] == "sklearn" and "tabular-classification" in meta["tags"]
    (result,) = meta["model-index"][0]["results"]
    assert result["dataset"]["name"] == "german-test"
    values = {m["type"]: m["value"] for m in result["metrics"]}
    assert values["accuracy"] == report.performance.accuracy
    assert values["roc_auc"] == report.performance.roc_auc
    for heading in (
        "## Model Details",
        "## Uses",
        "## Bias, Risks, and Limitations",
        "## Training Details",
        "## Evaluation",
        "## Model Card Authors",
    ):
        assert heading in body
    assert META["owner"] in body and META["limitations"] in body
    # the pipe in the intended use is escaped, never a table column
    assert "Pre-screening of consumer credit applications \\| reviewed" in body
    lines = body.splitlines()
    for ff in report.fairness.values():
        for group, g in ff.groups.items():
            (row,) = [line for line in lines if line.startswith(f"| {cell(group)} | {g.n} |")]
            sr = g.metric("selection_rate")
            assert row.split(" | ")[2].startswith(fmt_number(sr, 3))


def test_hostile_labels_cannot_break_the_card_or_the_bom(report: Report) -> None:
    """A group label with a newline, YAML and Markdown markup stays one table cell, the
    front matter still parses, and the BOM still validates."""
    data = report.to_json()
    hostile = "x|y\n---\n- owned: *a"
    data["subject"]["name"] = "sys"
    data["subject"]["dataset"]["name"] = "ds: [1, 2]\n---"
    feature = next(iter(data["fairness"]))
    groups = data["fairness"][feature]["groups"]
    first = next(iter(groups))
    groups[hostile] = groups.pop(first)
    typed = Report.model_validate(data)
    card = FORMATS["model-card"].render(typed)
    front = card[4:].split("\n---\n", 1)[0]
    assert yaml.safe_load(front)["datasets"] == ["ds: [1, 2]\n---"]
    assert "x\\|y<br>---<br>- owned: \\*a" in card
    assert validate_bom(FORMATS["cyclonedx"].render(typed)) is None
