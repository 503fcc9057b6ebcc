"""Overall performance against scikit-learn, computed independently on the same rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from audit.errors import InputError
from audit.fairness import compute_performance
from tests.helpers import as_json

TOL = 1e-12


@st.composite
def scored_decisions(draw):
    n = draw(st.integers(1, 80))
    booleans = st.lists(st.booleans(), min_size=n, max_size=n)
    y_true = np.array(draw(st.one_of(booleans, st.just([True] * n), st.just([False] * n))))
    y_pred = np.array(draw(st.one_of(booleans, st.just([True] * n), st.just([False] * n))))
    # Coarse scores make ties common (AUC counts a tie as 1/2); fine ones exercise ranking.
    grid = st.integers(0, 4).map(lambda k: k / 4)
    fine = st.floats(0, 1, allow_nan=False)
    scores = np.array(draw(st.lists(st.one_of(grid, fine), min_size=n, max_size=n)), dtype=float)
    return y_true.astype(bool), y_pred.astype(bool), scores


@settings(max_examples=200, deadline=None)
@given(scored_decisions())
def test_performance_matches_sklearn(case):
    y_true, y_pred, scores = case
    report = compute_performance(y_true, y_pred, scores)

    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[False, True]).ravel()
    assert (report.tn, report.fp, report.fn, report.tp) == (tn, fp, fn, tp)
    assert report.n == len(y_true)
    assert report.base_rate == pytest.approx(np.mean(y_true), abs=TOL)
    assert report.selection_rate == pytest.approx(np.mean(y_pred), abs=TOL)
    assert report.accuracy == pytest.approx(accuracy_score(y_true, y_pred), abs=TOL)

    sklearn_values = {
        "precision": precision_score(y_true, y_pred, zero_division=np.nan),
        "recall": recall_score(y_true, y_pred, zero_division=np.nan),
        "f1": f1_score(y_true, y_pred, zero_division=np.nan),
    }
    denominators = {"precision": tp + fp, "recall": tp + fn, "f1": 2 * tp + fp + fn}
    for name, expected in sklearn_values.items():
        value = getattr(report, name)
        if denominators[name] == 0:
            assert value is None  # sklearn: NaN (with zero_division=nan) for 0/0
            assert math.isnan(expected)
        else:
            assert value == pytest.approx(expected, abs=TOL)

    if y_true.all() or not y_true.any():
        assert report.roc_auc is None
        with pytest.warns(UndefinedMetricWarning, match="Only one class"):
            assert math.isnan(roc_auc_score(y_true, scores))  # sklearn: NaN, never a number
    else:
        assert report.roc_auc == pytest.approx(roc_auc_score(y_true, scores), abs=TOL)

    as_dict = as_json(report.to_report())
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict
    assert list(as_dict) == [
        "n", "base_rate", "selection_rate", "accuracy", "precision", "recall", "f1",
        "roc_auc", "tp", "fp", "fn", "tn",
    ]  # fmt: skip
    for key in ("n", "tp", "fp", "fn", "tn"):
        assert type(as_dict[key]) is int


def test_hand_counted_example():
    # y_true 1 1 1 0 0 | y_pred 1 1 0 1 0 -> tp 2, fn 1, fp 1, tn 1
    # precision 2/3, recall 2/3, f1 2*2/(2*2+1+1) = 4/6, accuracy 3/5
    # scores .9 .8 .3 .7 .1: positive/negative pairs ranked correctly: (.9,.7) (.9,.1) (.8,.7)
    # (.8,.1) (.3,.1) = 5 of 6 -> AUC 5/6
    report = compute_performance(
        [True, True, True, False, False],
        [True, True, False, True, False],
        [0.9, 0.8, 0.3, 0.7, 0.1],
    )
    assert (report.tp, report.fn, report.fp, report.tn) == (2, 1, 1, 1)
    assert report.precision == pytest.approx(2 / 3, abs=TOL)
    assert report.recall == pytest.approx(2 / 3, abs=TOL)
    assert report.f1 == pytest.approx(4 / 6, abs=TOL)
    assert report.accuracy == pytest.approx(3 / 5, abs=TOL)
    assert report.roc_auc == pytest.approx(5 / 6, abs=TOL)


def test_without_scores_auc_is_none():
    report = compute_performance(pd.Series([True, False]), np.array([1, 0]))
    assert report.roc_auc is None
    assert report.accuracy == 1.0


@pytest.mark.parametrize(
    ("y_true", "y_pred", "scores", "message"),
    [
        ([True, False], [True], None, "different lengths"),
        ([True, False], [True, False], [0.5], "scores has 1 rows"),
        ([], [], None, "no rows"),
        ([True, False], [True, False], [0.5, np.nan], "missing or infinite"),
        ([True, False], [True, False], [0.5, np.inf], "missing or infinite"),
        ([True, False], [True, False], ["a", "b"], "1-D array of numbers"),
        ([True, False], [True, False], [[0.1, 0.9], [0.8, 0.2]], "1-D array of numbers"),
        (["pos", "neg"], [True, False], None, "y_true must be boolean"),
        ([True, False], [0.5, 1.0], None, "y_pred must hold only booleans or 0/1"),
    ],
)
def test_bad_input_raises_input_error(y_true, y_pred, scores, message):
    with pytest.raises(InputError, match=message) as caught:
        compute_performance(y_true, y_pred, scores)
    assert caught.value.hint
