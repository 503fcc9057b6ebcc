"""Policy files: strict validation with file:line messages, and rule evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.errors import InputError
from audit.policy import Evidence, evaluate, load_policy, outcome
from tests.conftest import POLICIES

GOOD = """\
apiVersion: audit/v1
kind: Policy
name: t
version: "1"
min_group_size: 10
rules:
  - id: ir
    kind: fairness
    metric: impact_ratio
    operator: ">="
    threshold: 0.8
  - id: acc
    kind: performance
    metric: accuracy
    operator: ">="
    threshold: 0.7
    severity: warning
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_policies_validate(path: Path) -> None:
    policy = load_policy(path)
    assert policy.rules
    assert policy.document.references, "every pack cites its source"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("threshold: 0.7", "threshold: 0.7\n    treshold: 1"),
            ["policy.yaml:17:", "treshold", "unknown key", "did you mean 'threshold'"],
        ),
        (
            GOOD.replace("threshold: 0.8", "threshold: high"),
            ["policy.yaml:11:", "rules[0].threshold", "valid number"],
        ),
        (
            GOOD.replace("metric: impact_ratio", "metric: impact_raito"),
            ["policy.yaml:9:", "unknown fairness metric", "did you mean 'impact_ratio'"],
        ),
        (
            GOOD.replace("id: acc", "id: ir"),
            ["policy.yaml:12:", "duplicate rule id 'ir'", "line 7"],
        ),
        (GOOD.replace("rules:\n", "rules: [\n", 1), ["policy.yaml:", "invalid YAML"]),
        (GOOD.replace("kind: performance", "kind: perf"), ["policy.yaml:13:", "rules[1].kind"]),
        (GOOD.split("rules:")[0] + "rules: []\n", ["policy.yaml:", "no rules", "would pass anything"]),
        (
            GOOD.replace("apiVersion: audit/v1", "apiVersion: audit/v9"),
            ["policy.yaml:1:", "apiVersion"],
        ),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "unknown-metric",
        "duplicate-id",
        "yaml-syntax",
        "unknown-kind",
        "empty-rules",
        "api-version",
    ],
)
def test_broken_policy_names_file_and_line(tmp_path: Path, text: str, expected: list[str]) -> None:
    with pytest.raises(InputError) as info:
        load_policy(write(tmp_path, text))
    message = info.value.diagnostics()
    for part in expected:
        assert part in message, message


def _evidence(ir_female: float, n_female: int = 100, acc: float = 0.9) -> Evidence:
    groups = {
        "Female": {"n": n_female, "impact_ratio": ir_female, "selection_rate": 0.3 * ir_female},
        "Male": {"n": 200, "impact_ratio": 1.0, "selection_rate": 0.3},
    }
    fairness = {"sex": {"reference_group": "Male", "groups": groups}}
    return Evidence(fairness, {"accuracy": acc}, {"status": "skipped", "reason": "no model"})


def test_four_fifths_boundary(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD))
    at = evaluate(policy, _evidence(0.80))
    below = evaluate(policy, _evidence(0.79))
    assert at[0].status == "pass" and outcome(at) == "pass"  # exactly 0.8 is not "less than"
    assert below[0].status == "fail" and below[0].group == "Female" and below[0].value == 0.79
    assert outcome(below) == "fail"


def test_small_group_not_judged_and_reported(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD))
    finding = evaluate(policy, _evidence(0.2, n_female=5))[0]
    assert finding.status == "pass"  # only Male (n=200) is judged
    assert "not judged" in finding.message and "Female (n=5)" in finding.message


def test_warning_does_not_block(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD))
    findings = evaluate(policy, _evidence(0.9, acc=0.5))
    assert findings[1].status == "warn"
    assert outcome(findings) == "pass"


def test_unknown_feature_or_group_in_rule_is_an_input_error(tmp_path: Path) -> None:
    text = GOOD.replace("    threshold: 0.8\n", "    threshold: 0.8\n    feature: gender\n", 1)
    policy = load_policy(write(tmp_path, text))
    with pytest.raises(InputError, match=r"policy.yaml:7: rule 'ir' names feature 'gender'"):
        evaluate(policy, _evidence(0.9))
    text = GOOD.replace("    threshold: 0.8\n", "    threshold: 0.8\n    group: Femal\n", 1)
    policy = load_policy(write(tmp_path, text))
    with pytest.raises(InputError, match="names group 'Femal'"):
        evaluate(policy, _evidence(0.9))


def test_explanation_rule_skipped_with_reason(tmp_path: Path) -> None:
    text = (
        GOOD
        + '  - id: share\n    kind: explanation\n    metric: sensitive_share\n    operator: "<="\n    threshold: 0.1\n'
    )
    policy = load_policy(write(tmp_path, text))
    finding = evaluate(policy, _evidence(0.9))[2]
    assert finding.status == "skipped" and "no model" in finding.message
