"""Score statistics per group against scikit-learn, and the group rules (reference choice,
minimum group size, small-share exclusion) against fairlearn on the rows they leave compared."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score

from audit.fairness import compute_fairness
from tests.helpers import as_json

TOL = 1e-12


@st.composite
def scored(draw, max_rows: int = 80, max_groups: int = 6):
    n = draw(st.integers(1, max_rows))
    booleans = st.lists(st.booleans(), min_size=n, max_size=n)
    y_true = np.array(draw(st.one_of(booleans, st.just([True] * n), st.just([False] * n))))
    y_pred = np.array(draw(st.one_of(booleans, st.just([True] * n))))
    grid = st.integers(0, 10).map(lambda k: k / 10)  # ties, and values on the bin edges
    fine = st.floats(0, 1, allow_nan=False)
    wide = st.floats(-3, 3, allow_nan=False)
    element = draw(st.sampled_from([grid, fine, st.one_of(grid, fine), wide]))
    scores = np.array(draw(st.lists(element, min_size=n, max_size=n)), dtype=float)
    k = draw(st.integers(1, max_groups))
    groups = draw(st.lists(st.one_of(st.integers(0, k - 1), st.none()), min_size=n, max_size=n))
    sensitive = pd.DataFrame({"g": pd.Series([None if v is None else f"g{v}" for v in groups])})
    return y_true.astype(bool), y_pred.astype(bool), scores, sensitive


@settings(max_examples=80, deadline=None)
@given(scored())
def test_score_statistics_match_sklearn(case):
    y_true, y_pred, scores, sensitive = case
    report = compute_fairness(y_true, y_pred, sensitive, scores=scores, n_bootstrap=20)
    feature = report["g"]
    median = np.median(scores)  # of the full sample, unknown rows included
    probabilities = scores.min() >= 0 and scores.max() <= 1
    labels = sensitive["g"]
    for label, group in feature.groups.items():
        rows = (labels == label).to_numpy()
        yt, sc = y_true[rows], scores[rows]
        assert group.scoring_rate == pytest.approx(np.mean(sc > median), abs=TOL)
        assert group.mean_score == pytest.approx(np.mean(sc), abs=TOL)
        if yt.all() or not yt.any():
            assert group.auc is None
        else:
            assert group.auc == pytest.approx(roc_auc_score(yt, sc), abs=TOL)
        if not probabilities:
            assert group.ece is None and group.calibration is None
            continue
        observed, predicted = calibration_curve(yt, sc, n_bins=10, strategy="uniform")
        bins = [b for b in group.calibration if b.n > 0]
        assert [b.observed_rate for b in bins] == pytest.approx(observed, abs=TOL)
        assert [b.mean_score for b in bins] == pytest.approx(predicted, abs=TOL)
        assert sum(b.n for b in group.calibration) == rows.sum()
        weights = np.array([b.n for b in bins]) / rows.sum()
        ece = float(np.sum(weights * np.abs(observed - predicted)))
        assert group.ece == pytest.approx(ece, abs=TOL)
    as_dict = as_json(report.to_report())
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict


@st.composite
def small_groups(draw):
    """Many small groups of very different sizes, so size and share rules bite."""
    sizes = draw(st.lists(st.integers(1, 25), min_size=1, max_size=10))
    n = sum(sizes)
    labels = np.repeat([f"g{i:02d}" for i in range(len(sizes))], sizes)
    y_true = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    y_pred = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    min_size = draw(st.integers(1, 15))
    share = draw(st.one_of(st.none(), st.floats(0, 0.3)))
    rule = draw(st.sampled_from(["most_favoured", "largest", "named"]))
    return y_true, y_pred, pd.DataFrame({"g": labels}), min_size, share, rule


@settings(max_examples=80, deadline=None)
@given(small_groups())
def test_group_rules_match_fairlearn_on_the_compared_groups(case):
    y_true, y_pred, sensitive, min_size, share, rule = case
    sizes = sensitive["g"].value_counts().sort_index()
    shares = sizes / sizes.sum()
    sufficient = sizes >= min_size
    kept = sufficient & ~(shares < share if share is not None else False)
    candidates = list(sizes.index[kept])
    reference = rule
    if rule == "named":
        if not candidates:
            return
        reference = {"g": candidates[len(candidates) // 2]}
    feature = compute_fairness(
        y_true,
        y_pred,
        sensitive,
        min_group_size=min_size,
        exclude_below_share=share,
        reference=reference,
        n_bootstrap=0,
    )["g"]

    for label, group in feature.groups.items():
        assert group.n == sizes[label]
        assert group.status == ("ok" if sufficient[label] else "insufficient_data")
        if not sufficient[label]:
            assert group.selection_rate is None and group.tpr is None and group.accuracy is None
            assert group.impact_ratio is None and set(group.tests.values()) == {None}
        assert (group.excluded is not None) == bool(share is not None and shares[label] < share)
    assert list(feature.excluded_groups) == [
        g for g in sizes.index if share is not None and shares[g] < share
    ]

    if not candidates:
        assert feature.reference_group is None
        assert feature.demographic_parity_difference is None
        return
    rows = sensitive["g"].isin(candidates).to_numpy()
    frame = MetricFrame(
        metrics={"sr": selection_rate, "tpr": true_positive_rate},
        y_true=y_true[rows],
        y_pred=y_pred[rows],
        sensitive_features=sensitive["g"][rows],
    )
    by_group = frame.by_group.assign(n=sizes[candidates])
    if rule == "named":
        expected_ref = reference["g"]
    elif rule == "largest":
        order = by_group.assign(label=by_group.index).sort_values(
            ["n", "sr", "label"], ascending=[False, False, True]
        )
        expected_ref = order.index[0]
    else:
        order = by_group.assign(label=by_group.index).sort_values(
            ["sr", "n", "label"], ascending=[False, False, True]
        )
        expected_ref = order.index[0]
    assert feature.reference_group == expected_ref
    ref_rate = by_group.loc[expected_ref, "sr"]
    for label in candidates:
        got = feature.groups[label].impact_ratio
        if ref_rate == 0:
            assert got is None
        else:
            assert got == pytest.approx(by_group.loc[label, "sr"] / ref_rate, abs=TOL)
    if len(candidates) < 2:
        assert feature.demographic_parity_difference is None
    else:
        assert feature.demographic_parity_difference == pytest.approx(
            frame.difference()["sr"], abs=TOL
        )
        ratio = frame.ratio()["sr"]
        if math.isnan(ratio):
            assert feature.demographic_parity_ratio is None
        else:
            assert feature.demographic_parity_ratio == pytest.approx(ratio, abs=TOL)
        low, high = feature.disparities["selection_rate"].worst_pair
        assert low != high
        assert by_group.loc[low, "sr"] == by_group["sr"].min()
        assert by_group.loc[high, "sr"] == by_group["sr"].max()


def test_insufficient_group_keeps_counts_and_reads_null_in_json():
    y = np.array([True, False, True, True, False, True])
    sensitive = pd.DataFrame({"g": ["big", "big", "big", "big", "big", "tiny"]})
    result = as_json(compute_fairness(y, y, sensitive, min_group_size=3).to_report())["g"]
    tiny = result["groups"]["tiny"]
    assert tiny["status"] == "insufficient_data"
    assert (tiny["n"], tiny["tp"], tiny["fp"], tiny["fn"], tiny["tn"]) == (1, 1, 0, 0, 0)
    assert tiny["selection_rate"] is None and tiny["impact_ratio"] is None
    assert set(tiny["ci"].values()) == {None}
    assert result["min_group_size"] == 3
    assert result["reference"] == {"rule": "most_favoured", "group": "big"}
    assert result["demographic_parity_difference"] is None  # one compared group only


def test_largest_reference_and_named_intersection_reference():
    y_pred = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0], dtype=bool)
    sensitive = pd.DataFrame(
        {"sex": list("FFMMMMMMMM"), "race": ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]}
    )
    report = compute_fairness(y_pred, y_pred, sensitive, reference="largest")
    assert report["sex"].reference_group == "M"
    assert report["sex"].groups["F"].impact_ratio == pytest.approx(1.0 / (1 / 8), abs=TOL)
    named = compute_fairness(y_pred, y_pred, sensitive, reference={"sex&race": "M&a"})
    assert named["sex&race"].reference_group == "M&a"
    assert as_json(named["sex&race"].to_report())["reference"] == {"rule": "named", "group": "M&a"}
    assert named["sex"].reference_rule == "most_favoured"
