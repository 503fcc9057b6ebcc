"""Report diffs: real Adult audits before and after one policy change, and synthetic edits."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
import yaml

from audit.cli import main
from audit.report import report_schema
from audit.report.diff import CHANGES_SCHEMA, Change, diff_reports
from tests.conftest import POLICIES, ROOT, SAMPLES

ADULT_SPEC = SAMPLES / "adult" / "audit.yaml"
FIXTURE = ROOT / "tests" / "fixtures" / "report_example.json"
CHANGED_RULE, OLD_THRESHOLD, NEW_THRESHOLD = "four-fifths-sex", 0.8, 0.3


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Three Adult audits into one folder: baseline (v1), a policy copy with one threshold
    moved (v2), and baseline again (v3)."""
    tmp = tmp_path_factory.mktemp("diff")
    doc = yaml.safe_load((POLICIES / "baseline.yaml").read_text("utf-8"))
    (rule,) = [r for r in doc["rules"] if r["id"] == CHANGED_RULE]
    assert rule["threshold"] == OLD_THRESHOLD
    rule["threshold"] = NEW_THRESHOLD
    policy_dir = tmp / "policy"
    policy_dir.mkdir()
    changed_policy = policy_dir / "baseline.yaml"  # same file name: only the content differs
    changed_policy.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    out = tmp / "reports"
    base = ["run", str(ADULT_SPEC), "--output", str(out), "--no-pdf"]
    base += ["--explain-sample-size", "100"]
    for extra in ([], ["--policy", str(changed_policy)], []):
        assert main(base + extra) in (0, 1)
    folder = out / "adult-income"
    return {
        name: json.loads((folder / f"v{v}" / "report.json").read_text("utf-8"))
        for name, v in (("baseline", 1), ("changed", 2), ("again", 3))
    }


def test_one_threshold_change_is_all_the_diff_shows(runs: dict[str, dict[str, Any]]) -> None:
    old, new = runs["baseline"], runs["changed"]
    diff = diff_reports(old, new)
    # The verdict on the changed rule, recomputed from the fairness section by hand.
    groups = new["fairness"]["sex"]["groups"]
    ratio = groups["Female"]["selection_rate"] / groups["Male"]["selection_rate"]
    old_status = "pass" if ratio >= OLD_THRESHOLD else "fail"
    new_status = "pass" if ratio >= NEW_THRESHOLD else "fail"
    assert (old_status, new_status) == ("fail", "pass")

    assert len(diff.rules) == 1
    (rule,) = diff.rules
    assert rule.id == CHANGED_RULE and rule.change == "changed"
    assert set(rule.fields) == {
        Change("threshold", OLD_THRESHOLD, NEW_THRESHOLD),
        Change("status", old_status, new_status),
    }
    assert [(c.input, c.change.field) for c in diff.inputs] == [("policy", "sha256")]
    policy_change = diff.inputs[0].change
    assert policy_change.old == old["subject"]["policy"]["sha256"]
    assert policy_change.new == new["subject"]["policy"]["sha256"]
    assert policy_change.old != policy_change.new
    assert diff.fairness == () and diff.performance == () and diff.explanations == ()
    assert diff.settings == ()
    # Another rule (race) still fails, so the gate's outcome does not change.
    assert old["outcome"] == new["outcome"] == "fail" and diff.outcome is None
    assert not diff.is_empty
    lines = diff.to_text().splitlines()
    assert f"rule {CHANGED_RULE}: threshold 0.8 -> 0.3; status fail -> pass" in lines
    assert len(lines) == 2 and lines[0].startswith("policy sha256 ")


def test_identical_runs_give_an_empty_diff(runs: dict[str, dict[str, Any]]) -> None:
    old, new = runs["baseline"], runs["again"]
    assert old["report_id"] != new["report_id"] and old["version"] != new["version"]
    diff = diff_reports(old, new, tolerance=0.0)
    assert diff.is_empty, diff.to_text()
    assert diff.to_text() == "no changes since v1"
    assert diff.to_dict()["since"] == {
        "report_id": old["report_id"],
        "version": 1,
        "created_at": old["created_at"],
    }


def test_changes_fit_report_json(runs: dict[str, dict[str, Any]]) -> None:
    """``to_dict`` is strict JSON, matches CHANGES_SCHEMA, and a report carrying it as
    ``changes`` validates once the report schema lists that property."""
    new = runs["changed"]
    changes = diff_reports(runs["baseline"], new).to_dict()
    json.dumps(changes, allow_nan=False)
    jsonschema.validate(changes, CHANGES_SCHEMA)
    schema = copy.deepcopy(report_schema())
    schema["properties"]["changes"] = CHANGES_SCHEMA
    jsonschema.validate({**new, "changes": changes}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**changes, "rules": [{"id": 1}]}, CHANGES_SCHEMA)


# -- synthetic edits of the fixture report ----------------------------------------------------


@pytest.fixture
def report() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text("utf-8"))


def test_tolerance_separates_noise_from_change(report: dict[str, Any]) -> None:
    new = copy.deepcopy(report)
    female = new["fairness"]["sex"]["groups"]["Female"]
    old_rate = female["selection_rate"]
    female["selection_rate"] = old_rate + 1e-12
    assert diff_reports(report, new).is_empty
    female["selection_rate"] = old_rate + 1e-6
    female["n"] += 1
    diff = diff_reports(report, new)
    (group,) = diff.fairness
    assert (group.feature, group.group, group.change) == ("sex", "Female", "changed")
    assert {c.field: (c.old, c.new) for c in group.fields} == {
        "n": (5421, 5422),
        "selection_rate": (old_rate, old_rate + 1e-6),
    }
    assert diff_reports(report, new, tolerance=1e-5).fairness[0].fields == (
        Change("n", 5421, 5422),
    )
    with pytest.raises(ValueError, match="tolerance"):
        diff_reports(report, new, tolerance=-1.0)


def test_rules_added_removed_and_rejudged(report: dict[str, Any]) -> None:
    new = copy.deepcopy(report)
    removed = new["rules"].pop(3)
    new["rules"].append({**new["rules"][0], "id": "new-rule", "status": "pass"})
    new["rules"][1].update(operator=">", value=0.5, status="pass")
    new["outcome"] = "pass"
    diff = diff_reports(report, new)
    assert diff.outcome == Change("outcome", "fail", "pass")
    by_id = {r.id: r for r in diff.rules}
    assert by_id[removed["id"]].change == "removed"
    assert by_id["new-rule"].change == "added"
    assert {c.field for c in by_id["four-fifths-race"].fields} == {"operator", "value", "status"}
    assert set(by_id) == {removed["id"], "new-rule", "four-fifths-race"}


def test_inputs_performance_and_explanations(report: dict[str, Any]) -> None:
    new = copy.deepcopy(report)
    new["subject"]["model"].update(version="2", sha256="f" * 64)
    new["subject"]["policy"]["version"] = "1.1"
    new["performance"]["accuracy"] = 0.9
    new["explanations"]["global"][0]["mean_abs_shap"] = 2.0
    del new["explanations"]["global"][-1]
    new["fairness"]["race"]["groups"].pop("Other")
    new["report_id"], new["created_at"], new["version"] = "x", "2027-01-01T00:00:00Z", 3
    diff = diff_reports(report, new)
    assert [(c.input, c.change.field) for c in diff.inputs] == [
        ("model", "version"),
        ("model", "sha256"),
        ("policy", "version"),
    ]
    assert diff.performance == (Change("accuracy", report["performance"]["accuracy"], 0.9),)
    shap = report["explanations"]["global"]
    assert diff.explanations == (
        Change(shap[0]["feature"], shap[0]["mean_abs_shap"], 2.0),
        Change(shap[-1]["feature"], shap[-1]["mean_abs_shap"], None),
    )
    assert [(g.feature, g.group, g.change) for g in diff.fairness] == [("race", "Other", "removed")]
    text = diff.to_text()
    assert "policy version 1.0 -> 1.1" in text and "fairness race=Other: removed" in text
