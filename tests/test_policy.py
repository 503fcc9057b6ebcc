"""Policy files: strict validation with file:line messages, and rule evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.errors import InputError
from audit.policy import Evidence, evaluate, load_policy, outcome
from tests.conftest import POLICIES
from tests.helpers import evidence

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


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(POLICIES.glob("*.yaml")) if p.name != "rbac.yaml"],
    ids=lambda p: p.name,
)
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
        (
            GOOD.split("rules:")[0] + "rules: []\n",
            ["policy.yaml:", "no rules", "would pass anything"],
        ),
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
    return evidence(fairness, {"accuracy": acc}, {"status": "skipped", "reason": "no model"})


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


# --- composition -----------------------------------------------------------------------------

HEADER = 'apiVersion: audit/v1\nkind: Policy\nname: {name}\nversion: "1"\n'
RULE = (
    "  - id: {id}\n    kind: fairness\n    metric: impact_ratio\n"
    '    operator: ">="\n    threshold: {t}\n'
)


def test_extends_pack_by_name_and_override_by_id(tmp_path: Path) -> None:
    text = (
        HEADER.format(name="child")
        + "extends: [four-fifths]\nrules:\n"
        + RULE.format(id="four-fifths", t=0.9)
        + RULE.format(id="extra", t=0.5)
    )
    policy = load_policy(write(tmp_path, text))
    assert [r.id for r in policy.rules] == ["four-fifths", "extra"]
    assert policy.rules[0].threshold == 0.9  # overridden in place
    assert policy.origins["four-fifths"].path == tmp_path / "policy.yaml"
    assert policy.origins["four-fifths"].line == 7
    assert [p.name for p, _ in policy.sources] == ["four-fifths.yaml", "policy.yaml"]
    assert policy.min_group_size == 30  # inherited from the pack


def test_extends_path_keeps_inherited_rule_origin(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        HEADER.format(name="base") + "min_group_size: 5\nrules:\n" + RULE.format(id="b", t=0.8)
    )
    policy = load_policy(write(tmp_path, HEADER.format(name="c") + "extends: [base.yaml]\n"))
    assert [r.id for r in policy.rules] == ["b"]
    assert str(policy.origins["b"]) == f"{tmp_path / 'base.yaml'}:7"
    assert policy.min_group_size == 5


def test_extends_cycle_and_unknown_pack_are_errors(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        HEADER.format(name="a") + "extends: [b.yaml]\nrules:\n" + RULE.format(id="a", t=0.8)
    )
    (tmp_path / "b.yaml").write_text(
        HEADER.format(name="b") + "extends: [a.yaml]\nrules:\n" + RULE.format(id="b", t=0.8)
    )
    with pytest.raises(
        InputError,
        match=r"b.yaml:5: extends: cycle in policy inheritance \(a.yaml -> b.yaml -> a.yaml\)",
    ):
        load_policy(tmp_path / "a.yaml")
    with pytest.raises(InputError) as info:
        load_policy(write(tmp_path, HEADER.format(name="c") + "extends: [four-fifth]\n"))
    assert "policy.yaml:5: extends: no policy pack named 'four-fifth'" in info.value.diagnostics()
    assert "did you mean 'four-fifths'" in info.value.diagnostics()


# --- waivers ---------------------------------------------------------------------------------

WAIVED = GOOD + (
    "waivers:\n  - rule: ir\n    reason: remediation in progress\n"
    "    approved_by: jane\n    expires: 2027-01-31\n"
)


def test_active_waiver_shows_the_failure_as_waived(tmp_path: Path) -> None:
    from datetime import date

    policy = load_policy(write(tmp_path, WAIVED))
    finding = evaluate(policy, _evidence(0.5), today=date(2027, 1, 31))[0]
    assert finding.status == "waived" and finding.value == 0.5
    assert "WAIVED until 2027-01-31 by jane: remediation in progress" in finding.message
    assert outcome([finding]) == "pass"


def test_expired_waiver_is_not_applied_and_says_so(tmp_path: Path) -> None:
    from datetime import date

    policy = load_policy(write(tmp_path, WAIVED))
    finding = evaluate(policy, _evidence(0.5), today=date(2027, 2, 1))[0]
    assert finding.status == "fail"
    assert "expired on 2027-01-31: not applied" in finding.message
    assert finding.waiver is not None and finding.waiver.active is False


def test_waiver_for_unknown_rule_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        InputError,
        match=r"policy.yaml:\d+: waivers: no rule 'irr' to waive \(did you mean 'ir'\?\)",
    ):
        load_policy(write(tmp_path, WAIVED.replace("rule: ir", "rule: irr")))


# --- statistical modes -----------------------------------------------------------------------


def _stat_evidence(p_value: float, ci: list[float], n: int = 100) -> Evidence:
    groups = {
        "Female": {
            "n": n,
            "impact_ratio": 0.7,
            "selection_rate": 0.21,
            "ci": {"impact_ratio": ci},
            "tests": {"selection_rate": {"p_value": p_value}},
        },
        "Male": {
            "n": 200, "impact_ratio": 1.0, "selection_rate": 0.3, "ci": {"impact_ratio": [1.0, 1.0]},
        },
    }  # fmt: skip
    return evidence({"sex": {"groups": groups}}, {}, {"status": "skipped", "reason": "x"})


@pytest.mark.parametrize(
    ("mode", "ci", "status", "verdict"),
    [
        ("point", [0.4, 1.1], "fail", None),  # the estimate (0.7) breaches
        ("bound", [0.4, 1.1], "warn", "inconclusive"),  # the interval spans 0.8
        ("bound", [0.6, 0.79], "fail", "breach"),  # the whole interval is under 0.8
        ("bound", [0.81, 0.95], "pass", "no_breach"),  # the whole interval complies
    ],
)
def test_rule_modes(
    tmp_path: Path, mode: str, ci: list[float], status: str, verdict: str | None
) -> None:
    text = GOOD.replace("    threshold: 0.8\n", f"    threshold: 0.8\n    mode: {mode}\n", 1)
    finding = evaluate(load_policy(write(tmp_path, text)), _stat_evidence(0.5, ci))[0]
    assert finding.status == status and finding.mode == mode and finding.verdict == verdict
    if mode == "bound":
        assert "judged on the 95% confidence interval" in finding.message
        assert [t.ci for t in finding.tests] == [ci, [1.0, 1.0]]


def test_significance_mode_needs_a_count_based_test(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    threshold: 0.8\n", "    threshold: 0.8\n    mode: significance\n", 1
    ).replace("metric: impact_ratio", "metric: auc", 1)
    with pytest.raises(InputError, match="mode 'significance' needs a rate or ratio of counts"):
        load_policy(write(tmp_path, text))


# --- other rule kinds ------------------------------------------------------------------------

KINDS = (
    HEADER.format(name="k")
    + """\
min_group_size: 10
rules:
  - id: acc-per-group
    kind: performance
    scope: per_group
    metric: accuracy
    operator: ">="
    threshold: 0.8
  - id: recall-gap
    kind: performance
    scope: gap
    metric: recall
    operator: "<="
    threshold: 0.1
  - id: share
    kind: data
    metric: group_share
    operator: ">="
    threshold: 0.1
  - id: unknown
    kind: data
    metric: unknown_share
    operator: "<="
    threshold: 0.05
  - id: docs
    kind: documentation
    require: [owner, limitations]
"""
)


def test_performance_data_and_documentation_rules(tmp_path: Path) -> None:
    fairness = {
        "sex": {
            "groups": {
                "F": {"n": 50, "accuracy": 0.75, "tpr": 0.6},
                "M": {"n": 450, "accuracy": 0.9, "tpr": 0.75},
            }
        }
    }
    data = {
        "label_balance": 0.3,
        "features": {
            "sex": {
                "groups": {"F": {"n": 50, "share": 0.1}, "M": {"n": 450, "share": 0.9}},
                "unknown": 40,
                "unknown_share": 0.08,
            }
        },
    }
    ev = evidence(
        fairness,
        {},
        {"status": "skipped", "reason": "x"},
        data,
        model_metadata={"owner": "risk team"},
        model_registered=True,
    )
    f = {x.id: x for x in evaluate(load_policy(write(tmp_path, KINDS)), ev)}
    assert f["acc-per-group"].status == "fail" and f["acc-per-group"].group == "F"
    assert f["recall-gap"].status == "fail" and f["recall-gap"].value == pytest.approx(0.15)
    assert "(M vs F)" in f["recall-gap"].message
    assert f["share"].status == "pass" and f["share"].value == 0.1
    assert f["unknown"].status == "fail" and f["unknown"].value == 0.08
    assert f["docs"].status == "fail" and "lacks: limitations" in f["docs"].message
    unregistered = evidence(fairness, {}, {"status": "skipped", "reason": "x"}, data)
    docs = evaluate(load_policy(write(tmp_path, KINDS)), unregistered)[-1]
    assert docs.status == "fail" and "not registered" in docs.message


def test_published_policy_schema_is_current() -> None:
    import json

    from audit.policy import policy_json_schema

    published = json.loads((POLICIES / "policy.schema.json").read_text())
    assert published == policy_json_schema(), (
        "regenerate: audit policy schema > policies/policy.schema.json"
    )


def test_policy_init_writes_a_valid_policy(tmp_path: Path) -> None:
    from audit.cli import main
    from tests.conftest import SAMPLES

    out = tmp_path / "p.yaml"
    args = [
        "policy",
        "init",
        "--dataset",
        str(SAMPLES / "german" / "german_test.csv"),
        "--label",
        "risk",
        "--name",
        "credit",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    policy = load_policy(out)
    assert {r.id for r in policy.rules} >= {"four-fifths-sex", "four-fifths-age-group"}
    assert main(args) == 2  # refuses to overwrite


def test_a_misspelt_rule_kind_is_one_line_with_a_did_you_mean(tmp_path: Path) -> None:
    """`kind: fairnes` gave pydantic's union-tag error; now one line naming the kind, the
    closest kind and every kind there is."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "apiVersion: audit/v1\nkind: Policy\nname: x\nversion: '1'\nrules:\n"
        "  - id: r1\n    kind: fairnes\n    metric: impact_ratio\n    operator: '>='\n"
        "    threshold: 0.8\n",
        "utf-8",
    )
    with pytest.raises(InputError) as info:
        load_policy(path)
    message = str(info.value)
    assert message.count("\n") == 0
    assert "p.yaml:7:5: rules[0].kind: unknown kind 'fairnes' (did you mean 'fairness'?)" in message
    assert "one of: fairness, performance" in message and "Input tag" not in message
