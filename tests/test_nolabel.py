"""Audits without ground truth (issue #15 items 6, 7): the DCWP worked example from decisions
alone (no label) through the NYC LL144 pack, label metrics and rules "not assessable", and the
id column kept out of drift and the data profile.

The end-to-end tests run the real CLI on the DCWP tables rebuilt as rows (tests/test_dcwp.py) and
check the published impact ratios to their printed precision.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit import contract
from audit.cli import main
from audit.data import DatasetRequirements, data_profile, validate
from audit.errors import InputError
from audit.fairness import compute_fairness, compute_performance
from audit.policy import Evidence, evaluate, load_policy
from tests.conftest import POLICIES, SAMPLES
from tests.helpers import as_json
from tests.test_dcwp import (
    INTERSECTIONAL,
    RACE_SCORING,
    RACE_SELECTION,
    SEX_SCORING,
    SEX_SELECTION,
    UNKNOWN_SCORING,
    UNKNOWN_SELECTION,
    _decimals,
    _scoring_rows,
)

NOT_ASSESSABLE = "not assessable: the audit has no label"

#: Rules a label-less audit cannot judge (one of each kind and shape), next to ones it can.
LABEL_RULES = """\
  - id: tpr-floor
    kind: fairness
    metric: tpr
    operator: ">="
    threshold: 0.5
  - id: auc-floor
    kind: fairness
    metric: auc
    operator: ">="
    threshold: 0.6
  - id: equalized-odds
    kind: fairness
    metric: equalized_odds_difference
    operator: "<="
    threshold: 0.1
    mode: bound
  - id: accuracy
    kind: performance
    metric: accuracy
    operator: ">="
    threshold: 0.7
  - id: recall-gap
    kind: performance
    metric: recall
    scope: gap
    operator: "<="
    threshold: 0.1
  - id: label-balance
    kind: data
    metric: label_balance
    operator: ">="
    threshold: 0.1
  - id: tpr-regression
    kind: regression
    metric: tpr
  - id: label-drift
    kind: drift
    target: label
"""
LABEL_RULE_IDS = (
    "tpr-floor",
    "auc-floor",
    "equalized-odds",
    "accuracy",
    "recall-gap",
    "label-balance",
    "tpr-regression",
    "label-drift",
)
#: Rules that need no label: judged in a label-less audit.
LABEL_FREE_RULES = """\
  - id: selection-gap
    kind: performance
    metric: selection_rate
    scope: gap
    operator: "<="
    threshold: 0.5
  - id: group-size
    kind: data
    metric: group_size
    operator: ">="
    threshold: 5
  - id: parity-ratio
    kind: fairness
    metric: demographic_parity_ratio
    operator: ">="
    threshold: 0.5
"""


def _policy(tmp_path: Path, extends: str = "nyc-ll144") -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        'apiVersion: audit/v1\nkind: Policy\nname: no-label\nversion: "1"\n'
        f"extends: [{extends}]\nmin_group_size: 1\nrules:\n" + LABEL_RULES + LABEL_FREE_RULES
    )
    return path


# -- data ----------------------------------------------------------------------------------------


def _applicants(table: dict, unknown: int) -> pd.DataFrame:
    """One row per applicant: the first ``selected`` of each category were selected, no label.
    Keys are (sex, race) pairs or races; the unknown applicants have no category."""
    parts = []
    for key, (applicants, chosen, *_) in table.items():
        sex, race = key if isinstance(key, tuple) else (None, key)
        decision = ["yes"] * chosen + ["no"] * (applicants - chosen)
        parts.append(pd.DataFrame({"sex": sex, "race": race, "selected": decision}))
    parts.append(
        pd.DataFrame({"sex": None, "race": None, "selected": ["yes", "no"] * (unknown // 2)})
    )
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "applicant_id", [f"A{i:05d}" for i in range(len(frame))])
    return frame


def _run(tmp_path: Path, frame: pd.DataFrame, spec_lines: str, *flags: str) -> tuple[int, Path]:
    csv = tmp_path / "aedt.csv"
    frame.to_csv(csv, index=False)
    spec = tmp_path / "audit.yaml"
    spec.write_text(
        f"name: aedt\ndataset: {csv}\npolicy: {_policy(tmp_path)}\noutput: {tmp_path / 'out'}\n"
        "data_description: DCWP worked example, 6 RCNY 5-301, historical data\n"
        "distribution_date: '2023-01-01'\nid_column: applicant_id\n" + spec_lines
    )
    code = main(["run", str(spec), "--no-sign", *flags])
    return code, tmp_path / "out" / "aedt" / "v1"


def _report(bundle: Path) -> dict:
    return json.loads((bundle / "report.json").read_text())


def _assert_label_metrics_none(report: dict) -> None:
    label_metrics = [m.name for m in contract.GROUP_METRICS if m.needs == "labels"]
    for feature in report["fairness"].values():
        for group in feature["groups"].values():
            assert [group[k] for k in ("tp", "fp", "fn", "tn")] == [None] * 4
            assert {m: group[m] for m in label_metrics} == dict.fromkeys(label_metrics)
            assert group.get("auc") is None and group.get("ece") is None
            assert all(group["ci"].get(m) is None for m in label_metrics)
            assert all(group["tests"].get(m) is None for m in label_metrics)
        for summary in ("equalized_odds_difference", "equal_opportunity_difference"):
            assert feature[summary] is None
    performance = report["performance"]
    assert performance["status"] == "not_assessable"
    assert performance["reason"] == "the audit has no label"
    assert [performance[k] for k in ("accuracy", "precision", "recall", "f1", "roc_auc")] == [
        None
    ] * 5
    assert report["data"]["label_balance"] is None
    for feature in report["data"]["features"].values():
        assert all(g["base_rate"] is None for g in feature["groups"].values())


def _assert_label_rules_not_assessable(report: dict) -> dict:
    rules = {r["id"]: r for r in report["rules"]}
    for rule_id in LABEL_RULE_IDS:
        assert (rules[rule_id]["status"], rules[rule_id]["message"]) == ("skipped", NOT_ASSESSABLE)
        assert rules[rule_id]["value"] is None
    for rule_id in ("selection-gap", "group-size", "parity-ratio"):
        assert rules[rule_id]["status"] in ("pass", "fail", "warn"), rules[rule_id]
    return rules


# -- the DCWP worked example from decisions alone ------------------------------------------------


def test_dcwp_example_from_decisions_alone_through_the_ll144_pack(tmp_path: Path) -> None:
    frame = _applicants(INTERSECTIONAL, UNKNOWN_SELECTION)
    spec = "sensitive_features: [sex, race]\npredictions: selected\npositive_label: 'yes'\n"
    code, bundle = _run(tmp_path, frame, spec)
    report = _report(bundle)
    assert code == 0  # LL144 sets no threshold: the pack flags impact ratios as warnings
    assert report["subject"]["dataset"]["label"] is None

    # the sex table is the intersection table summed over race, as published
    sex = report["fairness"]["sex"]
    for category, (applicants, chosen, printed) in SEX_SELECTION.items():
        group = sex["groups"][category]
        assert (group["n"], group["selected"]) == (applicants, chosen)
        assert group["selection_rate"] == chosen / applicants
        assert f"{group['impact_ratio']:.{_decimals(printed)}f}" == printed
    inter = report["fairness"]["sex&race"]
    assert inter["reference_group"] == "Male&White"
    for (s, r), (applicants, chosen) in INTERSECTIONAL.items():
        group = inter["groups"][f"{s}&{r}"]
        assert (group["n"], group["selected"]) == (applicants, chosen)
        assert group["impact_ratio"] == pytest.approx((chosen / applicants) / (215 / 412))
    flagged = [g for g, d in inter["groups"].items() if d["impact_ratio"] < 0.8]
    assert flagged == ["Female&Native American or Alaska Native"]
    assert f"{inter['groups'][flagged[0]]['impact_ratio']:.3f}" == "0.789"  # as printed
    for feature in report["fairness"].values():
        assert feature["unknown"] == UNKNOWN_SELECTION

    _assert_label_metrics_none(report)
    total_selected = sum(c for _, c in INTERSECTIONAL.values()) + UNKNOWN_SELECTION // 2
    assert report["performance"]["selection_rate"] == total_selected / len(frame)
    assert report["performance"]["n"] == len(frame)
    rules = _assert_label_rules_not_assessable(report)
    assert rules["ll144-selection-impact-ratio"]["status"] == "warn"
    assert rules["ll144-selection-impact-ratio"]["group"] == flagged[0]
    assert rules["ll144-scoring-impact-ratio"]["status"] == "skipped"  # a selection tool

    # the id column identifies rows: it is no feature of the profile
    assert "applicant_id" not in report["data"]["features"]

    html = (bundle / "report.html").read_text()
    assert "Summary of results (NYC Local Law 144)" in html
    assert "Individuals in the unknown category (left out of the calculations): 250" in html
    assert "0.979" in html and "0.789" in html and "DCWP worked example" in html
    assert "no label (decisions alone" in html and "Performance not assessable" in html
    assert ">TPR<" not in html and ">PPV<" not in html and ">TP<" not in html
    assert "equalized odds difference" not in html
    assert html.count(NOT_ASSESSABLE) >= len(LABEL_RULE_IDS)
    assert (bundle / "report.pdf").stat().st_size > 10_000

    junit = ET.parse(bundle / "junit.xml").getroot()
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    for rule_id in LABEL_RULE_IDS:
        assert cases[rule_id].find("skipped").get("message") == NOT_ASSESSABLE
    assert junit.get("failures") == "0"
    summary = (bundle / "summary.md").read_text()
    assert "## ✅ PASS" in summary and "no label" in summary


def test_dcwp_race_table_from_decisions_alone(tmp_path: Path) -> None:
    """The race table is published on its own (it does not sum from the intersection table)."""
    frame = _applicants(RACE_SELECTION, UNKNOWN_SELECTION).drop(columns=["sex"])
    spec = "sensitive_features: [race]\npredictions: selected\npositive_label: 'yes'\n"
    code, bundle = _run(tmp_path, frame, spec, "--no-pdf")
    report = _report(bundle)
    assert code == 0
    race = report["fairness"]["race"]
    assert race["reference_group"] == "White" and race["unknown"] == UNKNOWN_SELECTION
    for category, (applicants, chosen, printed) in RACE_SELECTION.items():
        group = race["groups"][category]
        assert (group["n"], group["selected"]) == (applicants, chosen)
        assert f"{group['impact_ratio']:.{_decimals(printed)}f}" == printed
    _assert_label_metrics_none(report)
    _assert_label_rules_not_assessable(report)


@pytest.mark.parametrize(
    ("column", "table", "warned"),
    [("sex", SEX_SCORING, False), ("race", RACE_SCORING, True)],
    ids=["sex", "race"],
)
def test_dcwp_scoring_example_from_scores_alone(
    tmp_path: Path, column: str, table: dict, warned: bool
) -> None:
    """A scoring tool: scores only, no label and no positive_label; the scoring rate is the share
    above the full sample's median (6 RCNY 5-301(b))."""
    scores, groups = _scoring_rows(table, UNKNOWN_SCORING, seed=len(table))
    frame = pd.DataFrame({column: groups["category"], "score": scores})
    frame.insert(0, "applicant_id", range(len(frame)))
    code, bundle = _run(
        tmp_path, frame, f"sensitive_features: [{column}]\nscores: score\n", "--no-pdf"
    )
    report = _report(bundle)
    assert code == 0
    feature = report["fairness"][column]
    assert feature["unknown"] == UNKNOWN_SCORING
    for category, (applicants, rate, printed_ir) in table.items():
        group = feature["groups"][category]
        assert group["n"] == applicants
        assert f"{100 * group['scoring_rate']:.1f}%" == rate
        assert f"{group['scoring_impact_ratio']:.2f}" == printed_ir
        assert group["mean_score"] is not None
    top = max(table, key=lambda c: float(table[c][1].rstrip("%")))
    assert feature["reference"]["scoring_group"] == top
    _assert_label_metrics_none(report)
    rules = _assert_label_rules_not_assessable(report)
    assert rules["ll144-scoring-impact-ratio"]["status"] == ("warn" if warned else "pass")
    assert report["settings"]["score_threshold"] == "median"
    html = (bundle / "report.html").read_text()
    assert "Scoring rate" in html and ">AUC<" not in html and ">ECE<" not in html


# -- the id column: never drift-checked or profiled ----------------------------------------------


def test_recorded_decisions_with_an_id_column_have_no_drift_or_profile_entry_for_it(
    tmp_path: Path,
) -> None:
    """Before, every column of a recorded-decision audit but the label, sensitive and decision
    columns was drift-checked, so the ids (different in any two datasets) raised a false alarm."""
    adult = SAMPLES / "adult"
    frames = {}
    for name, start in (("train", 0), ("test", 1_000_000)):
        data = pd.read_csv(adult / f"adult_{name}.csv")
        data["decision"] = np.where(data["hours_per_week"] >= 45, ">50K", "<=50K")
        data.insert(0, "applicant_id", np.arange(start, start + len(data)))
        data.loc[::97, "applicant_id"] = np.nan  # missing ids count as no missing value
        frames[name] = tmp_path / f"{name}.csv"
        data.to_csv(frames[name], index=False)
    policy = tmp_path / "drift.yaml"
    policy.write_text(
        'apiVersion: audit/v1\nkind: Policy\nname: drift\nversion: "1"\nrules:\n'
        "  - id: feature-drift\n    kind: drift\n"
    )
    spec = tmp_path / "audit.yaml"
    spec.write_text(
        f"name: recorded\ndataset: {frames['test']}\nreference_dataset: {frames['train']}\n"
        "label: income\npositive_label: '>50K'\npredictions: decision\n"
        f"sensitive_features: [sex, race]\nid_column: applicant_id\npolicy: {policy}\n"
        f"output: {tmp_path / 'out'}\n"
    )
    assert main(["run", str(spec), "--no-pdf", "--no-sign"]) == 0
    report = _report(tmp_path / "out" / "recorded" / "v1")
    drift = report["drift"]["features"]
    assert "applicant_id" not in drift
    assert {"age", "education", "hours_per_week"} <= set(drift)
    rule = report["rules"][0]
    assert rule["status"] == "pass", rule["message"]  # no false alarm from the ids
    assert "applicant_id" not in report["data"]["features"]
    assert report["data"]["rows_with_missing_values"] == 0


def test_profile_leaves_the_id_column_out_and_has_no_base_rates_without_a_label() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", None, "c", "d", None, "f"],
            "x": [1.0, 2.0, None, 4.0, 5.0, 6.0],
            "sex": ["F", "F", "M", "M", "M", None],
        }
    )
    y = np.array([True, False, True, True, False, False])
    labelled = data_profile(frame, y, ["sex"], ["x", "id"], id_column="id")
    assert labelled.rows_with_missing_values == 1  # row 3 (x); the missing ids do not count
    assert labelled.label_balance == 0.5
    assert labelled.features["sex"].groups["M"].base_rate == pytest.approx(2 / 3)
    bare = data_profile(frame, None, ["sex"], ["x", "id"], id_column="id")
    assert bare.label_balance is None and bare.rows_with_missing_values == 1
    groups = bare.features["sex"].groups
    assert [(g.n, g.base_rate) for g in groups.values()] == [(2, None), (3, None)]
    assert groups["F"].missing_share == 0 and groups["M"].missing_share == pytest.approx(1 / 3)
    assert as_json(bare)["features"]["sex"]["groups"]["F"]["base_rate"] is None


# -- performance, validation and rules without a label ------------------------------------------


def test_performance_without_a_label_is_not_assessable() -> None:
    y_pred = np.array([True, False, True, True, False])
    section = compute_performance(None, y_pred, scores=np.linspace(0, 1, 5)).to_report()
    assert section.status == "not_assessable" and section.reason == "the audit has no label"
    assert section.n == 5 and section.selection_rate == np.mean(y_pred)
    unassessed = ("base_rate", "accuracy", "precision", "recall", "f1", "roc_auc")
    assert [section.metric(m) for m in unassessed] == [None] * 6
    assert (section.tp, section.fp, section.fn, section.tn) == (None,) * 4
    labelled = as_json(compute_performance(y_pred, y_pred).to_report())
    assert "status" not in labelled and "reason" not in labelled  # reports as before
    with pytest.raises(InputError, match="different lengths"):
        compute_performance(None, y_pred, scores=np.zeros(3))


@pytest.mark.parametrize(
    ("values", "positive", "problem"),
    [
        (["yes", "no", "maybe"], "yes", "'selected' has 3 distinct values"),
        (["yes", "no", "no"], "Yes", "positive_label 'Yes' never occurs in predictions column"),
        (["yes", None, "no"], "yes", "'selected' has 1 missing values (data rows 2)"),
    ],
)
def test_label_less_decisions_are_checked(values: list, positive: str, problem: str) -> None:
    frame = pd.DataFrame({"sex": ["F", "M", "M"], "selected": values})
    requirements = DatasetRequirements(None, positive, ("sex",), predictions="selected")
    with pytest.raises(InputError, match="cannot be audited") as info:
        validate(frame, requirements, source="hires.csv")
    assert problem in info.value.message


def test_label_less_decisions_pass_validation_and_the_label_is_not_asked_for() -> None:
    frame = pd.DataFrame({"sex": ["F", "M", "M"], "selected": ["yes", "no", "yes"]})
    validate(frame, DatasetRequirements(None, "yes", ("sex",), "selected"), source="hires.csv")
    everyone = frame.assign(selected="yes")  # one decision for all is still a decision
    validate(everyone, DatasetRequirements(None, "yes", ("sex",), "selected"), source="x.csv")


def test_label_rules_are_not_assessable_without_a_label_and_judged_with_one(
    tmp_path: Path,
) -> None:
    """The same evidence judged twice: with the label every rule is judged; without it the
    label rules are skipped with the reason (never passed) and the others judged as before."""
    frame = _applicants(INTERSECTIONAL, UNKNOWN_SELECTION)
    selected = frame["selected"].eq("yes").to_numpy()
    hired = selected.copy()
    hired[::3] = ~hired[::3]  # an outcome that differs from the decisions
    sensitive = frame[["sex", "race"]]
    fairness = compute_fairness(hired, selected, sensitive, n_bootstrap=50).to_report()
    policy = load_policy(_policy(tmp_path))
    evidence = Evidence(
        fairness=fairness,
        performance=compute_performance(hired, selected).to_report(),
        explanations=contract.Skipped(status="skipped", reason="recorded decisions"),
        data=data_profile(frame, hired, ["sex", "race"], []),
    )
    with_label = {f.id: f for f in evaluate(policy, evidence)}
    without = {f.id: f for f in evaluate(policy, _no_label(evidence))}
    assert set(with_label) == set(without)
    for rule_id in LABEL_RULE_IDS:
        assert without[rule_id].status == "skipped"
        assert without[rule_id].message == NOT_ASSESSABLE
        assert with_label[rule_id].message != NOT_ASSESSABLE
    for rule_id in ("tpr-floor", "equalized-odds", "accuracy", "recall-gap", "label-balance"):
        assert with_label[rule_id].status in ("pass", "fail", "warn")
    for rule_id in set(with_label) - set(LABEL_RULE_IDS):
        assert without[rule_id] == with_label[rule_id]
    assert without["ll144-selection-impact-ratio"].status == "warn"
    assert without["equalized-odds"].mode == "bound"
    assert (without["tpr-regression"].operator, without["tpr-regression"].threshold) == ("<=", 0)
    assert without["label-drift"].metric == "psi"


def _no_label(evidence: Evidence) -> Evidence:
    from dataclasses import replace

    return replace(evidence, has_label=False)


def test_the_shipped_ll144_pack_needs_no_label() -> None:
    """Every rule of the LL144 pack is judged in a label-less audit (none needs the label)."""
    from audit.policy.rules.labels import needs_label

    policy = load_policy(POLICIES / "nyc-ll144.yaml")
    assert policy.rules and not [r.id for r in policy.rules if needs_label(r)]


def test_label_metrics_cover_every_label_dependent_name_a_policy_can_use() -> None:
    from audit.contract.metrics import LABEL_METRICS
    from audit.policy.metrics import BETWEEN_METRICS, FAIRNESS_METRICS, PERFORMANCE_METRICS

    assert set(PERFORMANCE_METRICS) - LABEL_METRICS == {"selection_rate"}
    assert set(BETWEEN_METRICS) - LABEL_METRICS == {
        "demographic_parity_difference",
        "demographic_parity_ratio",
    }
    decision_metrics = {"selection_rate", "impact_ratio", "scoring_rate", "scoring_impact_ratio"}
    assert set(FAIRNESS_METRICS) - set(BETWEEN_METRICS) - LABEL_METRICS == decision_metrics


def test_a_model_that_does_not_name_its_inputs_never_gets_the_id_column() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    model = LogisticRegression().fit(rng.random((20, 2)), np.arange(20) % 2)
    frame = pd.DataFrame({"id": ["r1", "r2"], "a": [1.0, 2.0], "sex": [0.0, 1.0], "y": [0, 1]})
    validate(frame, DatasetRequirements("y", 1, ("sex",), id_column="id"), model, source="d.csv")
    with pytest.raises(InputError, match="has 3 columns besides the label;"):
        validate(frame, DatasetRequirements("y", 1, ("sex",)), model, source="d.csv")
    # no label either: every column but the id is an input
    unlabelled = DatasetRequirements(None, 1, ("sex",), id_column="id")
    validate(frame.drop(columns="y"), unlabelled, model, source="d.csv")
    with pytest.raises(InputError, match="positive_label 7 is not one of the model's classes"):
        validate(frame, DatasetRequirements(None, 7, ("sex",), id_column="id"), model, source="d")
