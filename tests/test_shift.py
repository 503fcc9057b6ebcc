"""Shift scenarios (issue #20 part 5): performance and fairness under reweighted group shares.

Oracles: scikit-learn metrics and fairlearn's MetricFrame / demographic_parity_difference with
``sample_weight`` = each row's weight computed here from pandas group shares; a row bootstrap by
hand for the intervals. The audits run through the CLI on the shipped Adult sample (shifting sex
changes the race disparities) with the logistic-regression model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    selection_rate,
    true_positive_rate,
)
from sklearn import metrics as skm

from audit import contract
from audit.cli import main
from audit.contract.shift import Shift
from audit.engine.finalize import FairnessOptions
from audit.engine.finalize_shift import check_spec, finalize_shift
from audit.engine.stats import summarise_arrays
from audit.errors import InputError
from audit.loaders import load_model
from audit.policy import Evidence, evaluate, load_policy
from audit.spec_settings import ShiftScenario
from tests.conftest import SAMPLES
from tests.helpers import complete

ADULT = SAMPLES / "adult"
MODEL = ADULT / "models" / "adult-logreg.skops"
DATA = ADULT / "adult_test.csv"
SCENARIOS = [
    {"id": "women+10", "feature": "sex", "group": "Female", "change": 0.10},
    {"id": "black60", "feature": "race", "group": "Black", "share": 0.6},
]
VOLATILE = ("report_id", "created_at", "version", "previous", "changes")
REL = 1e-10


def _weights(groups: pd.Series, group: str, target: float) -> np.ndarray:
    """Each row's weight, from pandas' shares: target / share for ``group``, the others scaled
    by (1 - target) / (1 - share), rows with no value 1."""
    share = groups.value_counts(normalize=True)  # among rows with a value
    w = np.where(groups == group, target / share[group], (1 - target) / (1 - share[group]))
    return np.where(groups.isna(), 1.0, w)


def _target(frame: pd.DataFrame, scenario: dict) -> float:
    if "share" in scenario:
        return scenario["share"]
    share = frame[scenario["feature"]].value_counts(normalize=True)[scenario["group"]]
    return share + scenario["change"]


@pytest.fixture(scope="module")
def adult() -> dict:
    """The rows, the model's decisions and scores, computed here with scikit-learn."""
    frame = pd.read_csv(DATA)
    est = load_model(MODEL).estimator
    X = frame.drop(columns=["income"])
    y = (frame["income"] == ">50K").to_numpy()
    proba = est.predict_proba(X)[:, list(est.classes_).index(">50K")]
    pred = est.predict(X) == ">50K"
    w = _weights(frame["sex"], "Female", _target(frame, SCENARIOS[0]))
    recall_drop = skm.recall_score(y, pred) - skm.recall_score(y, pred, sample_weight=w)
    return {"frame": frame, "y": y, "pred": pred, "proba": proba, "recall_drop": recall_drop}


def _spec(folder: Path, **extra: object) -> Path:
    doc = {
        "name": "adult-shift",
        "model": str(MODEL),
        "dataset": str(DATA),
        "label": "income",
        "positive_label": ">50K",
        "sensitive_features": ["sex", "race"],
        "policy": str(folder / "policy.yaml"),
        "seed": 3,
        "explain": {"sample_size": 30, "background_size": 20, "stability_replicas": 0},
        "fairness": {"n_bootstrap": 300},
        "shift": SCENARIOS,
        **extra,
    }
    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _policy(folder: Path, rules: str) -> None:
    (folder / "policy.yaml").write_text(
        'apiVersion: audit/v1\nkind: Policy\nname: shift\nversion: "1"\nrules:\n' + rules
    )


def _rule(rule_id: str, metric: str, max_degradation: float, extra: str = "") -> str:
    return (
        f"  - id: {rule_id}\n    kind: shift\n    metric: {metric}\n"
        f"    scenario: women+10\n    max_degradation: {max_degradation!r}\n{extra}"
    )


def _run(spec: Path, out: Path, *flags: str) -> tuple[int, dict]:
    code = main(["run", str(spec), "--output", str(out), "--no-pdf", "--no-sign", *flags])
    reports = list(out.glob("*/v*/report.json"))
    return code, json.loads(reports[0].read_text()) if reports else {}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, adult: dict) -> dict:
    """The audit in memory and streamed in 4,000-row batches; its policy holds a recall rule
    just below and just above the degradation computed with scikit-learn."""
    folder = tmp_path_factory.mktemp("shift")
    drop = adult["recall_drop"]
    assert drop > 0.001  # more women: recall falls (the rule below has something to judge)
    _policy(
        folder,
        _rule("recall-tight", "recall", drop * (1 - 1e-6))
        + _rule("recall-loose", "recall", drop * (1 + 1e-6))
        + _rule("recall-far", "recall", 0.5),
    )
    spec = _spec(folder)
    memory = _run(spec, folder / "m", "--engine", "memory")
    stream = _run(spec, folder / "s", "--engine", "stream", "--batch-rows", "4000")
    return {"memory": memory, "stream": stream, "folder": folder}


def _scenario(report: dict, scenario_id: str) -> dict:
    (found,) = [s for s in report["shift"]["scenarios"] if s["id"] == scenario_id]
    return found


# -- numbers against scikit-learn and fairlearn --------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["id"])
def test_weights_and_shares_follow_the_scenario(runs: dict, adult: dict, scenario: dict) -> None:
    frame = adult["frame"]
    column = frame[scenario["feature"]]
    target = _target(frame, scenario)
    w = _weights(column, scenario["group"], target)
    got = _scenario(runs["memory"][1], scenario["id"])
    assert got["unknown"] == int(column.isna().sum())
    for label, g in got["groups"].items():
        mask = (column == label).to_numpy()
        assert g["n"] == mask.sum()
        assert g["weight"] == pytest.approx(w[mask][0], rel=REL)
        assert g["target_share"] == pytest.approx(w[mask].sum() / w[column.notna()].sum(), rel=REL)
    assert got["groups"][scenario["group"]]["target_share"] == pytest.approx(target, rel=REL)
    assert w.sum() == pytest.approx(len(frame), rel=REL)  # the weights keep the row count


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["id"])
def test_performance_under_the_shift_equals_sklearn_with_sample_weight(
    runs: dict, adult: dict, scenario: dict
) -> None:
    frame, y, pred, proba = adult["frame"], adult["y"], adult["pred"], adult["proba"]
    w = _weights(frame[scenario["feature"]], scenario["group"], _target(frame, scenario))
    report = runs["memory"][1]
    perf = _scenario(report, scenario["id"])["performance"]
    oracles = {
        "accuracy": lambda **kw: skm.accuracy_score(y, pred, **kw),
        "precision": lambda **kw: skm.precision_score(y, pred, **kw),
        "recall": lambda **kw: skm.recall_score(y, pred, **kw),
        "f1": lambda **kw: skm.f1_score(y, pred, **kw),
        "roc_auc": lambda **kw: skm.roc_auc_score(y, proba, **kw),
        "selection_rate": lambda **kw: np.average(pred, weights=kw.get("sample_weight")),
        "base_rate": lambda **kw: np.average(y, weights=kw.get("sample_weight")),
    }
    assert set(perf) == set(oracles)
    for name, oracle in oracles.items():
        value = perf[name]
        assert value["shifted"] == pytest.approx(oracle(sample_weight=w), rel=REL), name
        assert value["current"] == pytest.approx(oracle(), rel=REL), name
        assert value["change"] == pytest.approx(value["shifted"] - value["current"], abs=1e-15)
        # the audit's own number is the performance section's, to the bit
        assert value["current"] == report["performance"][name], name


def test_race_disparities_under_a_sex_shift_equal_fairlearn(runs: dict, adult: dict) -> None:
    frame, y, pred = adult["frame"], adult["y"], adult["pred"]
    w = _weights(frame["sex"], "Female", _target(frame, SCENARIOS[0]))
    report = runs["memory"][1]
    race = _scenario(report, "women+10")["fairness"]["race"]["summaries"]
    kw = {"sensitive_features": frame["race"]}
    oracles = {
        "demographic_parity_difference": demographic_parity_difference,
        "demographic_parity_ratio": demographic_parity_ratio,
        "equalized_odds_difference": equalized_odds_difference,
    }
    for name, oracle in oracles.items():
        assert race[name]["shifted"] == pytest.approx(
            oracle(y, pred, **kw, sample_weight=w), rel=REL
        ), name
        assert race[name]["current"] == pytest.approx(oracle(y, pred, **kw), rel=REL), name
        assert race[name]["current"] == report["fairness"]["race"][name], name
    frame_w = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate},
        y_true=y,
        y_pred=pred,
        sensitive_features=frame["race"],
        sample_params={k: {"sample_weight": w} for k in ("selection_rate", "tpr")},
    )
    assert race["demographic_parity_difference"]["shifted"] == pytest.approx(
        frame_w.difference()["selection_rate"], rel=REL
    )
    assert race["equal_opportunity_difference"]["shifted"] == pytest.approx(
        frame_w.difference()["tpr"], rel=REL
    )
    # the shift moves the race disparities: women and men are spread unevenly over races
    assert abs(race["demographic_parity_difference"]["change"]) > 1e-3


def test_the_shifted_features_own_rates_do_not_change_and_the_report_says_so(
    runs: dict, adult: dict
) -> None:
    frame, y, pred = adult["frame"], adult["y"], adult["pred"]
    got = _scenario(runs["memory"][1], "women+10")
    assert got["unchanged"] == ["sex", "sex&race"]
    assert set(got["fairness"]) == {"race"}
    assert any("do not change" in note for note in runs["memory"][1]["shift"]["notes"])
    # the claim, checked with fairlearn: weighted per-group rates equal the unweighted ones
    w = _weights(frame["sex"], "Female", _target(frame, SCENARIOS[0]))
    groups = frame["sex"] + "&" + frame["race"]
    plain = MetricFrame(metrics=selection_rate, y_true=y, y_pred=pred, sensitive_features=groups)
    weighted = MetricFrame(
        metrics=selection_rate,
        y_true=y,
        y_pred=pred,
        sensitive_features=groups,
        sample_params={"sample_weight": w},
    )
    np.testing.assert_allclose(weighted.by_group.to_numpy(), plain.by_group.to_numpy(), rtol=1e-12)


def test_intervals_match_a_row_bootstrap_by_hand(runs: dict, adult: dict) -> None:
    """The multinomial bootstrap of the joint cells, weights recomputed per resample, against a
    row bootstrap with pandas-free weights recomputed from each resample's shares."""
    frame, y, pred = adult["frame"], adult["y"], adult["pred"]
    female = (frame["sex"] == "Female").to_numpy()
    target = _target(frame, SCENARIOS[0])
    rng = np.random.default_rng(12345)
    now, then, auc = [], [], []
    correct = y == pred
    for i in range(1000):
        rows = rng.integers(0, len(y), len(y))
        f, c = female[rows], correct[rows]
        share = f.mean()
        w = np.where(f, target / share, (1 - target) / (1 - share))
        now.append(c.mean())
        then.append(np.average(c, weights=w))
        if i < 300:
            auc.append(skm.roc_auc_score(y[rows], adult["proba"][rows], sample_weight=w))
    performance = _scenario(runs["memory"][1], "women+10")["performance"]
    roc = np.percentile(auc, [2.5, 97.5])
    np.testing.assert_allclose(performance["roc_auc"]["ci"], roc, atol=0.2 * (roc[1] - roc[0]))
    accuracy = performance["accuracy"]
    by_hand = np.percentile(then, [2.5, 97.5])
    change = np.percentile(np.subtract(then, now), [2.5, 97.5])
    width, width_change = by_hand[1] - by_hand[0], change[1] - change[0]
    # 300 resamples in the audit: each limit within a fifth of the interval's width
    np.testing.assert_allclose(accuracy["ci"], by_hand, atol=0.2 * width)
    np.testing.assert_allclose(accuracy["ci_change"], change, atol=0.2 * width_change)
    assert width_change < 0.5 * width  # paired: the change is known better than the value
    assert accuracy["ci"][0] < accuracy["shifted"] < accuracy["ci"][1]


def test_stream_gives_the_memory_report_byte_for_byte(runs: dict) -> None:
    (code_m, memory), (code_s, stream) = runs["memory"], runs["stream"]
    assert code_m == code_s == 1
    for report in (memory, stream):
        for key in VOLATILE:
            report.pop(key, None)
    assert json.dumps(stream, sort_keys=True) == json.dumps(memory, sort_keys=True)
    assert memory["shift"]["scenarios"][0]["performance"]["accuracy"]["ci"] is not None


# -- the rule -------------------------------------------------------------------------------------


def test_the_rule_fails_at_a_crafted_threshold_and_passes_at_a_loose_one(runs: dict) -> None:
    code, report = runs["memory"]
    found = {f["id"]: f for f in report["rules"]}
    assert code == 1
    assert found["recall-tight"]["status"] == "fail"
    assert found["recall-loose"]["status"] == "pass"
    assert found["recall-far"]["status"] == "pass"
    assert found["recall-tight"]["breaches"][0]["feature"] == "women+10"
    recall = _scenario(report, "women+10")["performance"]["recall"]
    assert found["recall-tight"]["value"] == pytest.approx(-recall["change"], rel=1e-12)


def _judge(tmp_path: Path, report: dict, rules: str, has_label: bool = True) -> dict:
    _policy(tmp_path, rules)
    policy = load_policy(tmp_path / "policy.yaml")
    evidence = Evidence(
        fairness={},
        performance=complete(contract.Performance, {}),
        explanations=contract.Skipped(status="skipped", reason="not needed here"),
        has_label=has_label,
        shift=Shift.model_validate(report["shift"]),
    )
    return {f.id: f for f in evaluate(policy, evidence)}


def test_bound_mode_judges_the_paired_interval(tmp_path: Path, runs: dict) -> None:
    report = runs["memory"][1]
    recall = _scenario(report, "women+10")["performance"]["recall"]
    low, high = sorted(-v for v in recall["ci_change"])  # degradation = -change (higher better)
    assert 0 < low < high
    bound = "    mode: bound\n"
    found = _judge(
        tmp_path,
        report,
        _rule("below", "recall", low / 2, bound)
        + _rule("inside", "recall", (low + high) / 2, bound)
        + _rule("above", "recall", high * 1.01, bound),
    )
    assert (found["below"].status, found["below"].verdict) == ("fail", "breach")
    assert (found["inside"].status, found["inside"].verdict) == ("warn", "inconclusive")
    assert (found["above"].status, found["above"].verdict) == ("pass", "no_breach")
    assert found["below"].ci == pytest.approx([low, high])


def test_bound_mode_without_an_interval_is_inconclusive(tmp_path: Path) -> None:
    stats, _ = _stats_and_rows(labelled=True)
    shift = _shift(stats, n_bootstrap=0, share=0.5)
    assert shift.scenarios[0].performance["recall"].ci_change is None
    rule = _rule("r", "recall", 0.5, "    mode: bound\n").replace("women+10", "s")
    found = _judge(tmp_path, {"shift": shift.to_json()}, rule)["r"]
    assert (found.status, found.verdict) == ("warn", "inconclusive")


def test_lower_is_better_metrics_degrade_upwards_and_every_scenario_is_judged(
    tmp_path: Path, runs: dict
) -> None:
    report = runs["memory"][1]
    race = _scenario(report, "women+10")["fairness"]["race"]["summaries"]
    sex = _scenario(report, "black60")["fairness"]["sex"]["summaries"]
    changes = {
        "women+10:race": race["equalized_odds_difference"]["change"],
        "black60:sex": sex["equalized_odds_difference"]["change"],
    }
    worst = max(changes, key=changes.__getitem__)
    rule = (
        "  - id: eod\n    kind: shift\n    metric: equalized_odds_difference\n"
        "    max_degradation: 0.0\n"
    )
    found = _judge(tmp_path, report, rule)["eod"]
    assert found.value == pytest.approx(changes[worst], rel=1e-12)  # up = worse
    assert found.feature == worst
    assert found.status == ("fail" if changes[worst] > 0 else "pass")
    assert {b.feature for b in found.breaches} == {k for k, v in changes.items() if v > 0}


def test_a_feature_the_shift_cannot_change_is_not_judged(tmp_path: Path, runs: dict) -> None:
    rule = (
        "  - id: sex-dp\n    kind: shift\n    metric: demographic_parity_difference\n"
        "    feature: sex\n    scenario: women+10\n    max_degradation: 0.0\n"
    )
    found = _judge(tmp_path, runs["memory"][1], rule)["sex-dp"]
    assert found.status == "skipped"
    assert "shifting sex does not change it" in found.message


def test_rule_errors_name_the_scenario_and_the_field(tmp_path: Path, runs: dict) -> None:
    report = runs["memory"][1]
    unknown = _rule("x", "recall", 0.1).replace("women+10", "men+10")
    with pytest.raises(InputError, match=r"scenario 'men\+10'.*scenarios: women\+10, black60"):
        _judge(tmp_path, report, unknown)
    no_label = _judge(tmp_path, report, _rule("r", "recall", 0.1), has_label=False)["r"]
    assert no_label.status == "skipped" and "no label" in no_label.message
    for bad, match in (
        (_rule("x", "base_rate", 0.1), "unknown shift metric 'base_rate'"),
        (_rule("x", "recall", -0.1), "max_degradation"),
        (_rule("x", "recall", 0.1, "    feature: race\n"), "between-group metrics"),
    ):
        _policy(tmp_path, bad)
        with pytest.raises(InputError, match=match):
            load_policy(tmp_path / "policy.yaml")


# -- bad scenarios ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario, match",
    [
        ({"share": 0.0}, r"scenario 'bad': share: 0.0 must be strictly between 0 and 1"),
        ({"share": 1.0}, r"scenario 'bad': share: 1.0 must be strictly between 0 and 1"),
        ({"share": 0.5, "change": 0.1}, r"scenario 'bad': give exactly one of"),
        ({"change": 1.5}, r"scenario 'bad': change: 1.5 must be strictly between -1 and 1"),
    ],
)
def test_a_share_of_0_or_1_is_refused_when_the_spec_is_read(
    tmp_path: Path, scenario: dict, match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _policy(tmp_path, _rule("r", "recall", 0.1))
    spec = _spec(tmp_path, shift=[{"id": "bad", "feature": "sex", "group": "Female", **scenario}])
    assert main(["run", str(spec), "--output", str(tmp_path / "o"), "--no-sign"]) == 2
    err = capsys.readouterr().err
    assert "audit.yaml" in err and "shift[0]" in err
    assert re.search(match, err), err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 Adult rows: quick audits for the data-dependent errors."""
    folder = tmp_path_factory.mktemp("small")
    frame = pd.read_csv(DATA).head(2000)
    frame.to_csv(folder / "small.csv", index=False)
    return folder / "small.csv"


@pytest.mark.parametrize(
    "scenario, match",
    [
        (
            {"feature": "age", "group": "Female", "share": 0.5},
            r"shift\[0\] \(scenario 'bad'\): feature 'age' is not a sensitive feature",
        ),
        (
            {"feature": "sex", "group": "female", "share": 0.5},
            r"shift\[0\] \(scenario 'bad'\): group 'female' does not occur in 'sex' "
            r"\(groups: 'Female', 'Male'\)",
        ),
        (
            {"feature": "sex", "group": "Female", "change": 0.7},
            r"shift\[0\] \(scenario 'bad'\): change: 0.7 gives 'Female' a share of 1.0",
        ),
    ],
)
def test_an_unknown_feature_or_group_is_bad_input_naming_the_scenario(
    tmp_path: Path, small: Path, scenario: dict, match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _policy(tmp_path, _rule("r", "recall", 0.1))
    spec = _spec(tmp_path, dataset=str(small), shift=[{"id": "bad", **scenario}])
    assert main(["run", str(spec), "--output", str(tmp_path / "o"), "--no-sign"]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err
    assert "Traceback" not in err


def test_two_scenarios_with_one_id_are_refused(tmp_path: Path, small: Path, capsys) -> None:
    _policy(tmp_path, _rule("r", "recall", 0.1))
    spec = _spec(tmp_path, dataset=str(small), shift=[SCENARIOS[0], SCENARIOS[0]])
    assert main(["run", str(spec), "--output", str(tmp_path / "o"), "--no-sign"]) == 2
    assert "shift[1].id: scenario id 'women+10' is used twice" in capsys.readouterr().err


# -- missing values, no label, other tasks (from the statistics directly) ----------------------


def _stats_and_rows(labelled: bool) -> tuple[object, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 5000
    rows = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M", None], n, p=[0.3, 0.6, 0.1]),
            "age": rng.choice(["young", "old", None], n, p=[0.45, 0.5, 0.05]),
        }
    )
    rows["y"] = rng.random(n) < np.where(rows["age"] == "young", 0.3, 0.5)
    rows["pred"] = rng.random(n) < np.where(rows["sex"] == "F", 0.25, 0.45) + 0.2 * rows["y"]
    rows["score"] = np.round(rng.random(n) * 0.5 + 0.4 * rows["y"], 3)
    stats = summarise_arrays(
        rows[["sex", "age"]],
        rows["pred"].to_numpy(),
        y_true=rows["y"].to_numpy() if labelled else None,
        scores=rows["score"].to_numpy(),
    )
    return stats, rows


def _shift(stats: object, task: str = "binary", n_bootstrap: int = 50, **scenario: object) -> Shift:
    spec = SimpleNamespace(
        task=task,
        sensitive_features=["sex", "age"],
        shift=[ShiftScenario(id="s", feature="sex", group="F", **scenario)],  # type: ignore[arg-type]
    )
    return finalize_shift(stats, spec, FairnessOptions(n_bootstrap=n_bootstrap, seed=1))  # type: ignore[arg-type]


def test_rows_with_a_missing_value_keep_weight_one() -> None:
    stats, rows = _stats_and_rows(labelled=True)
    got = _shift(stats, share=0.5).scenarios[0]
    w = _weights(rows["sex"], "F", 0.5)
    assert got.unknown == rows["sex"].isna().sum() > 0
    y, pred = rows["y"], rows["pred"]
    assert got.performance["accuracy"].shifted == pytest.approx(
        skm.accuracy_score(y, pred, sample_weight=w), rel=REL
    )
    assert got.performance["roc_auc"].shifted == pytest.approx(
        skm.roc_auc_score(y, rows["score"], sample_weight=w), rel=REL
    )
    # age groups are compared over rows whose age is known; fairlearn drops the others by hand
    known = rows["age"].notna().to_numpy()
    assert got.fairness["age"].summaries["demographic_parity_difference"].shifted == pytest.approx(
        demographic_parity_difference(
            y[known], pred[known], sensitive_features=rows["age"][known], sample_weight=w[known]
        ),
        rel=REL,
    )
    assert got.unchanged == ["sex", "sex&age"]
    auc = got.performance["roc_auc"]  # scores with ties: the bootstrap counts a tie 1/2
    assert auc.ci is not None and auc.ci[0] < auc.shifted < auc.ci[1]
    assert auc.ci_change is not None and auc.ci_change[0] < auc.change < auc.ci_change[1]


def test_without_a_label_only_the_selection_rate_and_demographic_parity() -> None:
    stats, rows = _stats_and_rows(labelled=False)
    got = _shift(stats, change=-0.1).scenarios[0]
    w = _weights(rows["sex"], "F", (rows["sex"] == "F").sum() / rows["sex"].notna().sum() - 0.1)
    assert got.performance["selection_rate"].shifted == pytest.approx(
        np.average(rows["pred"], weights=w), rel=REL
    )
    for name in ("accuracy", "recall", "precision", "f1", "roc_auc", "base_rate"):
        assert got.performance[name].shifted is None, name
    summaries = got.fairness["age"].summaries
    assert summaries["demographic_parity_ratio"].shifted is not None
    assert summaries["demographic_parity_ratio"].ci is not None
    assert summaries["equalized_odds_difference"].shifted is None


def test_other_tasks_are_refused_for_now() -> None:
    stats, _ = _stats_and_rows(labelled=True)
    with pytest.raises(InputError, match="shift: binary audits only for now"):
        _shift(stats, task="regression", share=0.5)


def test_what_needs_no_data_can_be_refused_before_the_pass() -> None:
    spec = SimpleNamespace(
        task="binary",
        sensitive_features=["sex", "race"],
        shift=[ShiftScenario(id="a", feature="age", group="old", share=0.5)],
    )
    with pytest.raises(InputError, match=r"shift\[0\] \(scenario 'a'\): feature 'age'"):
        check_spec(spec)
    spec.shift = [ShiftScenario(id="a", feature="sex", group="Female", share=0.5)]
    check_spec(spec)  # the group is checked against the data, later


def test_intervals_hold_their_coverage_in_a_seeded_simulation() -> None:
    """A population where women are 30 % with accuracy 0.70 and men 0.85: at a 50 % share the
    accuracy is 0.775 and the change from now -0.03. 300 samples of 2,000 rows: the 95 %
    intervals cover those truths about 95 % of the time (0.92-0.98 is +-2.4 standard errors)."""
    rng = np.random.default_rng(2026)
    truth, truth_change = 0.775, 0.775 - (0.3 * 0.70 + 0.7 * 0.85)
    covered = covered_change = 0
    runs = 300
    for _ in range(runs):
        n = 2000
        female = rng.random(n) < 0.3
        y = rng.random(n) < 0.4
        right = rng.random(n) < np.where(female, 0.70, 0.85)
        pred = np.where(right, y, ~y)
        sensitive = pd.DataFrame(
            {"sex": np.where(female, "F", "M"), "band": rng.choice(["a", "b"], n)}
        )
        stats = summarise_arrays(sensitive, pred, y_true=y)
        spec = SimpleNamespace(
            task="binary",
            sensitive_features=["sex", "band"],
            shift=[ShiftScenario(id="s", feature="sex", group="F", share=0.5)],
        )
        options = FairnessOptions(n_bootstrap=200, seed=int(rng.integers(1 << 30)))
        accuracy = finalize_shift(stats, spec, options).scenarios[0].performance["accuracy"]  # type: ignore[arg-type]
        assert accuracy.ci is not None and accuracy.ci_change is not None
        covered += accuracy.ci[0] <= truth <= accuracy.ci[1]
        covered_change += accuracy.ci_change[0] <= truth_change <= accuracy.ci_change[1]
    assert 0.92 <= covered / runs <= 0.98
    assert 0.92 <= covered_change / runs <= 0.98
