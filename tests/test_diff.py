"""Report diffs: real Adult audits before and after one policy change, and synthetic edits."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
import yaml

from audit.cli import main
from audit.contract import Changes, Report
from audit.report import report_schema
from audit.report.diff import (
    Change,
    DataChange,
    DriftChange,
    InputChange,
)
from audit.report.diff import diff_reports as diff_typed
from tests.conftest import POLICIES, ROOT, SAMPLES
from tests.helpers import light_spec

#: The schema of the ``changes`` section, as generated from the typed model.
CHANGES_SCHEMA = {**report_schema(), **Changes.model_json_schema()}


def diff_reports(old: dict[str, Any], new: dict[str, Any], **kw: Any) -> Any:
    """The tests edit report.json documents; the diff compares the typed reports they parse to."""
    return diff_typed(Report.model_validate(old), Report.model_validate(new), **kw)


ADULT_SPEC = SAMPLES / "adult" / "audit.yaml"
FIXTURE = ROOT / "tests" / "fixtures" / "report_example.json"
CHANGED_RULE, OLD_THRESHOLD, NEW_THRESHOLD = "four-fifths-sex", 0.8, 0.3


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
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
    spec = light_spec(ADULT_SPEC.parent, tmp / "spec")  # no proxy models or stability replicas
    base = ["run", str(spec), "--output", str(out), "--no-pdf"]
    base += ["--explain-sample-size", "100"]
    for extra in ([], ["--policy", str(changed_policy)], []):
        assert main(base + extra) in (0, 1)
    folder = out / "adult-income"
    # version numbers are the system's, across every output folder of this home's log
    v1, v2, v3 = sorted(int(p.name[1:]) for p in folder.iterdir() if p.name.startswith("v"))
    html_v2 = (folder / f"v{v2}" / "report.html").read_text("utf-8")
    return {"html_v2": html_v2} | {
        name: json.loads((folder / f"v{v}" / "report.json").read_text("utf-8"))
        for name, v in (("baseline", v1), ("changed", v2), ("again", v3))
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
    assert diff.to_text() == f"no changes since v{old['version']}"
    assert diff.to_changes().to_json()["since"] == {
        "report_id": old["report_id"],
        "version": old["version"],
        "created_at": old["created_at"],
    }


def test_changes_fit_report_json(runs: dict[str, dict[str, Any]]) -> None:
    """The changes section is strict JSON, matches its schema, and a report carrying it as
    ``changes`` validates against the report schema."""
    new = runs["changed"]
    changes = diff_reports(runs["baseline"], new).to_changes().to_json()
    json.dumps(changes, allow_nan=False)
    jsonschema.validate(changes, CHANGES_SCHEMA)
    jsonschema.validate({**new, "changes": changes}, report_schema())
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


def test_report_schema_embeds_changes_schema() -> None:
    """audit/schemas/report.schema.json carries the typed ``changes`` section's schema."""
    schema = report_schema()
    assert schema["$defs"]["Changes"] == {
        k: v for k, v in Changes.model_json_schema().items() if k != "$defs"
    }
    assert {"$ref": "#/$defs/Changes"} in schema["properties"]["changes"]["anyOf"]


# -- synthetic edits of a real report: reference dataset, baseline, drift, data ----------------


@pytest.fixture
def real(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A fresh copy of the real Adult v1 report, which has drift (reference dataset) and data."""
    doc = copy.deepcopy(runs["baseline"])
    assert doc["drift"] and doc["data"] and doc["subject"]["reference"]
    assert doc["baseline"] is None  # the sample spec names no baseline
    return doc


BASELINE = {
    "report_id": "0b7c1a2e-3f41-4c6d-9e0a-5b2d8c7f6e10",
    "version": 3,
    "sha256": "a" * 64,
    "created_at": "2026-01-01T00:00:00Z",
    "path": "/reports/adult-income/v3/report.json",
}


def test_reference_dataset_digest_is_an_input_change(real: dict[str, Any]) -> None:
    new = copy.deepcopy(real)
    old_sha = real["subject"]["reference"]["sha256"]
    new["subject"]["reference"]["sha256"] = "e" * 64
    diff = diff_reports(real, new)
    assert diff.inputs == (InputChange("reference dataset", Change("sha256", old_sha, "e" * 64)),)
    assert diff.lines() == [f"reference dataset sha256 {old_sha[:12]} -> eeeeeeeeeeee"]


def test_reference_dataset_added_removed_and_absent_on_both(real: dict[str, Any]) -> None:
    without = copy.deepcopy(real)
    del without["subject"]["reference"]
    without["drift"] = None  # no reference, no drift
    ref = real["subject"]["reference"]
    assert ref["version"] is None
    assert diff_reports(without, real).lines() == [
        "reference dataset name none -> adult_train",
        f"reference dataset sha256 none -> {ref['sha256'][:12]}",
        f"reference dataset rows none -> {ref['rows']}",
        "drift: added",
    ]
    assert diff_reports(real, without).lines()[-1] == "drift: removed"
    assert diff_reports(without, copy.deepcopy(without), tolerance=0.0).is_empty
    null_ref = copy.deepcopy(without)
    null_ref["subject"]["reference"] = None  # null and absent are the same
    assert diff_reports(without, null_ref).is_empty


def test_baseline_report_is_an_input(real: dict[str, Any]) -> None:
    old, new = copy.deepcopy(real), copy.deepcopy(real)
    assert diff_reports(old, new).is_empty  # baseline null on both sides
    del old["baseline"]
    assert diff_reports(old, new).is_empty  # absent vs null: still none
    new["baseline"] = dict(BASELINE)
    assert diff_reports(old, new).lines() == [
        "baseline report_id none -> 0b7c1a2e-3f4",
        "baseline version none -> 3",
        "baseline sha256 none -> aaaaaaaaaaaa",
    ]
    assert diff_reports(new, old).lines()[0] == "baseline report_id 0b7c1a2e-3f4 -> none"

    old["baseline"] = dict(BASELINE)
    new["baseline"] = {**BASELINE, "path": "/elsewhere/report.json"}  # where, not which
    assert diff_reports(old, new).is_empty
    new["baseline"] = {
        **BASELINE,
        "report_id": "9f8e7d6c-5b4a-4321-8fed-cba987654321",
        "version": 4,
        "sha256": "b" * 64,
        "created_at": "2026-02-01T00:00:00Z",
    }
    diff = diff_reports(old, new)
    assert [(c.input, c.change.field) for c in diff.inputs] == [
        ("baseline", "report_id"),
        ("baseline", "version"),
        ("baseline", "sha256"),
    ]
    assert diff.lines() == [
        "baseline report_id 0b7c1a2e-3f4 -> 9f8e7d6c-5b4",
        "baseline version 3 -> 4 (+1)",
        "baseline sha256 aaaaaaaaaaaa -> bbbbbbbbbbbb",
    ]


def test_drift_psi_and_p_value_beyond_tolerance(real: dict[str, Any]) -> None:
    old = copy.deepcopy(real)
    old["drift"]["features"]["native_country"].update(psi=0.0036, p_value=0.64)
    new = copy.deepcopy(old)
    column = new["drift"]["features"]["native_country"]
    column["psi"] += 1e-12  # noise
    column["statistic"] += 5.0  # not compared: PSI and p-value say whether it drifted
    assert diff_reports(old, new).is_empty

    column["psi"] = 0.31
    assert diff_reports(old, new).drift == (
        DriftChange("native_country", None, "changed", (Change("psi", 0.0036, 0.31),)),
    )
    assert diff_reports(old, new).lines() == ["drift native_country: psi 0.0036 -> 0.31 (+0.306)"]
    column["p_value"] = 1e-5
    assert diff_reports(old, new).lines() == [
        "drift native_country: psi 0.0036 -> 0.31 (+0.306); p_value 0.64 -> 1e-05 (-0.64)"
    ]
    column.update(psi=0.0036 + 1e-6, p_value=0.64)
    assert diff_reports(old, new).lines() == [
        "drift native_country: psi 0.0036 -> 0.003601 (+1e-06)"
    ]
    assert diff_reports(old, new, tolerance=1e-5).is_empty


def test_drift_of_label_predictions_and_columns(real: dict[str, Any]) -> None:
    old = copy.deepcopy(real)
    old["drift"]["predictions"]["psi"] = 0.0007
    old["drift"]["label"]["p_value"] = 0.27
    new = copy.deepcopy(old)
    new["drift"]["predictions"]["psi"] = 0.05
    new["drift"]["label"]["p_value"] = 0.0001
    del new["drift"]["features"]["age"]
    new["drift"]["features"]["zip"] = copy.deepcopy(old["drift"]["features"]["sex"])
    new["drift"]["max_psi"] = 0.05  # derived from the columns: not compared on its own
    assert diff_reports(old, new).lines() == [
        "drift age: removed",
        "drift zip: added",
        "drift: label.p_value 0.27 -> 0.0001 (-0.27); predictions.psi 0.0007 -> 0.05 (+0.0493)",
    ]
    new["drift"]["predictions"] = None  # e.g. decisions given, no model
    assert diff_reports(old, new).drift[-1].fields[-2:] == (
        Change("predictions.psi", 0.0007, None),
        Change("predictions.p_value", old["drift"]["predictions"]["p_value"], None),
    )


def test_data_rows_missing_values_and_groups(real: dict[str, Any]) -> None:
    old = copy.deepcopy(real)
    old["data"].update(rows=1000, rows_with_missing_values=0)
    old["data"]["features"]["sex"].update(unknown=0, unknown_share=0.0)
    old["data"]["features"]["sex"]["groups"]["Female"].update(n=333, share=0.333, missing_share=0.0)
    new = copy.deepcopy(old)
    data = new["data"]
    data["features"]["sex"]["groups"]["Male"]["share"] += 1e-12  # noise
    assert diff_reports(old, new).is_empty

    data.update(rows=990, rows_with_missing_values=12)
    data["features"]["sex"].update(unknown=3, unknown_share=0.003)
    female = data["features"]["sex"]["groups"]["Female"]
    female.update(n=340, share=0.34, missing_share=0.01)
    female["base_rate"] += 0.1  # the fairness section compares base rates
    data["features"]["race"]["groups"]["Unknown"] = copy.deepcopy(female)
    del data["features"]["sex&race"]
    diff = diff_reports(old, new)
    assert diff.data[0] == DataChange(
        None,
        None,
        "changed",
        (Change("rows", 1000, 990), Change("rows_with_missing_values", 0, 12)),
    )
    assert diff.lines() == [
        "data: rows 1000 -> 990 (-10); rows_with_missing_values 0 -> 12 (+12)",
        "data sex: unknown 0 -> 3 (+3); unknown_share 0 -> 0.003 (+0.003)",
        "data sex=Female: n 333 -> 340 (+7); share 0.333 -> 0.34 (+0.007); "
        "missing_share 0 -> 0.01 (+0.01)",
        "data race=Unknown: added",
        "data sex&race: removed",
    ]
    female["share"] = 0.333 + 1e-6
    assert [c.field for c in diff_reports(old, new, tolerance=1e-5).data[2].fields] == [
        "n",
        "missing_share",
    ]
    new["data"] = None
    assert diff_reports(old, new).lines() == ["data: removed"]


def test_new_change_kinds_fit_report_json(real: dict[str, Any]) -> None:
    new = copy.deepcopy(real)
    new["subject"]["reference"]["sha256"] = "e" * 64
    new["baseline"] = dict(BASELINE)
    new["drift"]["features"]["age"]["psi"] += 0.5
    new["drift"]["label"]["psi"] += 0.5
    new["data"]["rows"] += 1
    new["data"]["features"]["sex"]["groups"]["Male"]["n"] += 1
    changes = diff_reports(real, new).to_changes().to_json()
    assert [len(changes[k]) for k in ("inputs", "drift", "data")] == [4, 2, 2]
    json.dumps(changes, allow_nan=False)
    jsonschema.validate(changes, CHANGES_SCHEMA)
    jsonschema.validate({**new, "changes": changes}, report_schema())


def test_count_changes_print_exact_deltas(report: dict[str, Any]) -> None:
    new = copy.deepcopy(report)
    new["subject"]["dataset"]["rows"] = report["subject"]["dataset"]["rows"] - 12_561
    line = next(ln for ln in diff_reports(report, new).lines() if "rows" in ln)
    old_rows = report["subject"]["dataset"]["rows"]
    assert line.endswith(f"rows {old_rows} -> {old_rows - 12_561} (-12,561)")


def test_new_report_shows_the_change_since_the_last_audit(runs: dict[str, Any]) -> None:
    """v2's HTML carries a "since the last audit" section listing exactly the policy digest and
    the changed rule, the same lines as the terminal diff."""
    import re
    from html import unescape

    section = re.search(r'<section id="changes".*?</section>', runs["html_v2"], flags=re.S)
    assert section, "no 'since the last audit' section in v2"
    items = [unescape(i) for i in re.findall(r"<li>(.*?)</li>", section.group(0), flags=re.S)]
    assert items == diff_reports(runs["baseline"], runs["changed"]).lines()
    assert f"rule {CHANGED_RULE}: threshold 0.8 -> 0.3; status fail -> pass" in items
    assert len(items) == 2
