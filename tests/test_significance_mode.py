"""Significance mode on real counts: a small group with a large gap that is not significant
passes; a large group with a significant gap fails; the findings say why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audit.fairness import compute_fairness
from audit.policy import evaluate, load_policy
from tests.helpers import as_json, evidence

POLICY = """\
apiVersion: audit/v1
kind: Policy
name: sig
version: "1"
min_group_size: 5
rules:
  - id: four-fifths-significant
    kind: fairness
    metric: impact_ratio
    feature: {feature}
    operator: ">="
    threshold: 0.8
    mode: significance
    alpha: 0.05
  - id: four-fifths-point
    kind: fairness
    metric: impact_ratio
    feature: {feature}
    operator: ">="
    threshold: 0.8
"""


def _judge(tmp_path: Path, groups: dict[str, tuple[int, int]]) -> dict:
    labels, selected = [], []
    for g, (n, s) in groups.items():
        labels += [g] * n
        selected += [True] * s + [False] * (n - s)
    y_pred = np.array(selected)
    y_true = y_pred.copy()
    fairness = as_json(
        compute_fairness(y_true, y_pred, pd.DataFrame({"group": labels}), seed=0).to_report()
    )
    path = tmp_path / "p.yaml"
    path.write_text(POLICY.format(feature="group"))
    findings = evaluate(
        load_policy(path), evidence(fairness, {}, {"status": "skipped", "reason": "-"})
    )
    return {f.id: f for f in findings} | {"_fairness": fairness}


def test_small_group_large_gap_not_significant_passes(tmp_path: Path) -> None:
    # reference 500/1000 = 0.5; small group 2/8 = 0.25: impact ratio 0.5, far below 0.8
    out = _judge(tmp_path, {"ref": (1000, 500), "small": (8, 2)})
    g = out["_fairness"]["group"]["groups"]["small"]
    assert g["impact_ratio"] == 0.5 and g["tests"]["selection_rate"]["p_value"] > 0.05
    assert g["tests"]["selection_rate"]["method"] == "fisher"  # small counts
    sig, point = out["four-fifths-significant"], out["four-fifths-point"]
    assert point.status == "fail"  # on the point estimate it breaches
    assert sig.status == "pass" and sig.mode == "significance"
    assert "judged on significance" in sig.message


def test_large_group_significant_gap_fails(tmp_path: Path) -> None:
    # reference 500/1000 = 0.5; large group 350/1000 = 0.35: impact ratio 0.7, p << 0.05
    out = _judge(tmp_path, {"ref": (1000, 500), "large": (1000, 350)})
    g = out["_fairness"]["group"]["groups"]["large"]
    assert abs(g["impact_ratio"] - 0.7) < 1e-12 and g["tests"]["selection_rate"]["p_value"] < 1e-6
    sig = out["four-fifths-significant"]
    assert sig.status == "fail" and sig.group == "large"
    assert "judged on significance" in sig.message and "alpha 0.05" in sig.message
