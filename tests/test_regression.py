"""Regression against a baseline report: a retrained model whose impact ratio worsens fails,
even though it still meets the policy's threshold."""

from __future__ import annotations

import json
from pathlib import Path

import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from audit.cli import main
from tests.conftest import SAMPLES
from tests.helpers import light_spec

POLICY = """\
apiVersion: audit/v1
kind: Policy
name: gate
version: "1"
rules:
  - id: four-fifths-sex-floor
    kind: fairness
    metric: impact_ratio
    feature: sex
    operator: ">="
    threshold: 0.25
  - id: no-worse-impact-ratio
    kind: regression
    metric: impact_ratio
    feature: sex
    tolerance: 0.02
  - id: no-worse-accuracy
    kind: regression
    section: performance
    metric: accuracy
    tolerance: 0.05
"""


def _train_without(columns: set[str], path: Path) -> None:
    """A retrained Adult model that does not see ``columns`` (seeded, small, fast)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train", SAMPLES / "train.py")
    assert spec and spec.loader
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    frame = train.read_adult(SAMPLES / "adult" / "raw" / "adult.data", skip_first_line=False)
    cats = [c for c in train.ADULT_CATEGORICAL_FEATURES if c not in columns]
    nums = [c for c in train.ADULT_NUMERIC_FEATURES if c not in columns]
    model = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cats),
                        ("num", "passthrough", nums),
                    ]
                ),
            ),
            ("model", HistGradientBoostingClassifier(max_iter=60, random_state=0)),
        ]
    ).fit(frame[cats + nums], frame["income"])
    sio.dump(model, path)


def test_worse_impact_ratio_fails_against_baseline_while_meeting_threshold(
    tmp_path: Path, audit_home: Path
) -> None:
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY)
    fairer = tmp_path / "fairer.skops"
    _train_without({"sex", "relationship", "marital_status"}, fairer)
    out = tmp_path / "reports"
    # no proxy models or stability replicas: the rules judge fairness and performance only
    common = [
        "run",
        str(light_spec(SAMPLES / "adult", tmp_path / "spec")),
        "--policy",
        str(policy),
        "--output",
        str(out),
        "--no-pdf",
        "--explain-sample-size",
        "20",
    ]
    # v1: the fairer model is the baseline; no baseline for it, so regression rules are skipped
    assert main([*common, "--model", str(fairer)]) == 0
    v1 = json.loads((out / "adult-income" / "v1" / "report.json").read_text())
    assert [r["status"] for r in v1["rules"]] == ["pass", "skipped", "skipped"]
    # v2: the shipped model, compared with v1 by name@version
    assert main([*common, "--baseline", "adult-income@1"]) == 1
    v2 = json.loads((out / "adult-income" / "v2" / "report.json").read_text())
    floor, ir, acc = v2["rules"]
    ir_old = v1["fairness"]["sex"]["groups"]["Female"]["impact_ratio"]
    ir_new = v2["fairness"]["sex"]["groups"]["Female"]["impact_ratio"]
    assert ir_new >= 0.25 and floor["status"] == "pass"  # still meets the threshold
    assert ir_old - ir_new > 0.02
    assert ir["status"] == "fail" and ir["group"] == "Female"
    assert ir["comparison"]["baseline"] == ir_old and ir["comparison"]["current"] == ir_new
    assert abs(ir["comparison"]["change"] - (ir_new - ir_old)) < 1e-12
    assert "went from" in ir["message"] and "baseline v1" in ir["message"]
    assert acc["status"] == "pass"
    assert v2["baseline"]["report_id"] == v1["report_id"] and v2["baseline"]["version"] == 1
    # comparing with itself: no regression
    assert main([*common, "--baseline", str(out / "adult-income" / "v2")]) == 0


def test_missing_baseline_is_a_clear_input_error(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "run",
            str(SAMPLES / "adult" / "audit.yaml"),
            "--output",
            str(tmp_path),
            "--no-pdf",
            "--baseline",
            "adult-income@7",
        ]
    )
    assert code == 2
    assert "baseline report" in capsys.readouterr().err
