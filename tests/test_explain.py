"""SHAP explanation engine, checked against shap itself, closed-form SHAP and numpy by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from audit.errors import InputError
from audit.explain import ExplanationUnavailable, explain_model
from audit.explain.fasttree import NAME as FAST
from tests.helpers import as_json

ADULT = Path(__file__).resolve().parents[1] / "samples" / "adult" / "adult_train.csv"
CATEGORICAL = [
    "workclass",
    "education",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
]
NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
TOL = 1e-6


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(ADULT, nrows=3000)  # the shipped sample: never skipped
    return frame.drop(columns="income"), frame["income"]


def _pipeline(estimator, numeric="passthrough") -> Pipeline:
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    pre = ColumnTransformer([("cat", encoder, CATEGORICAL), ("num", numeric, NUMERIC)])
    return Pipeline([("pre", pre), ("clf", estimator)])


@pytest.fixture(scope="module")
def hgb(adult) -> Pipeline:
    X, y = adult
    return _pipeline(HistGradientBoostingClassifier(max_iter=15, random_state=0)).fit(X, y)


@pytest.fixture(scope="module")
def logreg(adult) -> Pipeline:
    X, y = adult
    return _pipeline(LogisticRegression(max_iter=2000), StandardScaler()).fit(X, y)


@pytest.fixture(scope="module")
def forest(adult) -> Pipeline:
    X, y = adult
    model = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0)
    return _pipeline(model).fit(X, y)


def _sum_by_prefix(values: np.ndarray, pipeline: Pipeline) -> np.ndarray:
    """Sum per-transformed-column values into the dataset's columns (in the model's input order),
    from the preprocessing's output names alone."""
    names = list(pipeline[:-1].get_feature_names_out())
    columns = list(pipeline.feature_names_in_)
    result = np.zeros((values.shape[0], len(columns)))
    used = np.zeros(len(names), dtype=int)
    for j, column in enumerate(columns):
        for k, name in enumerate(names):
            if name.startswith(f"cat__{column}_") or name == f"num__{column}":
                result[:, j] += values[:, k]
                used[k] += 1
    assert (used == 1).all(), "every transformed column belongs to exactly one input column"
    return result


def _rows(explanation, X: pd.DataFrame) -> pd.DataFrame:
    return X.iloc[explanation.row_positions]


# --- tree ------------------------------------------------------------------------------------


def test_tree_attributions_equal_shap_summed_by_hand(adult, hgb):
    X, _ = adult
    ex = explain_model(hgb, X, positive_label=">50K", sample_size=400, seed=3)

    Xt = hgb[:-1].transform(_rows(ex, X))
    reference = shap.TreeExplainer(hgb[-1])
    expected = _sum_by_prefix(reference.shap_values(Xt), hgb)

    assert ex.feature_names == tuple(X.columns)
    assert ex.attributions.shape == (400, 14)
    np.testing.assert_allclose(ex.attributions, expected, atol=TOL, rtol=0)
    assert ex.base_value == pytest.approx(float(np.ravel(reference.expected_value)[0]), abs=TOL)
    # Additivity against the model's own log-odds, computed here independently.
    log_odds = hgb[-1].decision_function(Xt)
    np.testing.assert_allclose(ex.base_value + ex.attributions.sum(1), log_odds, atol=TOL)
    report = as_json(ex.to_report())
    assert report["additivity"]["max_abs_error"] < TOL
    assert (report["method"], report["explainer"]) == ("tree", FAST)
    assert report["output_space"] == "log-odds of the positive class"
    assert report["background_size"] is None


def test_random_forest_pipeline_explains_probability(adult, forest):
    X, _ = adult
    ex = explain_model(forest, X, positive_label=">50K", sample_size=150)

    Xt = forest[:-1].transform(_rows(ex, X))
    reference = shap.TreeExplainer(forest[-1])
    positive = list(forest.classes_).index(">50K")
    expected = _sum_by_prefix(reference.shap_values(Xt)[:, :, positive], forest)

    np.testing.assert_allclose(ex.attributions, expected, atol=TOL, rtol=0)
    proba = forest.predict_proba(_rows(ex, X))[:, positive]
    np.testing.assert_allclose(ex.base_value + ex.attributions.sum(1), proba, atol=TOL)
    assert "probability" in ex.output_space
    assert ex.additivity.max_abs_error < TOL


# --- linear ----------------------------------------------------------------------------------


def test_linear_attributions_equal_shap_and_closed_form(adult, logreg):
    X, _ = adult
    ex = explain_model(logreg, X, positive_label=">50K", sample_size=300, background_size=120)

    assert ex.method == "linear" and ex.explainer == "shap.LinearExplainer"
    assert ex.background_size == 120
    assert len(np.unique(ex.background_rows)) == 120
    background = logreg[:-1].transform(X.iloc[ex.background_rows])
    Xt = logreg[:-1].transform(_rows(ex, X))

    masker = shap.maskers.Independent(background, max_samples=len(background))
    reference = shap.LinearExplainer(logreg[-1], masker).shap_values(Xt)
    np.testing.assert_allclose(ex.attributions, _sum_by_prefix(reference, logreg), atol=TOL)

    # Closed form for independent features: phi_j = coef_j * (x_j - mean_background(x_j)).
    coef = logreg[-1].coef_[0]
    mean = background.mean(axis=0)
    closed_form = _sum_by_prefix(coef * (Xt - mean), logreg)
    np.testing.assert_allclose(ex.attributions, closed_form, atol=TOL, rtol=0)
    assert ex.base_value == pytest.approx(logreg[-1].intercept_[0] + coef @ mean, abs=TOL)

    proba = logreg.predict_proba(_rows(ex, X))
    np.testing.assert_allclose(
        ex.base_value + ex.attributions.sum(1), np.log(proba[:, 1] / proba[:, 0]), atol=TOL
    )
    assert as_json(ex.to_report())["additivity"]["max_abs_error"] < TOL


# --- sign of the positive class --------------------------------------------------------------


@pytest.mark.parametrize("model_name", ["hgb", "logreg", "forest"])
def test_first_class_as_positive_negates_attributions(adult, model_name, request):
    X, _ = adult
    model = request.getfixturevalue(model_name)
    assert list(model.classes_) == ["<=50K", ">50K"]
    first = explain_model(model, X, positive_label="<=50K", sample_size=200, seed=5)
    second = explain_model(model, X, positive_label=">50K", sample_size=200, seed=5)

    np.testing.assert_array_equal(first.row_positions, second.row_positions)
    np.testing.assert_allclose(first.attributions, -second.attributions, atol=1e-12)
    if model_name == "forest":  # probability space: p(<=50K) = 1 - p(>50K)
        assert first.base_value == pytest.approx(1 - second.base_value, abs=TOL)
        explained = model.predict_proba(_rows(first, X))[:, 0]
    else:  # log-odds space: the log-odds of <=50K are minus those of >50K (decision_function)
        assert first.base_value == pytest.approx(-second.base_value, abs=1e-12)
        explained = -model.decision_function(_rows(first, X))
    np.testing.assert_allclose(first.base_value + first.attributions.sum(1), explained, atol=TOL)


# --- model families ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [SVC(), KNeighborsClassifier()],
    ids=["svc", "knn"],
)
def test_models_without_exact_explainer_get_the_model_agnostic_one(adult, estimator):
    X, y = adult
    model = _pipeline(estimator, StandardScaler()).fit(X.iloc[:500], y.iloc[:500])
    ex = explain_model(
        model, X, positive_label=">50K", sample_size=5, background_size=10, stability_replicas=0
    )
    assert ex.method == "permutation"
    assert ex.feature_names == tuple(X.columns)
    rows = _rows(ex, X)
    if hasattr(estimator, "predict_proba") and "probability" in ex.output_space:
        expected = model.predict_proba(rows)[:, 1]
    else:
        expected = model.decision_function(rows)
    np.testing.assert_allclose(ex.model_output, expected, atol=1e-12)
    assert ex.additivity.max_abs_error < 1e-9


def _numeric(adult) -> tuple[pd.DataFrame, pd.Series]:
    X, y = adult
    return X[NUMERIC].iloc[:1500], (y.iloc[:1500] == ">50K").astype(int)


def _xgb():
    xgboost = pytest.importorskip("xgboost")
    return xgboost.XGBClassifier(n_estimators=10, max_depth=3)


def _lgbm():
    lightgbm = pytest.importorskip("lightgbm")
    return lightgbm.LGBMClassifier(n_estimators=10, num_leaves=8, verbose=-1)


@pytest.mark.parametrize(
    ("make", "method", "task"),
    [
        (lambda: HistGradientBoostingClassifier(max_iter=10), "tree", "classify"),
        (lambda: GradientBoostingClassifier(n_estimators=10, max_depth=2), "tree", "classify"),
        (lambda: DecisionTreeClassifier(max_depth=4), "tree", "classify"),
        (lambda: ExtraTreesRegressor(n_estimators=5, max_depth=4), "tree", "regress"),
        (_xgb, "tree", "classify"),
        (_lgbm, "tree", "classify"),
        (lambda: LogisticRegression(max_iter=2000), "linear", "classify"),
        (LinearRegression, "linear", "regress"),
        (Ridge, "linear", "regress"),
    ],
    ids=["hgb", "gbc", "tree", "extratrees-reg", "xgboost", "lightgbm", "logreg", "ols", "ridge"],
)
def test_bare_estimators_on_numeric_frames(adult, make, method, task):
    X, y = _numeric(adult)
    estimator = make()
    if task == "regress":
        target = X["hours_per_week"] * 0.5 + y * 10
        estimator.fit(X.drop(columns="hours_per_week"), target)
    else:
        estimator.fit(X, y)
    ex = explain_model(estimator, X, positive_label=1, sample_size=100, background_size=50)

    assert ex.method == method
    assert ex.feature_names == tuple(estimator.feature_names_in_)
    rows = X.iloc[ex.row_positions][list(estimator.feature_names_in_)]
    if task == "classify":
        proba = estimator.predict_proba(rows)
        if "probability" in ex.output_space:
            output = proba[:, 1]
        else:
            with np.errstate(divide="ignore"):
                output = np.log(proba[:, 1]) - np.log(proba[:, 0])
    else:
        output = estimator.predict(rows)
    np.testing.assert_allclose(ex.base_value + ex.attributions.sum(1), output, atol=1e-5)
    assert ex.additivity.max_abs_error < 1e-5


def test_bare_tree_equals_shap_and_ignores_extra_columns(adult):
    X, y = adult
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X[NUMERIC], y)
    ex = explain_model(model, X, positive_label=">50K", sensitive_features=["sex"], sample_size=200)

    expected = shap.TreeExplainer(model).shap_values(_rows(ex, X)[NUMERIC].to_numpy(float))
    np.testing.assert_allclose(ex.attributions, expected, atol=TOL, rtol=0)
    assert ex.feature_names == tuple(NUMERIC)
    # "sex" is not a model input: none of the attribution is on it.
    assert as_json(ex.to_report())["sensitive_share"] == 0.0


# --- mapping derived columns back --------------------------------------------------------------


def _owners_by_perturbation(preprocessor, X: pd.DataFrame) -> list[str]:
    """Which input column each transformed column depends on, found by changing one at a time."""
    base = preprocessor.transform(X)
    owners = [""] * base.shape[1]
    for column in X.columns:
        changed = X.copy()
        changed[column] = np.roll(X[column].to_numpy(), 7)
        moved = preprocessor.transform(changed)
        for k in np.flatnonzero((~np.isclose(base, moved, equal_nan=True)).any(axis=0)):
            assert owners[k] == "", f"transformed column {k} depends on two inputs"
            owners[k] = column
    return owners


def test_complex_preprocessing_maps_each_column_to_its_source(adult):
    X, y = adult
    X = X.copy()
    X.loc[X.index[::9], "hours_per_week"] = np.nan  # so the imputer adds an indicator
    cat = OneHotEncoder(
        drop="first", min_frequency=30, handle_unknown="infrequent_if_exist", sparse_output=False
    )
    num = Pipeline([("impute", SimpleImputer(add_indicator=True)), ("scale", StandardScaler())])
    pre = ColumnTransformer(
        [("cat", cat, ["education", "race", "sex"]), ("num", num, ["age", "hours_per_week"])],
        remainder="passthrough",
    )
    used = ["education", "race", "sex", "age", "hours_per_week", "capital_gain", "fnlwgt"]
    model = Pipeline([("pre", pre), ("clf", HistGradientBoostingClassifier(max_iter=10))])
    model.fit(X[used], y)

    ex = explain_model(model, X, positive_label=">50K", sample_size=300)
    Xt = model[:-1].transform(_rows(ex, X)[used])
    values = shap.TreeExplainer(model[-1]).shap_values(Xt)
    owners = _owners_by_perturbation(model[:-1], X[used])
    expected = np.column_stack(
        [values[:, [k for k, o in enumerate(owners) if o == c]].sum(1) for c in used]
    )
    assert ex.feature_names == tuple(used)
    np.testing.assert_allclose(ex.attributions, expected, atol=TOL, rtol=0)
    assert ex.additivity.max_abs_error < TOL


@pytest.mark.parametrize("mixer", [PCA(n_components=3), Normalizer()], ids=["pca", "normalizer"])
def test_transformers_that_mix_columns_are_refused(adult, mixer):
    X, y = adult
    pre = ColumnTransformer([("num", mixer, NUMERIC)])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=2000))])
    model.fit(X.iloc[:500], y.iloc[:500])
    with pytest.raises(ExplanationUnavailable, match=type(mixer).__name__):
        explain_model(model, X, positive_label=">50K", sample_size=10)


# --- sampling ----------------------------------------------------------------------------------


def test_sampling_is_seeded_without_replacement_and_reported(adult, hgb):
    X, _ = adult
    first = explain_model(hgb, X, positive_label=">50K", sample_size=250, seed=11)
    again = explain_model(hgb, X, positive_label=">50K", sample_size=250, seed=11)
    other = explain_model(hgb, X, positive_label=">50K", sample_size=250, seed=12)

    rng = np.random.default_rng(11)
    expected = np.sort(rng.choice(len(X), size=250, replace=False))
    np.testing.assert_array_equal(first.row_positions, expected)
    assert list(first.row_index) == list(X.index[expected])
    np.testing.assert_array_equal(first.row_positions, again.row_positions)
    np.testing.assert_array_equal(first.attributions, again.attributions)
    assert as_json(first.to_report()) == as_json(again.to_report())
    assert not np.array_equal(first.row_positions, other.row_positions)
    report = as_json(first.to_report())
    assert (report["sample_size"], report["population_rows"], report["seed"]) == (250, 3000, 11)


def test_sample_larger_than_data_explains_every_row(adult, logreg):
    X, _ = adult
    small = X.iloc[:40]
    ex = explain_model(logreg, small, positive_label=">50K", sample_size=1000, background_size=500)
    np.testing.assert_array_equal(ex.row_positions, np.arange(40))
    report = as_json(ex.to_report())
    assert (report["sample_size"], report["population_rows"]) == (40, 40)
    assert report["background_size"] == 40


# --- global importance -------------------------------------------------------------------------


def test_global_importance_and_sensitive_share_by_hand(adult, hgb):
    X, _ = adult
    ex = explain_model(
        hgb, X, positive_label=">50K", sensitive_features=["sex", "race"], sample_size=300
    )
    report = json.loads(json.dumps(as_json(ex.to_report())))  # must be plain JSON

    means = {
        name: float(np.mean(np.abs(ex.attributions[:, j])))
        for j, name in enumerate(ex.feature_names)
    }
    total = sum(means.values())
    ordered = sorted(means.items(), key=lambda item: -item[1])
    assert [g["feature"] for g in report["global"]] == [name for name, _ in ordered]
    for entry, (_, value) in zip(report["global"], ordered, strict=True):
        assert entry["mean_abs_shap"] == pytest.approx(value, rel=1e-12)
        assert entry["share"] == pytest.approx(value / total, rel=1e-12)
    assert sum(g["share"] for g in report["global"]) == pytest.approx(1.0)
    assert report["sensitive_features"] == ["sex", "race"]
    assert report["sensitive_share"] == pytest.approx((means["sex"] + means["race"]) / total)
    assert report["status"] == "computed"
    assert all(type(report[k]) is float for k in ("base_value", "sensitive_share"))
    assert explain_model(hgb, X, positive_label=">50K", sample_size=5).sensitive_share is None


# --- input errors ------------------------------------------------------------------------------


def test_missing_columns_are_named(adult, hgb):
    X, _ = adult
    with pytest.raises(InputError, match="age.*education_num|education_num.*age") as caught:
        explain_model(hgb, X.drop(columns=["age", "education_num"]), positive_label=">50K")
    assert caught.value.hint


def test_unknown_positive_label_and_sensitive_feature(adult, hgb):
    X, _ = adult
    with pytest.raises(InputError, match="'>50k'.*<=50K"):
        explain_model(hgb, X, positive_label=">50k")
    with pytest.raises(InputError, match="'gender'"):
        explain_model(hgb, X, positive_label=">50K", sensitive_features=["gender"])
    with pytest.raises(InputError, match="sample_size"):
        explain_model(hgb, X, positive_label=">50K", sample_size=0)
