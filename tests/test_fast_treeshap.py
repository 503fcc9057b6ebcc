"""audit.explain.fasttree: our exact path-dependent TreeSHAP, against two independent oracles.

1. Brute force: the path-dependent game (E[f | x_S] by the trees' covers) and Shapley values by
   enumerating every coalition, on small trees read straight from scikit-learn's ``tree_``
   arrays (own routing), and on hand-made trees with a zero-cover child (z = 0).
2. ``shap.TreeExplainer`` on every family it computes itself (scikit-learn trees; XGBoost's
   float32 trees through shap's own C++ algorithm, in float64), and the libraries' own
   ``pred_contrib`` (LightGBM, float64), to 1e-9 — with NaN in the rows and rows exactly on
   thresholds (sklearn / LightGBM go left on x <= t, XGBoost on x < t).
HGB categorical splits (which shap reads as numeric thresholds, wrongly) are checked by brute
force on the compiled trees and by additivity against ``decision_function``.
"""

from __future__ import annotations

import itertools
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
import shap
from sklearn import ensemble, tree

from audit.explain.fasttree import Unsupported, compile_ensemble, gpu
from audit.explain.fasttree.extract import Forest
from audit.explain.fasttree.kernels import go_left

TOL = 1e-9


def _data(n: int = 1500, features: int = 5, nan: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, features)), 1)  # ties: many rows sit on thresholds
    y = X[:, 0] + X[:, 1] * X[:, 2] - (X[:, 3] > 0.3) + 0.3 * rng.normal(size=n)
    if nan:
        X[rng.random(X.shape) < nan] = np.nan
    return X, y


def _shapley(game, n_features: int) -> np.ndarray:
    phi = np.zeros(n_features)
    for i in range(n_features):
        others = [j for j in range(n_features) if j != i]
        for size in range(n_features):
            w = math.factorial(size) * math.factorial(n_features - size - 1)
            w /= math.factorial(n_features)
            for S in itertools.combinations(others, size):
                phi[i] += w * (game(frozenset(S) | {i}) - game(frozenset(S)))
    return phi


def _sklearn_game(t, x: np.ndarray, scale: float):
    """E[f | x_S] of one sklearn tree, routing as sklearn does (float32 x, x <= t, NaN)."""
    x32 = x.astype(np.float32).astype(np.float64)
    value = t.value[:, 0, 0] * scale

    def expect(node: int, S: frozenset) -> float:
        left, right = t.children_left[node], t.children_right[node]
        if left < 0:
            return float(value[node])
        f = t.feature[node]
        if f in S:
            v = x32[f]
            goes_left = t.missing_go_to_left[node] if np.isnan(v) else v <= t.threshold[node]
            return expect(left if goes_left else right, S)
        n = t.weighted_n_node_samples
        return (n[left] * expect(left, S) + n[right] * expect(right, S)) / n[node]

    return lambda S: expect(0, S)


@pytest.mark.parametrize(
    ("table_cap", "full_cap", "mode"),
    [(10, 10, 2), (10, 0, 1), (0, 0, -1)],
    ids=["contribution-tables", "pattern-tables", "direct-kernel"],
)
def test_brute_force_shapley_of_a_deep_tree_with_repeated_features(
    table_cap, full_cap, mode, monkeypatch
):
    """Every leaf kernel: mode 2 (a run of d contributions per pattern), mode 1 (one 2**d
    table per leaf, d+1 look-ups) and the O(d^2) kernel for leaves without a table."""
    import audit.explain.fasttree as fasttree

    monkeypatch.setattr(fasttree, "FULL_CAP", full_cap)
    X, y = _data(nan=0.05)
    model = tree.DecisionTreeRegressor(max_depth=9, random_state=0).fit(X, y)
    ens = compile_ensemble(model, table_cap=table_cap)
    assert ens.arrays["leaf_d"].max() == 5  # every feature, repeatedly, on the deep paths
    kinds = ens.arrays["leaf_mode"][ens.arrays["table_off"] >= 0]
    assert set(kinds.tolist()) == ({mode} if mode >= 0 else set())
    rows = X[:12]
    values, base = ens.shap_values(rows)
    for r, x in enumerate(rows):
        game = _sklearn_game(model.tree_, x, 1.0)
        np.testing.assert_allclose(values[r], _shapley(game, X.shape[1]), atol=TOL, rtol=0)
        assert base[0] == pytest.approx(game(frozenset()), abs=TOL)
    np.testing.assert_allclose(values.sum(1) + base[0], model.predict(rows), atol=TOL)


def _forest_game(forest: Forest, x: np.ndarray):
    """E[f | x_S] on hand-made flat trees (our routing function, plain recursion)."""
    a = forest.arrays()

    def expect(node: int, S: frozenset) -> float:
        left, right = a["left"][node], a["right"][node]
        if left < 0:
            return float(a["value"][node, 0])
        f = a["feature"][node]
        if f in S:
            args = (a["kind"][node], a["threshold"][node], a["flags"][node], a["cat_off"][node],
                    a["cat_len"][node], a["known_off"][node], a["known_len"][node], a["bits"])  # fmt: skip
            return expect(left if go_left(x[f], *args) else right, S)
        c = a["cover"]
        return (c[left] * expect(left, S) + c[right] * expect(right, S)) / c[node]

    return lambda S: sum(expect(r, S) for r in a["roots"])


def test_brute_force_with_a_zero_cover_child():
    """A child with zero cover (zero-weight / zero-hessian leaves) gives z = 0: no division."""
    from audit.explain.fasttree import _compile

    forest = Forest(3, 1, False, np.array([0.5]))
    #      0: x0 <= 0        1: x1 <= 1 (cover 4 | 0)     2: x0 <= 2      5,6: x2 <= 0
    left = np.array([1, 3, 5, -1, -1, 7, -1, -1, -1])
    right = np.array([2, 4, 6, -1, -1, 8, -1, -1, -1])
    feature = np.array([0, 1, 0, 0, 0, 2, 0, 0, 0])
    cover = np.array([10.0, 4.0, 6.0, 4.0, 0.0, 5.0, 1.0, 2.0, 3.0])
    value = np.array([0, 0, 0, 1.0, 7.0, 0, -2.0, 3.0, 0.25])
    threshold = np.array([0.0, 1.0, 2.0, 0, 0, 0.0, 0, 0, 0])
    forest.add(left, right, feature, cover, value, threshold, np.zeros(9, np.int64))
    ens = _compile(forest, 10, 2**20)
    rows = np.array([[-1.0, 2.0, 1.0], [-1.0, 0.0, -1.0], [1.0, 5.0, -3.0], [3.0, 0.0, 0.0]])
    for cap in (10, 0):
        values, base = _compile(forest, cap, 2**20).shap_values(rows)
        for r, x in enumerate(rows):
            game = _forest_game(forest, x)
            np.testing.assert_allclose(values[r], _shapley(game, 3), atol=TOL, rtol=0)
            assert base[0] == pytest.approx(game(frozenset()) + 0.5, abs=TOL)
    assert np.isfinite(ens.shap_values(rows)[0]).all()


def test_hgb_categorical_splits_brute_force_and_additivity():
    rng = np.random.default_rng(1)
    X, _ = _data(2000, 4, nan=0.03)
    X[:, 1] = rng.integers(0, 30, len(X))
    X[:20, 1] = np.nan
    y = ((X[:, 1] % 3 == 0) ^ (np.nan_to_num(X[:, 0]) > 0)).astype(int)
    model = ensemble.HistGradientBoostingClassifier(max_iter=15, categorical_features=[1])
    model.fit(X, y)
    rows = X[:40].copy()
    # unknown (45, 300), negative, non-integer and missing categories
    rows[:8, 1] = [45, 300, -1, -0.5, 3.5, np.nan, 0, 29]
    ens = compile_ensemble(model)
    assert (ens.arrays["kind"] == 1).any()
    values, base = ens.shap_values(rows)
    np.testing.assert_allclose(values.sum(1) + base[0], model.decision_function(rows), atol=TOL)
    from audit.explain.fasttree import _forest

    forest = _forest(model)
    for r in range(6):
        game = _forest_game(forest, rows[r])
        expected = _shapley(game, 4)
        np.testing.assert_allclose(values[r], expected, atol=TOL, rtol=0)


SKLEARN = [
    tree.DecisionTreeClassifier(max_depth=6, random_state=0),
    tree.ExtraTreeRegressor(max_depth=8, random_state=0),
    ensemble.RandomForestClassifier(30, max_depth=7, random_state=0),
    ensemble.RandomForestRegressor(20, random_state=0),  # unlimited depth
    ensemble.ExtraTreesClassifier(20, max_depth=8, random_state=0),
    ensemble.GradientBoostingClassifier(n_estimators=40, max_depth=4, random_state=0),
    ensemble.GradientBoostingRegressor(n_estimators=40, learning_rate=0.2, random_state=0),
    ensemble.HistGradientBoostingClassifier(max_iter=40, random_state=0),
    ensemble.HistGradientBoostingRegressor(max_iter=40, random_state=0),
]


@pytest.mark.parametrize("model", SKLEARN, ids=lambda m: type(m).__name__)
def test_equals_shap_on_scikit_learn_trees(model):
    gb = isinstance(
        model, (ensemble.GradientBoostingClassifier, ensemble.GradientBoostingRegressor)
    )
    X, y = _data(nan=0.0 if gb else 0.05)
    if hasattr(model, "predict_proba"):
        y = (y > 0).astype(int)
    model.fit(X, y)
    rows = X[:300]
    values, base = compile_ensemble(model).shap_values(rows)
    result = shap.TreeExplainer(model)(rows, check_additivity=False)
    np.testing.assert_allclose(values, result.values, atol=TOL, rtol=0)
    np.testing.assert_allclose(base, np.ravel(np.asarray(result.base_values)[0]), atol=TOL)


def _shap_float64(booster) -> shap.TreeExplainer:
    """shap's own C++ TreeSHAP on the booster's float32 trees, in float64 (shap otherwise
    hands XGBoost models to XGBoost's pred_contribs, float32)."""
    parsed = shap.TreeExplainer(booster).model
    keys = ("children_left", "children_right", "children_default", "features", "thresholds",
            "values", "node_sample_weight")  # fmt: skip
    trees = [{k: getattr(t, k) for k in keys} for t in parsed.trees]
    model = {"trees": trees, "base_offset": parsed.base_offset, "input_dtype": np.float32}
    return shap.TreeExplainer(model)


@pytest.mark.parametrize("task", ["classify", "regress"])
def test_equals_shap_on_xgboost(task):
    xgboost = pytest.importorskip("xgboost")
    X, y = _data(nan=0.05)
    if task == "classify":
        model = xgboost.XGBClassifier(n_estimators=40, max_depth=5, random_state=0)
        model.fit(X, (y > 0).astype(int))
    else:
        model = xgboost.XGBRegressor(n_estimators=40, max_depth=5, random_state=0)
        model.fit(X, y)
    booster = model.get_booster()
    rows = X[:300].copy()
    # rows exactly on split conditions: XGBoost goes right there (x < t is false)
    conditions = booster.trees_to_dataframe().query("Feature != 'Leaf'")
    for r, (_, node) in enumerate(conditions.head(40).iterrows()):
        rows[r, int(str(node["Feature"]).lstrip("f"))] = np.float32(node["Split"])
    values, base = compile_ensemble(model).shap_values(rows)
    reference = _shap_float64(booster).shap_values(rows, check_additivity=False)
    np.testing.assert_allclose(values, reference, atol=TOL, rtol=0)
    contribs = booster.predict(xgboost.DMatrix(rows, missing=np.nan), pred_contribs=True)
    np.testing.assert_allclose(values, contribs[:, :-1], atol=1e-5, rtol=0)
    margin = model.predict(rows, output_margin=True)
    np.testing.assert_allclose(values.sum(1) + base[0], margin, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("missing", ["NaN", "Zero", "None", "categorical"])
def test_equals_lightgbm_pred_contrib(missing):
    lightgbm = pytest.importorskip("lightgbm")
    X, y = _data(nan=0.0 if missing == "None" else 0.05)
    X[:100, 0] = 0.0
    params = {"n_estimators": 40, "num_leaves": 20, "verbose": -1, "random_state": 0}
    fit = {}
    if missing == "Zero":
        params["zero_as_missing"] = True
    if missing == "None":
        params["use_missing"] = False
    if missing == "categorical":
        X[:, 2] = np.random.default_rng(2).integers(0, 40, len(X))
        y = y + (X[:, 2] % 4 == 1)
        params.update(min_data_per_group=5, cat_smooth=1)
        fit["categorical_feature"] = [2]
    model = lightgbm.LGBMClassifier(**params).fit(X, (y > 0).astype(int), **fit)
    rows = X[:300].copy()
    if missing == "categorical":
        rows[:8, 2] = [-1, -0.5, 45, 1e6, 3.7, np.nan, 0, 39]
    rows[8:12, 1] = [1e-40, -1e-40, 0.0, -0.0]
    ens = compile_ensemble(model)
    values, base = ens.shap_values(rows)
    contribs = model.booster_.predict(rows, pred_contrib=True)
    np.testing.assert_allclose(values, contribs[:, :-1], atol=TOL, rtol=0)
    assert base[0] == pytest.approx(contribs[0, -1], abs=TOL)
    raw = model.predict(rows, raw_score=True)
    np.testing.assert_allclose(values.sum(1) + base[0], raw, atol=TOL)


def test_ensemble_pickles_and_is_reused():
    from audit.explain.tree import TreeSHAP

    X, y = _data()
    model = ensemble.RandomForestRegressor(10, max_depth=6, random_state=0).fit(X, y)
    ens = compile_ensemble(model)
    values, _ = ens.shap_values(X[:50])
    copy = pickle.loads(pickle.dumps(ens))
    assert copy._tables is None  # tables are rebuilt where the values are computed
    np.testing.assert_array_equal(copy.shap_values(X[:50])[0], values)
    assert TreeSHAP.ensemble(model) is TreeSHAP.ensemble(model)


def test_unsupported_models_are_not_compiled_and_the_answer_is_cached():
    """Multi-class gradient boosting is declined (Unsupported): TreeSHAP keeps its old path."""
    from audit.explain.tree import TreeSHAP

    X, y = _data()
    model = ensemble.GradientBoostingClassifier(n_estimators=5).fit(X, np.digitize(y, [-0.5, 0.5]))
    with pytest.raises(Unsupported):
        compile_ensemble(model)
    assert TreeSHAP.ensemble(model) is None
    assert isinstance(TreeSHAP._compiled[model], Unsupported)


def test_gpu_detection_says_no_here_without_importing_xgboost():
    code = (
        "import sys; from audit.explain.fasttree import gpu; "
        "print(gpu.xgboost_cuda(), 'xgboost' in sys.modules, 'numba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if gpu.cuda_visible():
        pytest.skip("a CUDA device is visible here")
    assert out.stdout.split() == ["False", "False", "False"]


@pytest.mark.skipif(not gpu.xgboost_cuda(), reason="no CUDA device / CUDA build of XGBoost")
def test_xgboost_on_the_gpu_agrees_with_the_cpu_kernels():  # pragma: no cover - needs a GPU
    import pandas as pd
    import xgboost

    from audit.explain import explain_model

    X, y = _data(4000, nan=0.05)
    model = xgboost.XGBClassifier(n_estimators=100, max_depth=6).fit(X, (y > 0).astype(int))
    device = gpu.xgboost_contributions(model.get_booster(), X)
    cpu, _ = compile_ensemble(model).shap_values(X)
    np.testing.assert_allclose(device, cpu, atol=gpu.CHECK_TOLERANCE)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    ex = explain_model(model, frame, positive_label=1, sample_size=500, stability_replicas=0)
    assert "device=cuda" in ex.explainer
