"""Drift rules fire on a shifted copy of the audit data and not on a resampled one.

The audits skip proxy models and stability re-explanations (tests.helpers.light_spec): the
drift section and the rules are what is checked, and they do not depend on either."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from audit.cli import main
from tests.conftest import SAMPLES
from tests.helpers import light_spec

POLICY = """\
apiVersion: audit/v1
kind: Policy
name: drift
version: "1"
rules:
  - id: feature-drift
    kind: drift
  - id: group-drift
    kind: drift
    per_group: true
    severity: warning
  - id: prediction-drift
    kind: drift
    target: predictions
    severity: warning
"""


def _audit(tmp_path: Path, data: pd.DataFrame, name: str) -> tuple[int, dict]:
    csv = tmp_path / f"{name}.csv"
    data.to_csv(csv, index=False)
    policy = tmp_path / "drift.yaml"
    policy.write_text(POLICY)
    code = main(
        [
            "run",
            str(light_spec(SAMPLES / "adult", tmp_path / "spec")),
            "--dataset",
            str(csv),
            "--policy",
            str(policy),
            "--name",
            name,
            "--output",
            str(tmp_path / "out"),
            "--no-pdf",
            "--no-sign",
            "--explain-sample-size",
            "20",
        ]
    )
    report = json.loads((tmp_path / "out" / name / "v1" / "report.json").read_text())
    return code, {r["id"]: r for r in report["rules"]} | {"_drift": report["drift"]}


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "adult" / "adult_test.csv")


def test_resampled_copy_does_not_drift(adult: pd.DataFrame, tmp_path: Path) -> None:
    resampled = adult.sample(n=len(adult), replace=True, random_state=7)
    code, rules = _audit(tmp_path, resampled, "resampled")
    assert rules["feature-drift"]["status"] == "pass"
    assert rules["prediction-drift"]["status"] == "pass"
    assert rules["_drift"]["max_psi"] < 0.1


def test_shifted_copy_drifts_on_exactly_the_shifted_columns(
    adult: pd.DataFrame, tmp_path: Path
) -> None:
    shifted = adult.copy()
    shifted["age"] = shifted["age"] + 10
    shifted["hours_per_week"] = (shifted["hours_per_week"] * 1.3).round().astype(int)
    code, rules = _audit(tmp_path, shifted, "shifted")
    assert code == 1
    feature = rules["feature-drift"]
    assert feature["status"] == "fail"
    assert {b["feature"] for b in feature["breaches"]} == {"age", "hours_per_week"}
    assert all(b["value"] > 0.25 for b in feature["breaches"])
    drift = rules["_drift"]["features"]
    assert drift["age"]["p_value"] < 1e-6 and drift["education_num"]["psi"] < 0.1
    assert rules["group-drift"]["status"] == "warn"
    assert any(b["group"] == "sex=Female" for b in rules["group-drift"]["breaches"])


def test_no_reference_means_drift_rules_are_skipped(tmp_path: Path) -> None:
    import yaml

    spec = light_spec(SAMPLES / "adult", tmp_path, reference_dataset=None)
    assert "reference_dataset" not in yaml.safe_load(spec.read_text())
    policy = tmp_path / "drift.yaml"
    policy.write_text(POLICY)
    args = [
        "run",
        str(spec),
        "--policy",
        str(policy),
        "--output",
        str(tmp_path / "o"),
        "--no-pdf",
        "--no-sign",
        "--explain-sample-size",
        "20",
    ]
    assert main(args) == 0
    report = json.loads((tmp_path / "o" / "adult-income" / "v1" / "report.json").read_text())
    assert report["drift"] is None
    assert {r["status"] for r in report["rules"]} == {"skipped"}
    assert "no reference_dataset" in report["rules"][0]["message"]
