"""Native XGBoost / LightGBM model files are explained by the library's own exact TreeSHAP.

Models are trained on the shipped Adult sample, saved with ``booster.save_model``, loaded back
through audit's loader and explained through ``explain_model`` (as the runner does); the values
are checked against ``shap.TreeExplainer`` on the raw booster, computed independently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shap

from audit.explain import ExplanationUnavailable, explain_model
from audit.explain.engine import select_explainer
from audit.explain.fasttree import NAME as FAST
from audit.explain.interface import ModelRows, Target
from audit.explain.permutation import PermutationSHAP
from audit.explain.tree import FLOAT32_TOLERANCE, TreeSHAP
from audit.loaders import LightGBMModel, XGBoostModel, load_model
from tests.helpers import as_json

xgboost = pytest.importorskip("xgboost")
lightgbm = pytest.importorskip("lightgbm")

ADULT = Path(__file__).resolve().parents[1] / "samples/adult/adult_train.csv"
NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
#: Agreement with shap.TreeExplainer: XGBoost sums float32 leaves, LightGBM float64.
TOLERANCE = {"xgboost": 1e-5, "lightgbm": 1e-8}


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT, nrows=3000)


def _task(adult: pd.DataFrame, task: str) -> tuple[pd.DataFrame, pd.Series]:
    if task == "classify":
        return adult[NUMERIC], (adult["income"] == ">50K").astype(int)
    features = [c for c in NUMERIC if c != "hours_per_week"]
    return adult[features], adult["hours_per_week"].astype(float)


def _train(library: str, task: str, X: pd.DataFrame, y: pd.Series) -> object:
    """A small booster (20 trees) for ``task``."""
    if library == "xgboost":
        objective = "binary:logistic" if task == "classify" else "reg:squarederror"
        params = {"objective": objective, "max_depth": 4, "seed": 0}
        return xgboost.train(params, xgboost.DMatrix(X, y), num_boost_round=20)
    objective = "binary" if task == "classify" else "regression"
    params = {"objective": objective, "num_leaves": 15, "verbose": -1, "seed": 0}
    return lightgbm.train(params, lightgbm.Dataset(X, y), num_boost_round=20)


def _saved(tmp_path: Path, library: str, booster: object, suffix: str) -> object:
    """Save ``booster`` in its native format and load it back through audit's loader."""
    path = tmp_path / f"model.{suffix}"
    booster.save_model(str(path))  # type: ignore[attr-defined]
    loaded = load_model(path)
    assert loaded.format == library
    return loaded.estimator


CASES = [
    ("xgboost", "classify", "json"),
    ("xgboost", "classify", "ubj"),
    ("xgboost", "regress", "json"),
    ("lightgbm", "classify", "txt"),
    ("lightgbm", "regress", "txt"),
]
IDS = ["xgb-binary-json", "xgb-binary-ubj", "xgb-regressor-json", "lgb-binary", "lgb-regressor"]


@pytest.mark.parametrize(("library", "task", "suffix"), CASES, ids=IDS)
def test_native_file_gets_native_treeshap_equal_to_shap(tmp_path, adult, library, task, suffix):
    X, y = _task(adult, task)
    booster = _train(library, task, X, y)
    model = _saved(tmp_path, library, booster, suffix)
    assert isinstance(model, XGBoostModel if library == "xgboost" else LightGBMModel)
    assert TreeSHAP.supports(model)

    ex = explain_model(model, X, positive_label=1, sample_size=300, stability_replicas=2)

    # (a) exact, our compiled TreeSHAP; not the model-agnostic explainer
    assert ex.method == "tree"
    assert ex.explainer == FAST
    assert ex.background_size is None and "training data" in ex.background
    assert ex.feature_names == tuple(X.columns)
    # (b) the values shap computes from the raw booster, column for column
    rows = X.iloc[ex.row_positions]
    reference = shap.TreeExplainer(booster)(rows.to_numpy(float), check_additivity=False)
    np.testing.assert_allclose(ex.attributions, reference.values, atol=TOLERANCE[library], rtol=0)
    base = float(np.asarray(reference.base_values).ravel()[0])
    assert ex.base_value == pytest.approx(base, abs=TOLERANCE[library])
    # (c) additivity, against the model's own raw score
    margin = model.decision_function(rows)
    np.testing.assert_allclose(ex.model_output, margin, atol=1e-12, rtol=0)
    tolerance = FLOAT32_TOLERANCE if library == "xgboost" else 1e-6
    assert ex.additivity_tolerance == tolerance
    if library == "xgboost" and task == "regress":
        # float32 sums of outputs around 40: the error is relative (~3e-7 here), so it may
        # exceed the reported absolute tolerance, which is set for log-odds.
        assert ex.additivity.max_abs_error < tolerance * np.abs(margin).max()
    else:
        assert ex.additivity.max_abs_error < tolerance
        assert as_json(ex.to_report())["additivity"]["rows_above_tolerance"] == 0
    if task == "classify":
        assert ex.output_space.startswith("log-odds")
    else:
        assert "margin" in ex.output_space
        np.testing.assert_allclose(ex.model_output, model.predict(rows), atol=1e-6)
    if task == "classify":
        # the stability check ran on the adverse decisions: interventional TreeSHAP on the raw
        # booster (regressors make no decisions, so have none)
        measured = ex.stability[~np.isnan(ex.stability)]
        assert measured.size > 0 and ((measured >= 0) & (measured <= 1)).all()


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_positive_class_zero_flips_the_signs(tmp_path, adult, library):
    X, y = _task(adult, "classify")
    suffix = "json" if library == "xgboost" else "txt"
    model = _saved(tmp_path, library, _train(library, "classify", X, y), suffix)
    kwargs = {"sample_size": 200, "stability_replicas": 0}
    one = explain_model(model, X, positive_label=1, **kwargs)
    zero = explain_model(model, X, positive_label=0, **kwargs)

    assert zero.method == "tree" and zero.explainer == FAST
    np.testing.assert_array_equal(one.row_positions, zero.row_positions)
    np.testing.assert_array_equal(zero.attributions, -one.attributions)
    assert zero.base_value == -one.base_value
    np.testing.assert_allclose(
        zero.model_output, -model.decision_function(X.iloc[zero.row_positions]), atol=1e-12
    )
    assert zero.additivity.max_abs_error < TOLERANCE[library] * 10


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_replicate_is_shap_interventional_on_the_booster(tmp_path, adult, library):
    X, y = _task(adult, "classify")
    booster = _train(library, "classify", X, y)
    model = _saved(tmp_path, library, booster, "json" if library == "xgboost" else "txt")
    rows = X.iloc[:40]
    background = X.iloc[100:150].to_numpy(float)
    again = TreeSHAP().replicate(
        model,
        ModelRows(dense=rows.to_numpy(float), native=rows),
        target=Target(positive_index=1),
        background=background,
        owner=np.arange(X.shape[1]),
        seed=0,
    )
    explainer = shap.TreeExplainer(booster, data=background, feature_perturbation="interventional")
    reference = explainer(rows.to_numpy(float), check_additivity=False)
    np.testing.assert_allclose(again.values, reference.values, atol=1e-12, rtol=0)
    np.testing.assert_allclose(
        again.values.sum(1) + again.base_value, model.decision_function(rows), atol=1e-5
    )


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_multiclass_native_file_is_not_explained(tmp_path, adult, library):
    """As before: multi-class models are not TreeSHAP's, and no explainer applies (the engine
    explains binary classifiers and regressors only)."""
    X = adult[NUMERIC]
    y = pd.cut(adult["age"], [0, 30, 45, 200], labels=False).astype(int)
    features = X.drop(columns="age")
    if library == "xgboost":
        params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3}
        booster = xgboost.train(params, xgboost.DMatrix(features, y), num_boost_round=5)
        suffix = "json"
    else:
        params = {"objective": "multiclass", "num_class": 3, "num_leaves": 7, "verbose": -1}
        booster = lightgbm.train(params, lightgbm.Dataset(features, y), num_boost_round=5)
        suffix = "txt"
    model = _saved(tmp_path, library, booster, suffix)

    assert not TreeSHAP.supports(model)
    assert isinstance(select_explainer(model), PermutationSHAP)
    with pytest.raises(ExplanationUnavailable, match="3 classes"):
        explain_model(model, features, positive_label=1, sample_size=20)
    with pytest.raises(ExplanationUnavailable, match="tree explainer cannot explain"):
        explain_model(model, features, positive_label=1, sample_size=20, method="tree")


def _categorical_frame(adult: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    X = adult[["age", "hours_per_week", "workclass"]].copy()
    X["workclass"] = X["workclass"].astype("category")
    return X, (adult["income"] == ">50K").astype(int)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_categorical_native_file_stays_on_permutation_shap(tmp_path, adult, library):
    """shap has no interventional TreeSHAP for categorical splits (XGBoost refuses; LightGBM's
    values do not add up), so the stability check could not be right: not TreeSHAP's."""
    X, y = _categorical_frame(adult)
    if library == "xgboost":
        params = {"objective": "binary:logistic", "max_depth": 3, "tree_method": "hist"}
        data = xgboost.DMatrix(X, y, enable_categorical=True)
        booster = xgboost.train(params, data, num_boost_round=5)
        suffix = "json"
    else:
        params = {"objective": "binary", "num_leaves": 7, "verbose": -1}
        booster = lightgbm.train(params, lightgbm.Dataset(X, y), num_boost_round=5)
        suffix = "txt"
    model = _saved(tmp_path, library, booster, suffix)

    assert not TreeSHAP.supports(model)
    assert isinstance(select_explainer(model), PermutationSHAP)
    with pytest.raises(ExplanationUnavailable, match="tree explainer cannot explain"):
        select_explainer(model, "tree")


def test_other_native_variants_stay_on_permutation_shap(tmp_path, adult):
    """Native TreeSHAP would run, but shap's interventional replicate would not be right
    (dart), not run (gblinear, LightGBM linear trees), or the margin is not log-odds (hinge)."""
    X, y = _task(adult, "classify")
    variants = {
        "dart": {"objective": "binary:logistic", "booster": "dart"},
        "gblinear": {"objective": "binary:logistic", "booster": "gblinear"},
        "hinge": {"objective": "binary:hinge"},
    }
    for name, params in variants.items():
        booster = xgboost.train(params, xgboost.DMatrix(X, y), num_boost_round=3)
        model = _saved(tmp_path, "xgboost", booster, f"{name}.json")
        assert not TreeSHAP.supports(model), name
    params = {"objective": "binary", "linear_tree": True, "verbose": -1}
    booster = lightgbm.train(params, lightgbm.Dataset(X, y), num_boost_round=3)
    assert not TreeSHAP.supports(_saved(tmp_path, "lightgbm", booster, "linear.txt"))


def test_sklearn_wrapper_with_dart_or_gblinear_is_not_tree_explained(adult):
    """The same limits hold for XGBClassifier (as found inside a skops pipeline): dart and
    gblinear are explained model-agnostically, gbtree by native TreeSHAP."""
    X, y = _task(adult, "classify")
    for booster, tree in (("gbtree", True), ("dart", False), ("gblinear", False)):
        model = xgboost.XGBClassifier(n_estimators=3, booster=booster).fit(X, y)
        assert TreeSHAP.supports(model) is tree, booster
    assert TreeSHAP.supports(xgboost.XGBClassifier(n_estimators=3).fit(X, y))  # default gbtree
