"""Intervals and tests of the fairness engine against independent computations: a row bootstrap,
numpy's quantiles, scipy's Fisher and chi-squared tests, and coverage of known true rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, fisher_exact

from audit.errors import InputError
from audit.fairness import compute_fairness
from audit.fairness.rates import quantile_interval
from audit.fairness.uncertainty import compare_proportions, feature_rng, resample_cells
from tests.helpers import as_json


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y_true = rng.random(n) < np.where(group == "a", 0.5, 0.3)
    y_pred = rng.random(n) < np.where(y_true, 0.7, 0.2)
    return y_true, y_pred, pd.DataFrame({"g": group})


def test_intervals_equal_quantiles_of_the_same_resamples_computed_by_hand():
    """Same seed, same multinomial draws: the between-group summaries' intervals must be numpy's
    quantiles of spreads computed here from those draws with plain arithmetic (the highest and
    lowest group re-chosen in each resample)."""
    y_true, y_pred, sensitive = _data(500, seed=1)
    feature = compute_fairness(y_true, y_pred, sensitive, n_bootstrap=400, seed=9)["g"]
    cells = feature.counts.cells  # checked against fairlearn elsewhere
    draws = resample_cells(cells, 400, feature_rng(9, "g"))
    tn, fp, fn, tp = (draws[..., i].astype(float) for i in range(4))
    selection = (tp + fp) / (tn + fp + fn + tp)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tp / (tp + fn)
        fpr = fp / (fp + tn)
    spread = selection.max(axis=1) - selection.min(axis=1)
    ratio = selection.min(axis=1) / selection.max(axis=1)
    eod = np.maximum(tpr.max(axis=1) - tpr.min(axis=1), fpr.max(axis=1) - fpr.min(axis=1))
    d = feature.disparities["selection_rate"]
    for got, values in ((d.ci_difference, spread), (d.ci_ratio, ratio)):
        want = np.quantile(values, [0.025, 0.975])
        assert [got.low, got.high] == pytest.approx(want, abs=1e-12)
    got = feature.disparities["equalized_odds_difference"].ci_difference
    assert [got.low, got.high] == pytest.approx(np.quantile(eod, [0.025, 0.975]), abs=1e-12)
    assert "bootstrap" in d.method and "re-chosen" in d.method


def test_cell_bootstrap_matches_the_row_bootstrap_in_distribution():
    """Resampling cell counts is the row bootstrap in distribution: the intervals of the
    largest selection-rate difference agree to within Monte-Carlo error (2,000 resamples)."""
    y_true, y_pred, sensitive = _data(3_000, seed=2)
    feature = compute_fairness(y_true, y_pred, sensitive, n_bootstrap=2000, seed=3)["g"]
    rng = np.random.default_rng(4)
    codes = pd.factorize(sensitive["g"], sort=True)[0]
    rows = rng.integers(0, len(codes), size=(2000, len(codes)))
    c, p = codes[rows], y_pred[rows]
    groups = range(len(feature.counts.labels))
    selection = np.stack(
        [(c == g).__and__(p).sum(axis=1) / (c == g).sum(axis=1) for g in groups], axis=1
    )
    spread = selection.max(axis=1) - selection.min(axis=1)
    low, high = np.quantile(spread, [0.025, 0.975])
    ci = feature.disparities["selection_rate"].ci_difference
    width = high - low
    assert abs(ci.low - low) < 0.1 * width and abs(ci.high - high) < 0.1 * width


def test_intervals_cover_the_true_rate():
    """95% intervals from a 100-row sample contain the true selection rate (0.3) in about 95% of
    400 independent samples; a broken bootstrap (wrong axis, wrong total) would not."""
    rng = np.random.default_rng(5)
    hits = 0
    for trial in range(400):
        y_pred = rng.random(100) < 0.3
        feature = compute_fairness(
            y_pred, y_pred, pd.DataFrame({"g": ["x"] * 100}), n_bootstrap=300, seed=trial
        )["g"]
        ci = feature.groups["x"].ci["selection_rate"]
        hits += ci.low <= 0.3 <= ci.high
    assert 0.91 <= hits / 400 <= 0.98


def test_same_seed_same_numbers_other_seed_other_intervals():
    y_true, y_pred, sensitive = _data(300, seed=6)
    first = as_json(compute_fairness(y_true, y_pred, sensitive, seed=11).to_report())
    assert as_json(compute_fairness(y_true, y_pred, sensitive, seed=11).to_report()) == first
    other = as_json(compute_fairness(y_true, y_pred, sensitive, seed=12).to_report())
    # the bootstrap intervals move with the seed; the score intervals are exact functions of
    # the counts and do not
    assert other["g"]["disparities"] != first["g"]["disparities"]
    assert other["g"]["groups"]["a"]["ci"] == first["g"]["groups"]["a"]["ci"]
    assert (
        other["g"]["groups"]["a"]["selection_rate"] == first["g"]["groups"]["a"]["selection_rate"]
    )
    # A feature's intervals do not depend on which other features are audited.
    both = sensitive.assign(h=np.arange(len(sensitive)) % 2)
    assert as_json(compute_fairness(y_true, y_pred, both, seed=11).to_report())["g"] == first["g"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=2, max_size=2),
    st.lists(st.integers(1, 30), min_size=2, max_size=2),
)
def test_proportion_tests_match_scipy(successes, extra):
    x1, x2 = successes
    n1, n2 = x1 + extra[0], x2 + extra[1]
    test = compare_proportions(x1, n1, x2, n2, vs="ref")
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    expected = np.outer([n1, n2], [x1 + x2, n1 + n2 - x1 - x2]) / (n1 + n2)
    if expected.min() < 5:
        assert test.method == "fisher" and test.statistic is None
        assert test.p_value == pytest.approx(fisher_exact(table).pvalue, rel=1e-12)
    else:
        chi2, p_value, *_ = chi2_contingency(table, correction=False)
        assert test.method == "z"
        assert test.statistic**2 == pytest.approx(chi2, rel=1e-9)
        assert np.sign(test.statistic) == np.sign(x1 / n1 - x2 / n2)
        assert test.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    assert compare_proportions(0, 0, x2, n2, vs="ref") is None


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 6), st.floats(0.5, 0.99), st.data())
def test_quantile_interval_matches_numpy(b, k, confidence, data):
    values = data.draw(
        st.lists(
            st.one_of(st.floats(-5, 5, allow_nan=False), st.just(np.nan)),
            min_size=b * k,
            max_size=b * k,
        )
    )
    samples = np.array(values).reshape(b, k)
    low, high = quantile_interval(samples, confidence)
    alpha = (1 - confidence) / 2
    for j in range(k):
        column = samples[:, j][~np.isnan(samples[:, j])]
        if len(column) == 0 or 2 * len(column) < b:
            assert np.isnan(low[j]) and np.isnan(high[j])
        else:
            want = np.quantile(column, [alpha, 1 - alpha])
            assert [low[j], high[j]] == pytest.approx(want, abs=1e-12)


def test_tests_are_against_the_reference_group_and_use_the_right_counts():
    y_true, y_pred, sensitive = _data(800, seed=8)
    feature = compute_fairness(y_true, y_pred, sensitive, n_bootstrap=0)["g"]
    ref = feature.groups[feature.reference_group]
    assert all(test is None for test in ref.tests.values())
    for label, group in feature.groups.items():
        if label == feature.reference_group:
            continue
        pairs = {
            "selection_rate": ((group.tp + group.fp, group.n), (ref.tp + ref.fp, ref.n)),
            "tpr": ((group.tp, group.tp + group.fn), (ref.tp, ref.tp + ref.fn)),
            "fpr": ((group.fp, group.fp + group.tn), (ref.fp, ref.fp + ref.tn)),
            "ppv": ((group.tp, group.tp + group.fp), (ref.tp, ref.tp + ref.fp)),
            "fnr": ((group.fn, group.tp + group.fn), (ref.fn, ref.tp + ref.fn)),
            "tnr": ((group.tn, group.fp + group.tn), (ref.tn, ref.fp + ref.tn)),
            "npv": ((group.tn, group.tn + group.fn), (ref.tn, ref.tn + ref.fn)),
            "for": ((group.fn, group.tn + group.fn), (ref.fn, ref.tn + ref.fn)),
            "accuracy": ((group.tp + group.tn, group.n), (ref.tp + ref.tn, ref.n)),
        }
        for metric, ((x1, n1), (x2, n2)) in pairs.items():
            _, p_value, *_ = chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
            test = group.tests[metric]
            assert test.p_value == pytest.approx(p_value, rel=1e-9), metric
            assert test.vs == feature.reference_group
            assert np.sign(test.statistic) == np.sign(x1 / n1 - x2 / n2), metric


def test_without_resamples_only_the_bootstrap_intervals_are_none():
    """n_bootstrap 0 turns the bootstrap off; the score intervals need no resampling."""
    y_true, y_pred, sensitive = _data(100, seed=10)
    feature = compute_fairness(y_true, y_pred, sensitive, n_bootstrap=0)["g"]
    for group in feature.groups.values():
        assert group.ci["selection_rate"] is not None
        assert group.ci_method["selection_rate"] == "jeffreys"
    for d in feature.disparities.values():
        assert d.ci_difference is None and d.ci_ratio is None
    assert as_json(feature.to_report())["n_bootstrap"] == 0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"n_bootstrap": -1}, "n_bootstrap"),
        ({"n_bootstrap": 2.5}, "n_bootstrap"),
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": float("nan")}, "confidence"),
        ({"seed": -3}, "seed"),
        ({"min_group_size": 0}, "min_group_size"),
        ({"exclude_below_share": 1.5}, "exclude_below_share"),
        ({"reference": "best"}, "reference must be"),
        ({"reference": {"nope": "a"}}, "'nope'"),
        ({"reference": {"g": "zzz"}}, "does not occur"),
        ({"reference": {"g": "c"}, "min_group_size": 10**6}, "under the minimum group size"),
    ],
)
def test_bad_options_raise_input_error(option, message):
    y_true, y_pred, sensitive = _data(50, seed=12)
    with pytest.raises(InputError, match=message) as caught:
        compute_fairness(y_true, y_pred, sensitive, **option)
    assert caught.value.hint


def test_every_interval_is_the_named_method_on_the_groups_counts():
    """The report's intervals are exactly the named methods applied to the counts (whose
    coverage tests/test_inference_simulation.py measures)."""
    from audit.fairness import intervals as iv

    y_true, y_pred, sensitive = _data(400, seed=21)
    feature = compute_fairness(y_true, y_pred, sensitive)["g"]
    labels = feature.counts.labels
    cells = feature.counts.cells
    selected = cells[:, 1] + cells[:, 3]
    n = cells.sum(axis=1)
    low, high = iv.jeffreys(selected, n)
    _, ir_low, ir_high = iv.most_favoured_ratio(selected, n, np.ones(len(n), bool))
    ref = labels.index(feature.reference_group)
    tp, pos = cells[:, 3], cells[:, 2] + cells[:, 3]
    k_low, k_high = iv.koopman_ratio(tp, pos, tp[ref], pos[ref])
    for g, label in enumerate(labels):
        group = feature.groups[label]
        assert [group.ci["selection_rate"].low, group.ci["selection_rate"].high] == [
            low[g],
            high[g],
        ]
        assert group.ci_method["selection_rate"] == "jeffreys"
        assert [group.ci["impact_ratio"].low, group.ci["impact_ratio"].high] == [
            ir_low[g],
            ir_high[g],
        ]
        assert "most-favoured" in group.ci_method["impact_ratio"]
        if g != ref:
            c = group.vs_reference["tpr"]
            assert [c.ci_ratio.low, c.ci_ratio.high] == [k_low[g], k_high[g]]
            assert c.method_ratio == "koopman" and c.method_difference == "newcombe"


def test_score_intervals_are_the_row_bootstrap_of_sklearns_auc_and_the_ece_by_hand():
    """Same generator, same rows drawn: each resample's AUC is scikit-learn's roc_auc_score
    and its ECE the binned |mean score - observed rate| computed here from the drawn rows; the
    intervals are numpy's quantiles of them."""
    from sklearn.metrics import roc_auc_score

    from audit.fairness.scores import score_intervals

    rng = np.random.default_rng(3)
    scores = np.round(rng.random(300), 2)  # ties on purpose
    truth = rng.random(300) < scores
    codes = np.zeros(300, dtype=np.int64)
    got = score_intervals(
        scores, truth, codes, 1, n_bootstrap=150, confidence=0.9, rng=np.random.default_rng(8)
    )
    # the draws, rebuilt: rows ordered by (distinct score, label), indices drawn in chunks
    values, run = np.unique(scores, return_inverse=True)
    order = np.lexsort((truth, run))
    s_sorted, t_sorted = scores[order], truth[order]
    again = np.random.default_rng(8)
    aucs, eces, means = [], [], []
    for size in (100, 50):
        for rows in again.integers(0, 300, size=(size, 300)):
            s, t = s_sorted[rows], t_sorted[rows]
            aucs.append(roc_auc_score(t, s))
            means.append(s.mean())
            bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], s)
            eces.append(sum(abs(s[bins == b].sum() - t[bins == b].sum()) for b in range(10)) / 300)
    for name, values_ in (("auc", aucs), ("ece", eces), ("mean_score", means)):
        low, high = got[name]
        want = np.quantile(values_, [0.05, 0.95])
        assert [low[0], high[0]] == pytest.approx(want, abs=1e-12), name
