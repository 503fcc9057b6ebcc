"""The fairness engine against independent computations: fairlearn, pandas and hand counts."""

from __future__ import annotations

import json
import math
from functools import partial

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta
from sklearn.metrics import accuracy_score, precision_score

from audit.errors import InputError
from audit.fairness import FeatureFairness, GroupCounts, compute_fairness
from tests.helpers import as_json

TOL = 1e-12

# base_rate and accuracy are checked against boolean-mask counts instead: every sklearn call
# costs ~1 ms per group, and the properties run 200 examples each.
FAIRLEARN_METRICS = {
    "n": count,
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "ppv": partial(precision_score, zero_division=np.nan),
    "tnr": true_negative_rate,
    "npv": partial(precision_score, pos_label=False, zero_division=np.nan),
}

# The intersection's rates come from the same counts-to-rates code as a single feature's, which
# are checked against every metric above; its own property checks grouping (codes, labels,
# unknowns) and the disparities, with the metrics those need (each costs ~2 ms per example).
INTERSECTION_METRICS = {
    key: FAIRLEARN_METRICS[key] for key in ("n", "selection_rate", "tpr", "fpr", "fnr")
}

# Which counts a rate divides by: when that count is 0 the rate is undefined and must be None.
DENOMINATOR = {
    "tpr": "positives",
    "fnr": "positives",
    "fpr": "negatives",
    "tnr": "negatives",
    "ppv": "selected",
    "npv": "rejected",
}
# Rates that are one minus a sklearn/fairlearn rate: fdr = 1 - precision, for = 1 - npv.
COMPLEMENT = {"fdr": ("ppv", "selected"), "for": ("npv", "rejected")}


# --------------------------------------------------------------------------- data generation


def _outcomes(draw, n: int) -> np.ndarray:
    """Random booleans, or a constant column (one class only, all-positive predictions...)."""
    mode = draw(st.sampled_from(["random", "random", "random", "all_true", "all_false"]))
    if mode == "all_true":
        return np.ones(n, dtype=bool)
    if mode == "all_false":
        return np.zeros(n, dtype=bool)
    return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)


def _sensitive_column(draw, n: int, max_groups: int) -> pd.Series:
    """A sensitive column of 1..max_groups groups in one of several dtypes, maybe with missing
    values."""
    n_groups = draw(st.integers(1, max_groups))
    codes = draw(st.lists(st.integers(0, n_groups - 1), min_size=n, max_size=n))
    if draw(st.booleans()):
        missing = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    else:
        missing = [False] * n
    kind = draw(st.sampled_from(["str", "Int64", "float", "category"]))
    if kind == "str":
        values = [None if m else f"g{c}" for c, m in zip(codes, missing, strict=True)]
        return pd.Series(values, dtype=object)
    if kind == "Int64":
        return pd.Series(
            [pd.NA if m else c for c, m in zip(codes, missing, strict=True)], dtype="Int64"
        )
    if kind == "float":
        return pd.Series([np.nan if m else c / 2 for c, m in zip(codes, missing, strict=True)])
    categories = [f"c{i}" for i in range(n_groups + 1)]  # one category is never used
    values = [None if m else f"c{c}" for c, m in zip(codes, missing, strict=True)]
    return pd.Series(pd.Categorical(values, categories=categories))


@st.composite
def decisions(draw, n_features: int, max_groups: int = 12, max_rows: int = 60):
    n = draw(st.integers(1, max_rows))
    y_true = _outcomes(draw, n)
    y_pred = _outcomes(draw, n)
    names = ["sex", "race", "age"][:n_features]
    sensitive = pd.DataFrame({name: _sensitive_column(draw, n, max_groups) for name in names})
    return y_true, y_pred, sensitive


# --------------------------------------------------------------------------- independent oracle


def _expected_reference(frame: pd.DataFrame) -> str:
    """Most favoured group: highest selection rate, then larger n, then first label."""
    ranked = frame.assign(label=frame.index).sort_values(
        ["selection_rate", "n", "label"], ascending=[False, False, True]
    )
    return str(ranked.index[0])


def _check_against_fairlearn(
    feature: FeatureFairness,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: pd.Series | pd.DataFrame,
    metrics: dict | None = None,
) -> None:
    """Compare one feature's result to fairlearn's MetricFrame on the rows with known groups."""
    known = groups.notna() if groups.ndim == 1 else groups.notna().all(axis=1)
    known = known.to_numpy()
    assert feature.unknown == int((~known).sum())
    if not known.any():
        assert dict(feature.groups) == {}
        assert feature.reference_group is None
        assert feature.demographic_parity_difference is None
        return

    yt, yp, g = y_true[known], y_pred[known], groups[known]
    metrics = metrics or FAIRLEARN_METRICS
    frame = MetricFrame(metrics=metrics, y_true=yt, y_pred=yp, sensitive_features=g)
    by_group = frame.by_group
    if isinstance(by_group.index, pd.MultiIndex):
        by_group.index = ["&".join(str(part) for part in key) for key in by_group.index]
    else:
        by_group.index = [str(key) for key in by_group.index]
    by_group = by_group[by_group["n"] > 0]  # fairlearn may list empty category combinations

    # Independent counts from boolean masks, grouped by the same string labels.
    labels = (
        g.astype(object).map(str)
        if g.ndim == 1
        else g.astype(object).map(str).agg("&".join, axis=1)
    )
    cells = (
        pd.DataFrame(
            {
                "tp": yt & yp,
                "fp": ~yt & yp,
                "fn": yt & ~yp,
                "tn": ~yt & ~yp,
                "positives": yt,
                "negatives": ~yt,
                "selected": yp,
                "rejected": ~yp,
            },
            index=labels.to_numpy(),
        )
        .groupby(level=0)
        .sum()
    )

    assert list(feature.groups) == sorted(by_group.index)
    for label, expected in by_group.iterrows():
        got = feature.groups[label]
        assert got.label == label
        assert got.n == expected["n"]
        for cell in ("tp", "fp", "fn", "tn"):
            assert getattr(got, cell) == cells.loc[label, cell]
        assert got.selection_rate == pytest.approx(expected["selection_rate"], abs=TOL)
        n = expected["n"]
        assert got.base_rate == pytest.approx(cells.loc[label, "positives"] / n, abs=TOL)
        correct = cells.loc[label, "tp"] + cells.loc[label, "tn"]
        assert got.accuracy == pytest.approx(correct / n, abs=TOL)
        for metric, denominator in DENOMINATOR.items():
            if metric not in metrics:
                continue
            value = getattr(got, metric)
            if cells.loc[label, denominator] == 0:
                # fairlearn/sklearn make up 0 or NaN for 0/0; we must say "undefined".
                assert value is None
                assert expected[metric] == 0 or math.isnan(expected[metric])
            else:
                assert value == pytest.approx(expected[metric], abs=TOL)
        for metric, (complement, denominator) in COMPLEMENT.items():
            if complement not in metrics:
                continue
            value = got.rate(metric)
            if cells.loc[label, denominator] == 0:
                assert value is None
            else:
                assert value == pytest.approx(1 - expected[complement], abs=TOL)
        assert got.share == pytest.approx(n / len(yt), abs=TOL)
        assert got.status == "ok"

    reference = _expected_reference(by_group)
    assert feature.reference_group == reference
    reference_rate = by_group.loc[reference, "selection_rate"]
    for label, expected in by_group.iterrows():
        if reference_rate == 0:
            assert feature.groups[label].impact_ratio is None
        else:
            ratio = expected["selection_rate"] / reference_rate
            assert feature.groups[label].impact_ratio == pytest.approx(ratio, abs=TOL)

    _check_disparities(feature, frame, by_group, cells)


def _check_disparities(feature, frame, by_group, cells) -> None:
    """Between-group metrics: fairlearn's when defined, None when there is no comparison
    (fewer than two groups define the rate). fairlearn's demographic_parity_difference/ratio,
    equal_opportunity_difference and equalized_odds_difference are MetricFrame.difference()
    and .ratio() of these same metrics (max of tpr and fpr for equalized odds), so the frame
    built once is used here; test_disparities_match_fairlearn_functions calls them directly."""
    n_groups = len(by_group)
    difference, ratio = frame.difference(), frame.ratio()
    dpd, dpr = difference["selection_rate"], ratio["selection_rate"]
    if n_groups < 2:
        assert feature.demographic_parity_difference is None  # fairlearn says 0 for one group
        assert feature.demographic_parity_ratio is None
    else:
        assert feature.demographic_parity_difference == pytest.approx(dpd, abs=TOL)
        if by_group["selection_rate"].max() == 0:
            assert math.isnan(dpr)
            assert feature.demographic_parity_ratio is None
        else:
            assert feature.demographic_parity_ratio == pytest.approx(dpr, abs=TOL)

    has_pos = cells["positives"] > 0
    has_neg = cells["negatives"] > 0
    tpr_defined = by_group.loc[has_pos[has_pos].index, "tpr"]
    fpr_defined = by_group.loc[has_neg[has_neg].index, "fpr"]
    tpr_range = tpr_defined.max() - tpr_defined.min() if len(tpr_defined) >= 2 else None
    fpr_range = fpr_defined.max() - fpr_defined.min() if len(fpr_defined) >= 2 else None
    if tpr_range is None:
        assert feature.equal_opportunity_difference is None
    else:
        assert feature.equal_opportunity_difference == pytest.approx(tpr_range, abs=TOL)
    if tpr_range is None or fpr_range is None:
        assert feature.equalized_odds_difference is None
    else:
        assert feature.equalized_odds_difference == pytest.approx(
            max(tpr_range, fpr_range), abs=TOL
        )
    if n_groups >= 2 and has_pos.all() and has_neg.all():
        # Every rate defined: fairlearn's between-group differences apply unchanged.
        eod = max(difference["tpr"], difference["fpr"])
        assert feature.equalized_odds_difference == pytest.approx(eod, abs=TOL)
        assert feature.equal_opportunity_difference == pytest.approx(difference["tpr"], abs=TOL)


def _assert_json_ready(report_dict: dict) -> None:
    """No NaN anywhere, only JSON-native types, and a lossless round trip through json."""
    text = json.dumps(report_dict, allow_nan=False)
    assert json.loads(text) == report_dict
    for feature in report_dict.values():
        for group in feature["groups"].values():
            for key in ("n", "tp", "fp", "fn", "tn"):
                assert type(group[key]) is int
            assert group["status"] in ("ok", "insufficient_data")
            for key, value in group.items():
                if key in (
                    "status",
                    "excluded",
                    "ci",
                    "ci_method",
                    "tests",
                    "vs_reference",
                    "calibration",
                ):
                    continue
                assert value is None or type(value) in (int, float), key


# --------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(decisions(n_features=1, max_groups=8))
def test_single_feature_matches_fairlearn(case):
    y_true, y_pred, sensitive = case
    report = compute_fairness(y_true, y_pred, sensitive, n_bootstrap=0)
    assert list(report.features) == ["sex"]
    _check_against_fairlearn(report["sex"], y_true, y_pred, sensitive["sex"])
    _assert_json_ready(as_json(report.to_report()))


@settings(max_examples=40, deadline=None)
@given(decisions(n_features=2, max_groups=4, max_rows=40))
def test_intersection_matches_fairlearn(case):
    """Intersection groups against MetricFrame with two sensitive columns. (The single columns
    take the same path as in test_single_feature_matches_fairlearn, so they are not repeated:
    each MetricFrame costs ~1 ms per group and metric; see INTERSECTION_METRICS.)"""
    y_true, y_pred, sensitive = case
    report = compute_fairness(y_true, y_pred, sensitive, n_bootstrap=0)
    assert list(report.features) == ["sex", "race", "sex&race"]
    _check_against_fairlearn(
        report["sex&race"], y_true, y_pred, sensitive[["sex", "race"]], INTERSECTION_METRICS
    )
    assert report["sex&race"].columns == ("sex", "race")
    _assert_json_ready(as_json(report.to_report()))


@settings(max_examples=40, deadline=None)
@given(decisions(n_features=3))
def test_counts_partition_the_rows(case):
    """Every row lands in exactly one group or in unknown, for features and intersection."""
    y_true, y_pred, sensitive = case
    report = compute_fairness(y_true, y_pred, sensitive, n_bootstrap=0)
    assert list(report.features) == ["sex", "race", "age", "sex&race&age"]
    for feature in report.features.values():
        assert int(feature.counts.cells.sum()) + feature.unknown == len(y_true)
        assert int(feature.counts.tp.sum()) <= int((y_true & y_pred).sum())
    missing_any = sensitive.isna().any(axis=1).sum()
    assert report["sex&race&age"].unknown == missing_any


# --------------------------------------------------------------------------- examples


def test_hand_counted_example():
    # row:        1  2  3  4  5  6 | 7  8  9 10 | 11
    # group:      A  A  A  A  A  A | B  B  B  B | missing
    # y_true:     1  1  1  0  0  0 | 1  0  0  0 | 1
    # y_pred:     1  1  0  1  0  0 | 0  0  0  1 | 1
    # A: tp=2 (rows 1,2) fn=1 (3) fp=1 (4) tn=2 (5,6), n=6
    #    selection 3/6, base 3/6, tpr 2/3, fpr 1/3, fnr 1/3, ppv 2/3, accuracy 4/6
    # B: tp=0 fn=1 (7) fp=1 (10) tn=2 (8,9), n=4
    #    selection 1/4, base 1/4, tpr 0/1, fpr 1/3, fnr 1/1, ppv 0/1, accuracy 2/4
    # reference A (1/2 > 1/4): impact A 1, B (1/4)/(1/2) = 1/2
    # DPD 1/2 - 1/4, DPR (1/4)/(1/2), TPR range 2/3 - 0, FPR range 1/3 - 1/3 = 0 -> EOD 2/3
    y_true = np.array([1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1], dtype=bool)
    y_pred = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1], dtype=bool)
    sensitive = pd.DataFrame({"group": ["A"] * 6 + ["B"] * 4 + [None]})
    result = as_json(compute_fairness(y_true, y_pred, sensitive, n_bootstrap=0).to_report())
    old_keys = [
        "n",
        "tp",
        "fp",
        "fn",
        "tn",
        "selection_rate",
        "base_rate",
        "tpr",
        "fpr",
        "fnr",
        "ppv",
        "accuracy",
        "impact_ratio",
    ]
    groups = {
        label: {key: group[key] for key in old_keys}
        for label, group in result["group"]["groups"].items()
    }
    assert groups == {
        "A": {
            "n": 6, "tp": 2, "fp": 1, "fn": 1, "tn": 2,
            "selection_rate": 3 / 6, "base_rate": 3 / 6, "tpr": 2 / 3, "fpr": 1 / 3,
            "fnr": 1 / 3, "ppv": 2 / 3, "accuracy": 4 / 6, "impact_ratio": 1.0,
        },
        "B": {
            "n": 4, "tp": 0, "fp": 1, "fn": 1, "tn": 2,
            "selection_rate": 1 / 4, "base_rate": 1 / 4, "tpr": 0.0, "fpr": 1 / 3,
            "fnr": 1.0, "ppv": 0.0, "accuracy": 2 / 4, "impact_ratio": 1 / 2,
        },
    }  # fmt: skip
    # share n / 10 known rows; tnr tn/(tn+fp); npv tn/(tn+fn); fdr fp/(fp+tp); for fn/(fn+tn)
    new_keys = ["share", "tnr", "npv", "fdr", "for", "status", "excluded"]
    a, b = (result["group"]["groups"][g] for g in "AB")
    assert [a[k] for k in new_keys] == [6 / 10, 2 / 3, 2 / 3, 1 / 3, 1 / 3, "ok", None]
    assert [b[k] for k in new_keys] == [4 / 10, 2 / 3, 2 / 3, 1.0, 1 / 3, "ok", None]
    feature = result["group"]
    assert {k: feature[k] for k in ("reference_group", "unknown", "n")} == {
        "reference_group": "A", "unknown": 1, "n": 10,
    }  # fmt: skip
    assert feature["reference"] == {"rule": "most_favoured", "group": "A"}
    assert feature["demographic_parity_difference"] == 1 / 2 - 1 / 4
    assert feature["demographic_parity_ratio"] == 1 / 2
    assert feature["equalized_odds_difference"] == 2 / 3
    assert feature["equal_opportunity_difference"] == 2 / 3
    assert feature["predictive_parity_difference"] == 2 / 3
    selection = feature["disparities"]["selection_rate"]
    assert (selection["difference"], selection["ratio"]) == (1 / 4, 1 / 2)
    assert selection["worst_pair"] == ["B", "A"]
    assert feature["disparities"]["fpr"]["worst_pair"] == ["A", "B"]  # tie: first label lowest
    assert b["vs_reference"]["tpr"]["difference"] == 0 - 2 / 3
    assert b["vs_reference"]["ppv"]["ratio"] == 0.0
    assert a["tests"] == dict.fromkeys(
        ["base_rate", "selection_rate", "tpr", "fpr", "tnr", "fnr", "ppv", "npv", "fdr", "for",
         "accuracy"]
    )  # fmt: skip  # the reference is not tested against itself
    assert b["tests"]["selection_rate"]["vs"] == "A"

    # Jeffreys intervals (no resampling): beta(x + 1/2, n - x + 1/2) quantiles, 0 at x = 0
    def jeffreys(x: int, n: int) -> list[float]:
        low = 0.0 if x == 0 else beta.ppf(0.025, x + 0.5, n - x + 0.5)
        high = 1.0 if x == n else beta.ppf(0.975, x + 0.5, n - x + 0.5)
        return [low, high]

    assert b["ci"]["selection_rate"] == pytest.approx(jeffreys(1, 4), abs=1e-12)
    assert b["ci"]["tpr"] == pytest.approx(jeffreys(0, 1), abs=1e-12)  # 0 of 1 is not [0, 0]
    assert b["ci"]["tpr"][1] > 0.5 and b["ci_method"]["tpr"] == "jeffreys"
    # n_bootstrap=0: no bootstrap intervals, null rather than made up
    assert selection.get("ci_difference") is None and selection.get("ci_ratio") is None


def test_eeoc_four_fifths_example():
    """29 CFR 1607 Questions and Answers (44 FR 11996): selection rates White 60%, American
    Indian 45%, Hispanic 48%, Black 51% give impact ratios 45/60 = .75, 48/60 = .80 and
    51/60 = .85 against White, the group with the highest rate."""
    selected = {"White": 60, "American Indian": 45, "Hispanic": 48, "Black": 51}
    race = np.repeat(list(selected), 100)
    y_pred = np.concatenate([np.arange(100) < k for k in selected.values()])
    y_true = np.ones_like(y_pred)  # outcomes play no part in selection rates
    report = compute_fairness(y_true, y_pred, pd.DataFrame({"race": race}))
    race_result = report["race"]
    assert race_result.reference_group == "White"
    impact = {label: group.impact_ratio for label, group in race_result.groups.items()}
    assert impact == pytest.approx(
        {"White": 1.0, "American Indian": 0.75, "Hispanic": 0.80, "Black": 0.85}, abs=TOL
    )
    assert race_result.demographic_parity_ratio == pytest.approx(0.75, abs=TOL)
    assert race_result.demographic_parity_difference == pytest.approx(0.15, abs=TOL)


def test_disparities_match_fairlearn_functions():
    rng = np.random.default_rng(3)
    n = 2_000
    y_true, y_pred = rng.random(n) < 0.3, rng.random(n) < 0.4
    sensitive = pd.DataFrame(
        {"sex": rng.choice(["F", "M", "X"], n), "race": rng.choice(list("abcd"), n)}
    )
    report = compute_fairness(y_true, y_pred, sensitive)
    for key, columns in [("sex", "sex"), ("race", "race"), ("sex&race", ["sex", "race"])]:
        groups = sensitive[columns]
        feature = report[key]
        expected = {
            "demographic_parity_difference": demographic_parity_difference,
            "demographic_parity_ratio": demographic_parity_ratio,
            "equalized_odds_difference": equalized_odds_difference,
            "equal_opportunity_difference": equal_opportunity_difference,
        }
        for name, fairlearn_function in expected.items():
            want = fairlearn_function(y_true, y_pred, sensitive_features=groups)
            assert getattr(feature, name) == pytest.approx(want, abs=TOL), (key, name)
        by_group = MetricFrame(
            metrics=accuracy_score, y_true=y_true, y_pred=y_pred, sensitive_features=groups
        ).by_group
        for label, accuracy in by_group.items():
            label = label if isinstance(label, str) else "&".join(label)
            assert feature.groups[label].accuracy == pytest.approx(accuracy, abs=TOL)


def test_undefined_rates_are_none_not_zero():
    # Group "neg" has no actual positives and no selections: tpr, fnr and ppv are 0/0.
    y_true = np.array([1, 0, 0, 0], dtype=bool)
    y_pred = np.array([1, 0, 0, 0], dtype=bool)
    sensitive = pd.DataFrame({"g": ["pos", "pos", "neg", "neg"]})
    neg = compute_fairness(y_true, y_pred, sensitive)["g"].groups["neg"]
    assert (neg.tpr, neg.fnr, neg.ppv) == (None, None, None)
    assert neg.fpr == 0.0  # 0 of 2 negatives selected: defined, and zero
    fairlearn_tpr = MetricFrame(
        metrics=true_positive_rate, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive
    ).by_group["neg"]
    assert fairlearn_tpr == 0.0  # what we refuse to report


def test_disparities_need_two_groups_defining_the_rate():
    # Only "pos" has actual positives, so there is no TPR to compare it with.
    y_true = np.array([1, 0, 0, 0], dtype=bool)
    y_pred = np.array([1, 0, 0, 1], dtype=bool)
    feature = compute_fairness(y_true, y_pred, pd.DataFrame({"g": ["pos", "pos", "neg", "neg"]}))
    assert feature["g"].equal_opportunity_difference is None
    assert feature["g"].equalized_odds_difference is None
    assert feature["g"].demographic_parity_difference == pytest.approx(0.0, abs=TOL)

    single = compute_fairness(y_true, y_pred, pd.DataFrame({"g": ["x"] * 4}))["g"]
    assert single.reference_group == "x"
    assert single.groups["x"].impact_ratio == 1.0
    assert single.demographic_parity_difference is None
    assert single.demographic_parity_ratio is None


def test_reference_group_ties_broken_by_n_then_label():
    # b and c both select 1/2; c is larger, so c is the reference.
    y_pred = np.array([1, 0, 1, 0, 1, 1, 0, 0, 0], dtype=bool)
    groups = ["b", "b", "c", "c", "c", "c", "a", "a", "a"]
    feature = compute_fairness(y_pred, y_pred, pd.DataFrame({"g": groups}))["g"]
    assert feature.reference_group == "c"
    # Same rate and same n: the first label wins.
    y_pred = np.array([1, 0, 1, 0], dtype=bool)
    feature = compute_fairness(y_pred, y_pred, pd.DataFrame({"g": ["z", "z", "y", "y"]}))["g"]
    assert feature.reference_group == "y"
    # Nobody selected: a reference exists but impact ratios are undefined.
    none = np.zeros(4, dtype=bool)
    feature = compute_fairness(none, none, pd.DataFrame({"g": ["z", "z", "y", "y"]}))["g"]
    assert feature.reference_group == "y"
    assert [g.impact_ratio for g in feature.groups.values()] == [None, None]
    assert feature.demographic_parity_ratio is None


def test_labels_are_str_of_values_in_sorted_order():
    y = np.array([1, 0, 1, 0, 1], dtype=bool)
    sensitive = pd.DataFrame(
        {
            "age": [10, 2, 10, 2, 3],
            "flag": [True, False, True, True, False],
            "band": pd.Categorical(["x", "y", "x", "y", None], categories=["y", "x", "unused"]),
        }
    )
    report = compute_fairness(y, y, sensitive)
    assert list(report["age"].groups) == ["10", "2", "3"]
    assert list(report["flag"].groups) == ["False", "True"]
    assert list(report["band"].groups) == ["x", "y"]  # unused category is not a group
    assert report["band"].unknown == 1
    assert list(report.features)[-1] == "age&flag&band"
    assert list(report["age&flag&band"].groups) == ["10&True&x", "2&False&y", "2&True&y"]
    assert report["age&flag&band"].unknown == 1


def test_row_order_and_index_do_not_matter():
    rng = np.random.default_rng(7)
    y_true, y_pred = rng.random(200) < 0.4, rng.random(200) < 0.5
    sensitive = pd.DataFrame({"a": rng.choice(["p", "q", "r"], 200), "b": rng.integers(0, 3, 200)})
    perm = rng.permutation(200)
    shuffled = sensitive.iloc[perm].reset_index(drop=True).set_index(np.arange(200) * 7)
    assert as_json(compute_fairness(y_true, y_pred, sensitive).to_report()) == as_json(
        compute_fairness(pd.Series(y_true[perm]), y_pred[perm], shuffled).to_report()
    )


def test_intersections_can_be_turned_off():
    y = np.array([1, 0], dtype=bool)
    report = compute_fairness(y, y, pd.DataFrame({"a": [1, 2], "b": [3, 4]}), intersections=False)
    assert list(report.features) == ["a", "b"]


def test_feature_with_every_value_missing():
    y = np.array([1, 0], dtype=bool)
    feature = compute_fairness(y, y, pd.DataFrame({"a": [None, np.nan]}))["a"]
    as_dict = as_json(feature.to_report())
    assert {k: as_dict[k] for k in list(as_dict)[:7]} == {
        "reference_group": None,
        "unknown": 2,
        "groups": {},
        "demographic_parity_difference": None,
        "demographic_parity_ratio": None,
        "equalized_odds_difference": None,
        "equal_opportunity_difference": None,
    }
    assert as_dict["n"] == 0
    assert all(d["difference"] is None for d in as_dict["disparities"].values())


def test_results_are_immutable():
    y = np.array([1, 0], dtype=bool)
    feature = compute_fairness(y, y, pd.DataFrame({"a": ["u", "v"]}))["a"]
    with pytest.raises(ValueError):
        feature.counts.cells[0, 0] = 5
    with pytest.raises(AttributeError):
        feature.groups["u"].n = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        feature.groups["w"] = feature.groups["u"]  # type: ignore[index]
    assert feature.counts == GroupCounts(("u", "v"), np.array([[0, 0, 0, 1], [1, 0, 0, 0]]), 0)


# --------------------------------------------------------------------------- input errors


@pytest.mark.parametrize(
    ("y_true", "y_pred", "sensitive", "message"),
    [
        ([True, False], [True], pd.DataFrame({"s": ["a", "b"]}), "different lengths"),
        ([True, False], [True, False], pd.DataFrame({"s": ["a"]}), "sensitive has 1 rows"),
        ([], [], pd.DataFrame({"s": []}), "no rows"),
        ([True], [True], pd.DataFrame(index=[0]), "no columns"),
        ([True], [True], pd.Series(["a"]), "must be a pandas DataFrame"),
        (["yes", "no"], [True, False], pd.DataFrame({"s": ["a", "b"]}), "y_true must be boolean"),
        ([1.0, np.nan], [True, False], pd.DataFrame({"s": ["a", "b"]}), "y_true must hold"),
        ([True, False], [2, 0], pd.DataFrame({"s": ["a", "b"]}), "y_pred must hold"),
        (
            [True, False],
            pd.Series([True, None], dtype="boolean"),
            pd.DataFrame({"s": ["a", "b"]}),
            "y_pred must be boolean",
        ),
        ([[True]], [[True]], pd.DataFrame({"s": ["a"]}), "one-dimensional"),
    ],
)
def test_bad_input_raises_input_error(y_true, y_pred, sensitive, message):
    with pytest.raises(InputError, match=message) as caught:
        compute_fairness(y_true, y_pred, sensitive)
    assert caught.value.hint


def test_zero_one_numbers_are_accepted_as_booleans():
    sensitive = pd.DataFrame({"s": ["a", "a", "b"]})
    as_numbers = compute_fairness([1, 0, 1], np.array([1.0, 1.0, 0.0]), sensitive)
    as_bools = compute_fairness([True, False, True], [True, True, False], sensitive)
    assert as_json(as_numbers.to_report()) == as_json(as_bools.to_report())


def test_duplicate_names_and_ambiguous_labels_are_refused():
    y = np.array([True, False])
    duplicated = pd.DataFrame([["a", "b"], ["c", "d"]], columns=["s", "s"])
    with pytest.raises(InputError, match="not unique: s"):
        compute_fairness(y, y, duplicated)
    ambiguous = pd.DataFrame({"a": ["x&y", "x"], "b": ["z", "y&z"]})  # both become "x&y&z"
    with pytest.raises(InputError, match="same group label"):
        compute_fairness(y, y, ambiguous)
