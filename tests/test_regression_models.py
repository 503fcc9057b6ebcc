"""task: regression: per-group metrics of a regressor against scikit-learn, scipy, statsmodels and
pandas hand computations; memory and stream give the same bytes; bad input is exit 2 naming the
column; continuous_fairness rules fail and pass at crafted thresholds.

The sample is german-amount-gbr (HistGradientBoostingRegressor of credit_amount) on the German
test split (300 rows), sensitive sex, age_group and their intersection.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps
from sklearn.metrics import (
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    root_mean_squared_error,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from audit.cli.app import main

ROOT = Path(__file__).resolve().parents[1]
GERMAN = ROOT / "samples" / "german"
MODEL = GERMAN / "models" / "german-amount-gbr.skops"
DATA = GERMAN / "german_test.csv"
POLICY = ROOT / "policies" / "regression-baseline.yaml"
FEATURES = ("sex", "age_group", "sex&age_group")
REL = 1e-12


def _spec(tmp: Path, **changes: Any) -> Path:
    doc: dict[str, Any] = {
        "name": "german-credit-amount",
        "task": "regression",
        "model": str(MODEL),
        "dataset": str(DATA),
        "label": "credit_amount",
        "sensitive_features": ["sex", "age_group"],
        "policy": str(POLICY),
        "output": str(tmp / "out"),
        "seed": 0,
        "explain": {"sample_size": 40, "background_size": 20, "proxy_model_rows": 0},
        "fairness": {"n_bootstrap": 200},
    }
    doc.update(changes)
    doc = {k: v for k, v in doc.items() if v is not None}
    tmp.mkdir(parents=True, exist_ok=True)
    spec = tmp / "audit.yaml"
    spec.write_text(yaml.safe_dump(doc))
    return spec


def _run(spec: Path, *flags: str) -> tuple[int, Path | None]:
    code = main(["run", str(spec), "--no-sign", "--no-pdf", *flags])
    found = sorted(spec.parent.glob("out/*/v*/report.json"))
    return code, found[-1] if found else None


def _masked(path: Path) -> str:
    data = json.loads(path.read_text())
    for key in ("report_id", "created_at", "version", "environment", "previous"):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample audited in memory and streamed in 97-row batches."""
    base = tmp_path_factory.mktemp("regression")
    out = {}
    for engine, flags in (("memory", ["--engine", "memory"]),
                          ("stream", ["--engine", "stream", "--batch-rows", "97"])):  # fmt: skip
        code, report = _run(_spec(base / engine), *flags)
        assert code in (0, 1) and report is not None
        out[engine] = report
    return out


@pytest.fixture(scope="module")
def report(audited: dict[str, Path]) -> dict[str, Any]:
    return json.loads(audited["memory"].read_text())


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """The test split with the model's predictions (loaded by skops directly, not by audit)."""
    import skops.io as sio

    est = sio.load(MODEL, trusted=sio.get_untrusted_types(file=MODEL))
    df = pd.read_csv(DATA)
    X = df[list(est.feature_names_in_)]
    df["pred"] = est.predict(X).astype(float)
    df["sex&age_group"] = df["sex"] + "&" + df["age_group"]
    df["err"] = df["credit_amount"] - df["pred"]
    return df


def _close(a: float | None, b: float, rel: float = REL) -> bool:
    return a is not None and a == pytest.approx(b, rel=rel, abs=1e-9)


def _groups(df: pd.DataFrame, feature: str) -> dict[str, pd.DataFrame]:
    return {str(g): part for g, part in df.groupby(feature, sort=True)}


def test_group_metrics_equal_sklearn_and_pandas(report: dict, frame: pd.DataFrame) -> None:
    reg = report["regression"]
    assert report["task"] == "regression" and report["fairness"] == {}
    assert report["performance"]["status"] == "not_applicable"
    assert report["data"]["label_balance"] is None  # no binary label: not 0
    y, p = frame["credit_amount"], frame["pred"]
    overall = reg["overall"]
    assert overall["n"] == len(frame) == 300
    assert _close(overall["mae"], mean_absolute_error(y, p))
    assert _close(overall["rmse"], root_mean_squared_error(y, p))
    assert _close(overall["r2"], r2_score(y, p))
    checked = 0
    for feature in FEATURES:
        fdata = reg["features"][feature]
        groups = _groups(frame, feature)
        assert set(fdata["groups"]) == set(groups)
        ok = {g: d for g, d in groups.items() if len(d) >= 30}  # the policy's min_group_size
        means = {g: d["pred"].mean() for g, d in ok.items()}
        ref = max(means, key=means.__getitem__)  # most favoured: highest mean prediction
        assert fdata["reference_group"] == ref
        for g, d in groups.items():
            got = fdata["groups"][g]
            assert got["n"] == len(d)
            if g not in ok:
                assert got["status"] == "insufficient_data" and got["mae"] is None
                continue
            assert _close(got["mean_prediction"], d["pred"].mean())
            assert _close(got["mean_outcome"], d["credit_amount"].mean())
            assert _close(got["mae"], mean_absolute_error(d["credit_amount"], d["pred"]))
            assert _close(got["rmse"], root_mean_squared_error(d["credit_amount"], d["pred"]))
            assert _close(got["mse"], mean_squared_error(d["credit_amount"], d["pred"]))
            r = groups[ref]
            assert _close(got["mean_prediction_ratio"], d["pred"].mean() / r["pred"].mean())
            assert _close(
                got["mean_outcome_ratio"], d["credit_amount"].mean() / r["credit_amount"].mean()
            )
            assert _close(got["mean_prediction_difference"], d["pred"].mean() - r["pred"].mean())
            checked += 1
        mse = {g: mean_squared_error(d["credit_amount"], d["pred"]) for g, d in ok.items()}
        worst = max(mse, key=mse.__getitem__)
        bgl = fdata["summaries"]["bounded_group_loss"]
        assert _close(bgl["value"], mse[worst]) and bgl["groups"] == [worst]
        lo, hi = bgl["ci"]
        assert lo <= bgl["value"] <= hi
        mae = {g: mean_absolute_error(d["credit_amount"], d["pred"]) for g, d in ok.items()}
        assert _close(
            fdata["summaries"]["mae_difference"]["value"], max(mae.values()) - min(mae.values())
        )
        assert _close(
            fdata["summaries"]["mean_prediction_ratio_min"]["value"],
            min(means.values()) / max(means.values()),
        )
    assert checked == 6  # sex 2, age_group 2, intersection 2 of 4 (the under-25 ones are small)


def test_distribution_distances_equal_scipy(report: dict, frame: pd.DataFrame) -> None:
    compared = 0
    for feature in FEATURES:
        fdata = report["regression"]["features"][feature]
        groups = _groups(frame, feature)
        ref = groups[fdata["reference_group"]]["pred"].to_numpy()
        ks_values = {}
        for g, got in fdata["groups"].items():
            if got["status"] != "ok" or g == fdata["reference_group"]:
                continue
            mine = groups[g]["pred"].to_numpy()
            ks = sps.ks_2samp(mine, ref)
            assert got["ks_statistic"] == pytest.approx(ks.statistic, rel=REL)
            assert got["ks_p_value"] == pytest.approx(ks.pvalue, rel=1e-9)
            assert got["tests"]["ks"]["p_value"] == got["ks_p_value"]
            assert "exact" in got["tests"]["ks"]["method"]
            w = sps.wasserstein_distance(mine, ref)
            assert got["wasserstein"] == pytest.approx(w, rel=REL)
            lo, hi = got["ci"]["wasserstein"]
            assert lo < hi and lo >= 0
            ks_values[g] = ks.statistic
            compared += 1
        worst = max(ks_values, key=ks_values.__getitem__)
        assert fdata["summaries"]["ks_max"]["groups"] == [worst]
    assert compared == 3  # one group against the reference in each feature


def test_intervals_and_tests_equal_statsmodels(report: dict, frame: pd.DataFrame) -> None:
    for feature in FEATURES:
        fdata = report["regression"]["features"][feature]
        groups = _groups(frame, feature)
        ref = groups[fdata["reference_group"]]
        for g, got in fdata["groups"].items():
            if got["status"] != "ok":
                continue
            d = groups[g]
            for metric, values in (
                ("mean_prediction", d["pred"]),
                ("mean_outcome", d["credit_amount"]),
                ("mae", d["err"].abs()),
                ("mse", d["err"] ** 2),
            ):
                want = DescrStatsW(values.to_numpy()).tconfint_mean(alpha=0.05)
                assert got["ci"][metric] == pytest.approx(list(want), rel=1e-10), (g, metric)
            lo, hi = got["ci"]["mse"]
            assert got["ci"]["rmse"] == pytest.approx([np.sqrt(max(lo, 0)), np.sqrt(hi)])
            if g == fdata["reference_group"]:
                assert got["mean_prediction_ratio"] == 1.0 and got["tests"] == {}
                continue
            welch = sps.ttest_ind(d["pred"], ref["pred"], equal_var=False)
            assert got["tests"]["welch"]["p_value"] == pytest.approx(welch.pvalue, rel=1e-9)
            diff = CompareMeans(DescrStatsW(d["pred"]), DescrStatsW(ref["pred"]))
            want = diff.tconfint_diff(alpha=0.05, usevar="unequal")
            assert got["ci"]["mean_prediction_difference"] == pytest.approx(list(want), rel=1e-9)


def test_stream_gives_the_in_memory_report(audited: dict[str, Path]) -> None:
    assert _masked(audited["stream"]) == _masked(audited["memory"])


def test_explanations_of_a_regressor(report: dict, frame: pd.DataFrame) -> None:
    """SHAP as today: tree SHAP of the predicted value, additive to the model's prediction."""
    ex = report["explanations"]
    assert ex["status"] == "computed" and ex["output_space"] == "predicted value"
    assert ex["additivity"]["max_abs_error"] < 1e-6 * frame["pred"].abs().max()
    assert ex.get("positive_label") is None


def test_ties_stream_like_memory(tmp_path: Path) -> None:
    """Adult hours_per_week as the outcome, with recorded integer predictions (many ties), two
    sensitive features, streamed in 1,000-row batches: the same bytes as in memory."""
    adult = pd.read_csv(ROOT / "samples" / "adult" / "adult_test.csv")
    adult["predicted_hours"] = (30 + adult["education_num"] + (adult["age"] // 10)).astype(int)
    csv = tmp_path / "adult_hours.csv"
    adult[["sex", "race", "hours_per_week", "predicted_hours"]].to_csv(csv, index=False)
    reports = {}
    for engine, flags in (("memory", ["--engine", "memory"]),
                          ("stream", ["--engine", "stream", "--batch-rows", "1000"])):  # fmt: skip
        spec = _spec(
            tmp_path / engine,
            name="adult-hours",
            model=None,
            dataset=str(csv),
            label="hours_per_week",
            predictions="predicted_hours",
            sensitive_features=["sex", "race"],
            explain=None,
        )
        code, found = _run(spec, *flags)
        assert code in (0, 1) and found is not None
        reports[engine] = found
    assert _masked(reports["stream"]) == _masked(reports["memory"])
    reg = json.loads(reports["memory"].read_text())["regression"]
    female = adult[adult["sex"] == "Female"]
    male = adult[adult["sex"] == "Male"]
    got = reg["features"]["sex"]["groups"]["Female"]
    assert got["ks_statistic"] == pytest.approx(
        sps.ks_2samp(female["predicted_hours"], male["predicted_hours"]).statistic, rel=REL
    )
    assert "asymptotic" in got["tests"]["ks"]["method"]  # 10,860 men: past the exact method
    assert got["ks_p_value"] == pytest.approx(
        sps.ks_2samp(female["predicted_hours"], male["predicted_hours"]).pvalue, rel=1e-9
    )
    assert got["mae"] == pytest.approx(
        mean_absolute_error(female["hours_per_week"], female["predicted_hours"]), rel=REL
    )


def test_predictions_without_a_label(tmp_path: Path, frame: pd.DataFrame) -> None:
    """Recorded predictions, no label: the prediction metrics, nothing that needs the outcome;
    rules that need it are not assessable."""
    csv = tmp_path / "recorded.csv"
    frame[["sex", "age_group", "pred"]].to_csv(csv, index=False)
    spec = _spec(
        tmp_path, model=None, dataset=str(csv), label=None, predictions="pred", explain=None
    )
    code, found = _run(spec)
    assert code == 0 and found is not None
    data = json.loads(found.read_text())
    reg = data["regression"]
    assert reg["labelled"] is False and reg["overall"]["mae"] is None
    female = reg["features"]["sex"]["groups"]["female"]
    assert _close(female["mean_prediction"], frame.loc[frame.sex == "female", "pred"].mean())
    assert female["mae"] is None and female["mean_outcome_ratio"] is None
    rules = {r["id"]: r for r in data["rules"]}
    assert rules["bounded-group-loss"]["status"] == "skipped"
    assert "no label" in rules["bounded-group-loss"]["message"]
    assert rules["mean-prediction-ratio"]["status"] != "skipped"


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("credit_amount", "lots", ["label column 'credit_amount'", "not numbers", "'lots'"]),
        ("pred", "inf", ["predictions column 'pred'", "infinite"]),
        ("pred", "-inf", ["predictions column 'pred'", "infinite"]),
    ],
)
def test_bad_input_is_exit_2_naming_the_column(
    tmp_path: Path,
    frame: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    column: str,
    value: str,
    words: list[str],
) -> None:
    bad = frame[["sex", "age_group", "credit_amount", "pred"]].astype({column: object})
    bad.loc[7, column] = value
    csv = tmp_path / "bad.csv"
    bad.to_csv(csv, index=False)
    spec = _spec(tmp_path, model=None, dataset=str(csv), predictions="pred", explain=None)
    code, _ = _run(spec)
    err = capsys.readouterr().err
    assert code == 2
    for word in words:
        assert word in err
    assert "data rows 8" in err and "Traceback" not in err


def test_a_classifier_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, model=str(GERMAN / "models" / "german-rf.skops"), label="risk")
    code, _ = _run(spec)
    assert code == 2 and "is a classifier" in capsys.readouterr().err


# -- rules at crafted thresholds ---------------------------------------------------------------


def _policy(tmp: Path, rules: list[dict]) -> Path:
    path = tmp / "policy.yaml"
    doc = {"apiVersion": "audit/v1", "kind": "Policy", "name": "crafted", "version": "1",
           "min_group_size": 30, "rules": rules}  # fmt: skip
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _rule(rid: str, metric: str, op: str, threshold: float, **kw: Any) -> dict:
    return {"id": rid, "kind": "continuous_fairness", "metric": metric, "operator": op,
            "threshold": threshold, **kw}  # fmt: skip


def test_rules_fail_and_pass_at_crafted_thresholds(tmp_path: Path, report: dict) -> None:
    reg = report["regression"]
    sex = reg["features"]["sex"]
    female = sex["groups"]["female"]
    ratio, (lo, hi) = female["mean_prediction_ratio"], female["ci"]["mean_prediction_ratio"]
    bgl = sex["summaries"]["bounded_group_loss"]["value"]
    r2 = reg["overall"]["r2"]
    rules = [
        _rule("ratio-pass", "mean_prediction_ratio", ">=", ratio - 1e-6, feature="sex"),
        _rule("ratio-fail", "mean_prediction_ratio", ">=", ratio + 1e-6, feature="sex"),
        _rule("bound-pass", "mean_prediction_ratio", ">=", lo - 1e-6, feature="sex", mode="bound"),
        _rule("bound-fail", "mean_prediction_ratio", ">=", hi + 1e-6, feature="sex", mode="bound"),
        _rule("bound-unclear", "mean_prediction_ratio", ">=", ratio, feature="sex", mode="bound",
              on_inconclusive="fail"),
        _rule("bgl-pass", "bounded_group_loss", "<=", bgl * (1 + 1e-9), feature="sex"),
        _rule("bgl-fail", "bounded_group_loss", "<=", bgl * (1 - 1e-9), feature="sex"),
        _rule("mae-group", "mae", "<=", female["mae"] * (1 - 1e-9), group="female"),
        _rule("r2-pass", "r2", ">=", r2 - 1e-9),
        _rule("r2-fail", "r2", ">=", r2 + 1e-9, severity="warning"),
    ]  # fmt: skip
    spec = _spec(tmp_path, policy=str(_policy(tmp_path, rules)), explain=None)
    code, found = _run(spec)
    assert code == 1 and found is not None
    got = {r["id"]: r for r in json.loads(found.read_text())["rules"]}
    assert got["ratio-pass"]["status"] == "pass"
    assert got["ratio-fail"]["status"] == "fail"
    assert got["ratio-fail"]["feature"] == "sex" and got["ratio-fail"]["group"] == "female"
    assert got["ratio-fail"]["value"] == ratio
    assert got["bound-pass"]["status"] == "pass" and got["bound-pass"]["verdict"] == "no_breach"
    assert got["bound-fail"]["status"] == "fail" and got["bound-fail"]["verdict"] == "breach"
    assert got["bound-unclear"]["verdict"] == "inconclusive"
    assert got["bound-unclear"]["status"] == "fail"
    assert got["bgl-pass"]["status"] == "pass" and got["bgl-fail"]["status"] == "fail"
    assert got["mae-group"]["status"] == "fail" and got["mae-group"]["group"] == "female"
    assert got["r2-pass"]["status"] == "pass" and got["r2-fail"]["status"] == "warn"


def test_rule_refusals_and_a_binary_audit(tmp_path: Path) -> None:
    from audit.policy import Evidence
    from audit.policy.rules import ContinuousFairnessRule

    with pytest.raises(ValueError, match="has no interval"):
        ContinuousFairnessRule.model_validate(
            _rule("x", "ks_p_value", ">=", 0.05) | {"mode": "bound"}
        )
    with pytest.raises(ValueError, match="applies to a per-group metric"):
        ContinuousFairnessRule.model_validate(_rule("x", "ks_max", "<=", 0.1, group="female"))
    with pytest.raises(ValueError, match="did you mean 'mae'"):
        ContinuousFairnessRule.model_validate(_rule("x", "maee", "<=", 0.1))
    rule = ContinuousFairnessRule.model_validate(_rule("x", "mae", "<=", 0.1))

    class _Policy:
        min_group_size, correction, on_inconclusive = 1, "holm", "warn"

        def where(self, rule_id: str) -> str:
            return "policy.yaml"

    found = rule.judge(_Policy(), Evidence(fairness={}, performance=None, explanations=None,
                                           data=None))  # type: ignore[arg-type]  # fmt: skip
    assert found.status == "skipped" and "not a regression audit" in found.message


# -- exact, mergeable counters ------------------------------------------------------------------


def test_counters_merge_exactly_in_any_order() -> None:
    from audit.engine.continuous import ContinuousPart
    from audit.fairness.continuous import counters_of, merge_counters, round_significant

    rng = np.random.default_rng(3)
    values = np.round(rng.lognormal(8, 1, size=5000), 1)
    codes = rng.integers(0, 3, size=5000)
    keys = (("a",), ("b",), ("c",))

    def part(rows: slice) -> ContinuousPart:
        c = counters_of(values[rows], codes[rows], 3)
        present = [i for i in range(3) if c[i].n]
        return ContinuousPart(False, tuple(keys[i] for i in present),
                              tuple(c[i] for i in present))  # fmt: skip

    whole = part(slice(None))
    pieces = [part(slice(i, i + 700)) for i in range(0, 5000, 700)]
    forward = pieces[0]
    for p in pieces[1:]:
        forward = forward.merge(p)
    backward = pieces[-1]
    for p in reversed(pieces[:-1]):
        backward = p.merge(backward)
    assert forward.keys == backward.keys == whole.keys
    assert all(a == b == w for a, b, w in zip(forward.predictions, backward.predictions,
                                              whole.predictions, strict=True))  # fmt: skip
    for i in range(3):  # each counter holds exactly the group's values
        mine = whole.predictions[i]
        want, counts = np.unique(values[codes == i], return_counts=True)
        assert np.array_equal(mine.values, want) and np.array_equal(mine.counts, counts)
    # rounding is a function of each value, so it commutes with merging
    a, b = (
        counters_of(values[:2500], codes[:2500] * 0, 1)[0],
        counters_of(values[2500:], codes[2500:] * 0, 1)[0],
    )
    assert merge_counters([a.rounded_to_grid(), b]) == merge_counters([a, b]).rounded_to_grid()
    assert np.all(np.abs(round_significant(values) / values - 1) <= 2.0**-16)


def test_bootstrap_intervals_cover(tmp_path: Path) -> None:
    """Seeded simulation: the percentile bootstrap of the gap in mean predictions between two
    groups (and the t interval of a group's mean) cover the true value about 95% of the time."""
    from audit.fairness.continuous import counters_of
    from audit.fairness.continuous_groups import GroupCounters, Options, feature

    rng = np.random.default_rng(11)
    sims, hits_gap, hits_mean = 300, 0, 0
    for s in range(sims):
        a = np.round(rng.gamma(4.0, 2.0, size=80), 2)  # mean 8
        b = np.round(rng.gamma(4.0, 2.5, size=120), 2)  # mean 10
        groups = [GroupCounters(n, counters_of(v, np.zeros(len(v), np.int64), 1)[0])
                  for n, v in (("a", a), ("b", b))]  # fmt: skip
        out = feature("x", ["x"], groups, 0, Options(n_bootstrap=400, seed=s))
        lo, hi = out.summaries["mean_prediction_gap"].ci or (np.nan, np.nan)
        hits_gap += lo <= 2.0 <= hi
        lo, hi = out.groups["a"].ci["mean_prediction"] or (np.nan, np.nan)
        hits_mean += lo <= 8.0 <= hi
    assert 0.91 <= hits_gap / sims <= 0.98
    assert 0.91 <= hits_mean / sims <= 0.98


def test_html_shows_the_regression_section(audited: dict[str, Path], report: dict) -> None:
    html = (audited["memory"].parent / "report.html").read_text()
    assert '<section id="regression" class="major"' in html
    assert "Regression: predictions by group" in html
    female = report["regression"]["features"]["sex"]["groups"]["female"]
    assert f"{female['mean_prediction_ratio']:.3f}" in html  # the ratio, as the table shows it
    assert "(reference)" in html and "bounded group loss" in html
    assert ">Mean prediction by group: sex</title>" in html  # the chart, inline SVG


def test_binary_rules_are_not_assessable_in_a_regression_audit(tmp_path: Path) -> None:
    rules = [
        {"id": "ir", "kind": "fairness", "metric": "impact_ratio", "feature": "sex",
         "operator": ">=", "threshold": 0.8},
        {"id": "acc", "kind": "performance", "metric": "accuracy", "operator": ">=",
         "threshold": 0.7},
        _rule("mae", "mae_overall", "<=", 1e9),
    ]  # fmt: skip
    spec = _spec(tmp_path, policy=str(_policy(tmp_path, rules)), explain=None)
    code, found = _run(spec)
    assert code == 0 and found is not None
    got = {r["id"]: r for r in json.loads(found.read_text())["rules"]}
    for rid in ("ir", "acc"):
        assert got[rid]["status"] == "skipped"
        assert "use kind continuous_fairness" in got[rid]["message"]
    assert got["mae"]["status"] == "pass"


def test_rounding_past_the_limit_streams_like_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_DISTINCT distinct values every counter keeps 16 significant bits: in memory (one
    partition over the limit) and streamed (batches under it, their merge over it) alike."""
    import audit.engine.continuous as continuous

    monkeypatch.setattr(continuous, "MAX_DISTINCT", 200)
    found = {}
    for engine, flags in (("memory", ["--engine", "memory"]),
                          ("stream", ["--engine", "stream", "--batch-rows", "60"])):  # fmt: skip
        code, report = _run(_spec(tmp_path / engine, explain=None), *flags)
        assert code in (0, 1) and report is not None
        found[engine] = report
    assert _masked(found["stream"]) == _masked(found["memory"])
    reg = json.loads(found["memory"].read_text())["regression"]
    assert reg["resolution"] == 2.0**-16
    exact = pd.read_csv(DATA)["credit_amount"].mean()
    assert reg["overall"]["mean_outcome"] == pytest.approx(exact, rel=2.0**-16)


def test_reference_choices_unknown_and_excluded_groups(tmp_path: Path, frame: pd.DataFrame) -> None:
    """A named reference group, favourable: lower, rows with an unknown sex, and a group under
    exclude_below_share (reported, never compared)."""
    data = frame[["sex", "age_group", "credit_amount", "pred"]].copy()
    data.loc[:9, "sex"] = None
    data.loc[10:24, "sex"] = "diverse"  # 15 of 290 known rows: 5.2%
    csv = tmp_path / "groups.csv"
    data.to_csv(csv, index=False)
    policy = _policy(tmp_path, [_rule("r", "mean_prediction_ratio", ">=", 0.0)])
    text = policy.read_text().replace(
        "min_group_size: 30",
        "min_group_size: 10\nexclude_below_share: 0.1\nreference_group: {sex: female}",
    )
    policy.write_text(text)
    spec = _spec(tmp_path, model=None, dataset=str(csv), predictions="pred", explain=None,
                 policy=str(policy), favourable="lower")  # fmt: skip
    code, found = _run(spec)
    assert code == 0 and found is not None
    reg = json.loads(found.read_text())["regression"]
    sex = reg["features"]["sex"]
    assert sex["reference_group"] == "female" and sex["reference_rule"] == "named"
    assert sex["unknown"] == 10
    assert sex["excluded_groups"] == ["diverse"]
    diverse = sex["groups"]["diverse"]
    assert diverse["excluded"] and diverse["mean_prediction"] is not None
    assert diverse["mean_prediction_ratio"] is None and diverse["tests"] == {}
    known = data.dropna(subset=["sex"])
    male = known.loc[known.sex == "male", "pred"].mean()
    female = known.loc[known.sex == "female", "pred"].mean()
    assert sex["groups"]["male"]["mean_prediction_ratio"] == pytest.approx(male / female, rel=REL)
    # favourable: lower makes the most favoured age group the one with the lowest mean
    ages = data.groupby("age_group")["pred"].mean()
    assert reg["features"]["age_group"]["reference_group"] == ages.idxmin()


@pytest.mark.parametrize("method", ["auto", "permutation"])
def test_linear_and_permutation_explanations_of_a_regressor(method: str) -> None:
    """explain_model with positive_label None on a linear regression pipeline: linear SHAP (or
    permutation SHAP) of the predicted value, additive to the pipeline's own prediction."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from audit.explain import explain_model

    df = pd.read_csv(DATA)
    y = df.pop("credit_amount").astype(float)
    df = df.drop(columns=["risk"])
    numeric = list(df.select_dtypes("number").columns)
    other = [c for c in df.columns if c not in numeric]
    pipe = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), other), (StandardScaler(), numeric)
        ),
        Ridge(),
    ).fit(df, y)
    ex = explain_model(pipe, df, positive_label=None, sensitive_features=["sex"], sample_size=30,
                       background_size=20, method=method, proxy_model_rows=0)  # fmt: skip
    out = ex.to_report()
    assert out.method == ("linear" if method == "auto" else "permutation")
    assert out.output_space == "predicted value"
    rows = df.iloc[list(ex.row_positions)]
    total = ex.base_value + np.asarray(ex.attributions).sum(axis=1)
    assert np.allclose(total, pipe.predict(rows), rtol=1e-9, atol=1e-6)


def test_the_bom_carries_every_group_statistic(audited: dict[str, Path], report: dict) -> None:
    """bom.cdx.json of a regression audit: valid CycloneDX 1.6, task regression, and each
    group's statistics (MAE, mean prediction, KS ...) as slices with their intervals."""
    from audit.report.formats.cyclonedx import validate_bom

    text = (audited["memory"].parent / "bom.cdx.json").read_text("utf-8")
    assert validate_bom(text) is None
    model = json.loads(text)["components"][0]
    assert model["modelCard"]["modelParameters"]["task"] == "regression"
    metrics = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    sliced = {(m["type"], m["slice"]): m for m in metrics if "slice" in m}
    checked = 0
    for feature, f in report["regression"]["features"].items():
        for group, g in f["groups"].items():
            for name in ("mae", "mean_prediction", "ks_statistic"):
                if g.get(name) is None:
                    continue
                entry = sliced[(name, f"{feature}={group}")]
                assert float(entry["value"]) == g[name]
                ci = (g.get("ci") or {}).get(name)
                if ci:
                    bounds = entry["confidenceInterval"]
                    assert [float(bounds["lowerBound"]), float(bounds["upperBound"])] == ci
                checked += 1
    assert checked > 10


def test_the_model_card_reports_the_regression(audited: dict[str, Path], report: dict) -> None:
    import yaml

    card = (audited["memory"].parent / "model-card.md").read_text("utf-8")
    front = yaml.safe_load(card[4:].split("\n---\n", 1)[0])
    assert "tabular-regression" in front["tags"]
    values = {m["type"]: m["value"] for m in front["model-index"][0]["results"][0]["metrics"]}
    assert values["mae"] == report["regression"]["overall"]["mae"]
    assert values["r2"] == report["regression"]["overall"]["r2"]
    for feature, f in report["regression"]["features"].items():
        assert f"#### By {feature}" in card
        for group, g in f["groups"].items():
            assert any(line.startswith(f"| {group} | {g['n']} |") for line in card.splitlines())
