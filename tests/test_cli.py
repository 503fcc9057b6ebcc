"""End to end through the CLI, on the shipped Adult sample (the German one where only the CLI's
plumbing is tested): exit codes, bundles, versions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score

from audit.cli import main
from audit.digest import sha256_file
from audit.loaders import TRUSTED_TYPES
from tests.conftest import ROOT, SAMPLES

ADULT_SPEC = SAMPLES / "adult" / "audit.yaml"
ADULT_MODEL = SAMPLES / "adult" / "models" / "adult-gbm.skops"
ADULT_DATA = SAMPLES / "adult" / "adult_test.csv"
# The German sample (300 rows, a random forest) for tests of the CLI's plumbing rather than of
# the Adult numbers: the same code paths, a fraction of the time.
GERMAN_SPEC = SAMPLES / "german" / "audit.yaml"
GERMAN_MODEL = SAMPLES / "german" / "models" / "german-rf.skops"
GERMAN_DATA = SAMPLES / "german" / "german_test.csv"
# `changes` is the diff against the previous version, which v1 does not have.
VOLATILE = {"report_id", "version", "previous", "created_at", "changes", "trend"}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The Adult audit run twice into one output folder (v1, then v2 without its PDF)."""
    out = tmp_path_factory.mktemp("reports")
    codes = [main(["run", str(ADULT_SPEC), "--output", str(out)])]
    codes.append(main(["run", str(ADULT_SPEC), "--output", str(out), "--no-pdf"]))
    base = out / "adult-income"
    return {"codes": codes, "v1": base / "v1", "v2": base / "v2", "out": out}


def load(bundle: Path) -> dict:
    return json.loads((bundle / "report.json").read_text())


def test_exit_code_follows_the_policy_outcome(two_runs: dict) -> None:
    report = load(two_runs["v1"])
    expected = 1 if report["outcome"] == "fail" else 0
    assert two_runs["codes"] == [expected, expected]
    failed = [r for r in report["rules"] if r["status"] == "fail" and r["severity"] == "error"]
    assert (report["outcome"] == "fail") == bool(failed)


def test_bundle_has_contract_keys_and_files(two_runs: dict) -> None:
    report = load(two_runs["v1"])
    for key in [
        "schema_version",
        "report_id",
        "version",
        "previous",
        "created_at",
        "tool",
        "actor",
        "subject",
        "outcome",
        "rules",
        "fairness",
        "performance",
        "explanations",
        "environment",
    ]:
        assert key in report
    subject = report["subject"]
    assert subject["model"]["sha256"] == sha256_file(ADULT_MODEL)
    assert subject["model"]["format"] == "skops"
    assert subject["dataset"]["sha256"] == sha256_file(ADULT_DATA)
    assert subject["dataset"]["rows"] == 16281
    assert subject["policy"]["sha256"] == sha256_file(ROOT / "policies" / "baseline.yaml")
    for rule in report["rules"]:
        assert {
            "id",
            "kind",
            "metric",
            "severity",
            "status",
            "value",
            "threshold",
            "operator",
            "group",
            "ci",
            "message",
        } <= set(rule)
    assert (two_runs["v1"] / "report.pdf").read_bytes().startswith(b"%PDF-")
    html = (two_runs["v1"] / "report.html").read_text()
    assert "<html" in html and report["report_id"] in html
    assert not list(two_runs["v1"].parent.glob(".tmp-*")), "no half-written bundle left behind"


def test_second_run_is_v2_and_v1_is_untouched(two_runs: dict, tmp_path: Path) -> None:
    v1, v2 = two_runs["v1"], two_runs["v2"]
    before = {p.name: sha256_file(p) for p in v1.iterdir()}
    main(["run", str(ADULT_SPEC), "--output", str(two_runs["out"]), "--no-pdf"])  # v3
    assert {p.name: sha256_file(p) for p in v1.iterdir()} == before
    r1, r2 = load(v1), load(v2)
    assert (r1["version"], r2["version"]) == (1, 2)
    assert r1["previous"] is None
    assert r2["previous"] == "sha256:" + sha256_file(v1 / "report.json")
    assert {k: v for k, v in r1.items() if k not in VOLATILE} == {
        k: v for k, v in r2.items() if k not in VOLATILE
    }


def test_fairness_equals_fairlearn_on_adult(two_runs: dict) -> None:
    report = load(two_runs["v1"])
    model = sio.load(ADULT_MODEL, trusted=list(TRUSTED_TYPES))
    data = pd.read_csv(ADULT_DATA, skipinitialspace=True)
    y_true = (data["income"] == ">50K").to_numpy()
    y_pred = model.predict(data[list(model.feature_names_in_)]) == ">50K"
    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "ppv": lambda t, p: precision_score(t, p, zero_division=np.nan),
    }
    for feature, sens in [
        ("sex", data["sex"]),
        ("race", data["race"]),
        ("sex&race", data[["sex", "race"]]),
    ]:
        mf = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=sens)
        groups = report["fairness"][feature]["groups"]
        by_group = mf.by_group
        assert len(groups) == len(by_group)
        for idx, row in by_group.iterrows():
            label = "&".join(map(str, idx)) if isinstance(idx, tuple) else str(idx)
            for name in metrics:
                ours = groups[label][name]
                if np.isnan(row[name]):
                    assert ours is None
                else:
                    assert ours == pytest.approx(row[name], abs=1e-12), (feature, label, name)
        best = by_group["selection_rate"].max()
        for idx, row in by_group.iterrows():
            label = "&".join(map(str, idx)) if isinstance(idx, tuple) else str(idx)
            assert groups[label]["impact_ratio"] == pytest.approx(
                row["selection_rate"] / best, abs=1e-12
            )


def test_explanations_are_per_original_column(two_runs: dict) -> None:
    ex = load(two_runs["v1"])["explanations"]
    assert ex["status"] == "computed" and ex["method"] == "tree"
    assert ex["sample_size"] == 1000
    features = {g["feature"] for g in ex["global"]}
    model = sio.load(ADULT_MODEL, trusted=list(TRUSTED_TYPES))
    assert features == set(model.feature_names_in_)
    assert "sex" in features and not any("_" in f and f.startswith("sex") for f in features)
    assert ex["additivity"]["max_abs_error"] < 1e-6


def test_verbose_prints_stage_times(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "run",
            str(GERMAN_SPEC),
            "--output",
            str(tmp_path),
            "--no-pdf",
            "-v",
            "--explain-sample-size",
            "50",
        ]
    )
    assert code in (0, 1)
    err = capsys.readouterr().err
    for stage in (
        "load model",
        "load dataset",
        "fairness",
        "explanations",
        "report bundle",
        "total",
    ):
        assert stage in err


def _spec(tmp_path: Path, **changes: str) -> Path:
    """A copy of the Adult spec in tmp_path, paths made absolute, with raw YAML ``changes``."""
    data = yaml.safe_load(ADULT_SPEC.read_text())
    for key in ("model", "dataset", "policy", "output", "reference_dataset"):
        data[key] = str(ADULT_SPEC.parent / data[key])
    data["explain"]["reason_codes"] = str(ADULT_SPEC.parent / data["explain"]["reason_codes"])
    for key, raw in changes.items():
        value = yaml.safe_load(raw)
        data[key] = (
            str(ADULT_SPEC.parent / value) if key in ("model", "dataset", "policy") else value
        )
    spec = tmp_path / "audit.yaml"
    spec.write_text(yaml.safe_dump(data))
    return spec


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"label": "salary"}, "label column 'salary' is missing"),
        ({"sensitive_features": "[sex, gender]"}, "sensitive feature column 'gender' is missing"),
        ({"positive_label": "'>60K'"}, "positive_label '>60K' never occurs"),
        ({"dataset": "../german/german_test.csv"}, "model needs columns the dataset lacks"),
        ({"dataset": "no-such.csv"}, "no-such.csv does not exist"),
        ({"policy": "audit.yaml"}, "audit.yaml:3:1: apiVersion"),
        ({"model": "adult_test.csv"}, "unrecognised model format"),
        ({"seed": "many"}, "seed: Input should be a valid integer"),
    ],
    ids=[
        "label",
        "sensitive",
        "positive-label",
        "wrong-data",
        "missing-file",
        "invalid-policy",
        "not-a-model",
        "bad-seed",
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict, needle: str
) -> None:
    spec = _spec(tmp_path, **changes)
    out = tmp_path / "out"
    code = main(["run", str(spec), "--output", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert needle in captured.err
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) <= 8, captured.err
    assert not out.exists() or not any(out.rglob("report.json"))


def test_pickle_model_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pickle

    marker = tmp_path / "pwned"
    bad = tmp_path / "model.skops"  # the extension lies; the content decides

    class Payload:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, (f"touch {marker}",))

    bad.write_bytes(pickle.dumps(Payload()))
    code = main(["run", str(ADULT_SPEC), "--model", str(bad), "--output", str(tmp_path / "o")])
    assert code == 2
    assert "refuses pickle" in capsys.readouterr().err
    assert not marker.exists()


def test_tampered_registered_model_exits_3(
    audit_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "registry",
                "add-model",
                "--name",
                "german-rf",
                "--version",
                "1",
                "--owner",
                "samples",
                str(GERMAN_MODEL),
            ]
        )
        == 0
    )
    assert (
        main(
            ["registry", "add-dataset", "--name", "german-test", "--version", "1", str(GERMAN_DATA)]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["registry", "list"]) == 0
    listing = capsys.readouterr().out
    assert "german-rf@1" in listing and "german-test@1" in listing
    assert main(["registry", "show", "german-rf@1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sha256"] == sha256_file(GERMAN_MODEL) and shown["metadata"] == {
        "owner": "samples"
    }

    args = [
        "run",
        str(GERMAN_SPEC),
        "--model",
        "german-rf@1",
        "--dataset",
        "german-test@1",
        "--output",
        "out",
        "--no-pdf",
        "--explain-sample-size",
        "20",
    ]
    assert main(args) in (0, 1)
    stored = audit_home / "objects" / "sha256" / shown["sha256"]
    stored.chmod(0o644)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "model german-rf@1 was altered after registration" in err
    assert len(list((Path("out") / "german-credit").glob("v*"))) == 1


def test_recorded_predictions_skip_explanations(tmp_path: Path) -> None:
    data = pd.read_csv(ADULT_DATA, skipinitialspace=True)
    model = sio.load(ADULT_MODEL, trusted=list(TRUSTED_TYPES))
    data["decision"] = model.predict(data[list(model.feature_names_in_)])
    csv = tmp_path / "decisions.csv"
    data.to_csv(csv, index=False)
    spec = tmp_path / "audit.yaml"
    spec.write_text(
        f"name: recorded\ndataset: {csv}\nlabel: income\npositive_label: '>50K'\n"
        f"sensitive_features: [sex, race]\npolicy: {ROOT / 'policies' / 'four-fifths.yaml'}\n"
        f"predictions: decision\noutput: {tmp_path / 'out'}\n"
    )
    assert main(["run", str(spec), "--no-pdf"]) == 1  # the sample model fails four-fifths
    report = load(tmp_path / "out" / "recorded" / "v1")
    assert report["explanations"]["status"] == "skipped"
    assert "no model" in report["explanations"]["reason"]
    assert report["subject"]["model"] is None


def test_console_script_and_help_document_exit_codes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "audit", "run", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    for code in ("0  audit ran", "1  audit ran", "2  bad input", "3  integrity", "4  access"):
        assert code in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "audit", "run", "nope.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "nope.yaml: file not found" in result.stderr


def test_bundle_has_ci_outputs_matching_the_rules(two_runs: dict) -> None:

    report = load(two_runs["v1"])
    suite = ET.parse(two_runs["v1"] / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    failed = [r["id"] for r in report["rules"] if r["status"] == "fail"]
    assert int(suite.get("failures", "-1")) == len(failed)
    assert {tc.get("name") for tc in suite.iter("testcase")} == {r["id"] for r in report["rules"]}
    summary = (two_runs["v1"] / "summary.md").read_text()
    assert ("FAIL" if report["outcome"] == "fail" else "PASS") in summary.splitlines()[0]
    for rule_id in failed:
        assert rule_id in summary


def test_report_commands(
    two_runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v1, v2 = two_runs["v1"], two_runs["v2"]
    out = str(two_runs["out"])
    capsys.readouterr()
    assert main(["report", "list", "--output", out]) == 0
    listing = capsys.readouterr().out
    assert "adult-income/v1" in listing and "adult-income/v2" in listing
    assert main(["report", "show", str(v2 / "report.json")]) == 0
    shown = capsys.readouterr().out
    assert load(v2)["report_id"] in shown and "four-fifths-sex" in shown
    subject = load(v2)["subject"]
    assert f"model     adult-gbm.skops (file)  sha256:{subject['model']['sha256'][:12]}" in shown
    assert f"reference adult_train.csv (file)  sha256:{subject['reference']['sha256'][:12]}" in (
        shown
    )
    assert "None" not in shown
    assert main(["report", "diff", str(v1), str(v2)]) == 0
    assert capsys.readouterr().out.strip() == "no changes since v1"
    assert load(v2)["changes"]["lines"] == []
    zipped = tmp_path / "v1.zip"
    assert main(["report", "export", str(v1), str(zipped)]) == 0
    import zipfile

    with zipfile.ZipFile(zipped) as zf:
        names = {n.split("/", 1)[1] for n in zf.namelist()}
    assert names == {p.name for p in v1.iterdir()}
    assert main(["report", "export", str(v1), str(zipped)]) == 2  # never overwrites
    assert main(["report", "show", str(tmp_path)]) == 2
    assert "is not a report bundle" in capsys.readouterr().err


def test_ci_modes(
    audit_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--json, --quiet, --fail-on warning and GITHUB_STEP_SUMMARY, on a policy with only a warning."""
    policy = tmp_path / "warn.yaml"
    policy.write_text(
        'apiVersion: audit/v1\nkind: Policy\nname: w\nversion: "1"\nrules:\n'
        "  - id: eo\n    kind: fairness\n    metric: equalized_odds_difference\n"
        '    operator: "<="\n    threshold: 0.01\n    severity: warning\n'
    )
    summary_file = tmp_path / "step-summary.md"
    summary_file.write_text("previous step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    base = [
        "run",
        str(GERMAN_SPEC),
        "--policy",
        str(policy),
        "--output",
        str(tmp_path / "o"),
        "--no-pdf",
        "--explain-sample-size",
        "20",
    ]
    capsys.readouterr()
    assert main([*base, "--json"]) == 0  # a warning does not block by default
    result = json.loads(capsys.readouterr().out)
    assert result["outcome"] == "pass" and result["summary"]["warned"] == 1
    assert result["bundle"].endswith("german-credit/v1") and result["exit_code"] == 0
    assert main([*base, "--fail-on", "warning", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    text = summary_file.read_text()
    assert text.startswith("previous step\n")  # appended, not overwritten
    assert text.count("audit of german-credit") == 2


def test_real_bundle_shows_what_issue_6_promises(two_runs: dict) -> None:
    """On the real Adult bundle, not a fixture: the five files; report.json valid against the
    published schema; HTML with no http(s)/file reference and no script; the PDF's text (as a
    text extractor reads it, no de-hyphenation) names every rule id and the outcome; its pages
    pass the pixel layout check; junit.xml fails exactly the failed rules."""
    import pypdfium2 as pdfium

    from audit.report import validate_report
    from tests.test_pdf_layout import _check

    v1 = two_runs["v1"]
    names = {p.name for p in v1.iterdir()}
    assert {"report.json", "report.html", "report.pdf", "junit.xml", "summary.md"} <= names
    report = load(v1)
    validate_report(report)
    html = (v1 / "report.html").read_text("utf-8")
    assert not re.search(r"(?i)(https?|file|ftp):|<script|<link|<iframe|<object|@import", html)
    pdf = (v1 / "report.pdf").read_bytes()
    doc = pdfium.PdfDocument(pdf)
    text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    for rule in report["rules"]:
        assert rule["id"] in text, rule["id"]
    assert report["outcome"].upper() in text
    _check(pdf, html)
    failed = [r["id"] for r in report["rules"] if r["status"] == "fail"]
    suite = ET.parse(v1 / "junit.xml").getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", "-1")) == len(failed)
    summary = (v1 / "summary.md").read_text("utf-8")
    assert all(rule_id in summary for rule_id in failed) and str(v1) in summary


def test_second_version_says_what_changed_since_the_first(two_runs: dict) -> None:
    v2 = load(two_runs["v2"])
    assert v2["changes"]["since"]["version"] == 1
    html = (two_runs["v2"] / "report.html").read_text("utf-8")
    section = re.search(r'<section id="changes".*?</section>', html, flags=re.S)
    assert section, "v2 has no 'since the last audit' section"
    assert "Since the last audit (v1)" in section.group(0)
    assert '<a href="#changes">' in html  # listed in the contents
    assert "changes" not in load(two_runs["v1"]) or load(two_runs["v1"])["changes"] is None


def test_quiet_first_run_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--quiet on a fresh home: no "first use" or "created a signing identity" notice (CI logs
    stay clean); the admin binding is still recorded in the access log."""
    from audit.access import AccessLog

    home = tmp_path / "fresh-home"
    monkeypatch.setenv("AUDIT_HOME", str(home))
    spec = SAMPLES / "german" / "audit.yaml"
    args = ["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf", "-q"]
    assert main([*args, "--explain-sample-size", "20"]) in (0, 1)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (home / "rbac.yaml").is_file() and (home / "keys" / "identity.json").is_file()
    actions = [e.action for e in AccessLog(home / "access.db").entries()]
    assert actions[0] == "rbac:admin", actions  # the first-use binding, logged
