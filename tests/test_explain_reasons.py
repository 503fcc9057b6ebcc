"""Explainer choice, model-agnostic SHAP, per-decision reasons, fidelity, groups and proxies.

Every number is checked against an independent computation: shap's own explainers (TreeExplainer,
LinearExplainer, ExactExplainer), closed-form linear SHAP, scipy's Cramér's V and Spearman, or
numpy on boolean masks.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shap
import yaml
from scipy.stats import spearmanr
from scipy.stats.contingency import association, crosstab
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from audit.errors import InputError
from audit.explain import (
    CSV_COLUMNS,
    cramers_v,
    explain_model,
    load_reason_codes,
    write_reasons_csv,
)
from audit.explain.fasttree import NAME as FAST
from audit.loaders import load_model
from tests.helpers import as_json

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "samples" / "adult"
GERMAN = ROOT / "samples" / "german"
CODES = ROOT / "policies" / "reason-codes"
TOL = 1e-6
CATEGORICAL = ["workclass", "marital_status", "relationship", "race", "sex"]
NUMERIC = ["age", "education_num", "hours_per_week", "capital_gain"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(ADULT / "adult_test.csv", nrows=3000)


@pytest.fixture(scope="module")
def gbm():
    return load_model(ADULT / "models" / "adult-gbm.skops")


@pytest.fixture(scope="module")
def adult_codes():
    return load_reason_codes(CODES / "adult.yaml")


@pytest.fixture(scope="module")
def sample_explanation(gbm, frame, adult_codes):
    X = frame[gbm.feature_names]
    return explain_model(
        gbm.estimator,
        X,
        positive_label=">50K",
        sensitive_features=["sex", "race"],
        sample_size=300,
        reason_codes=adult_codes,
        stability_replicas=2,
        stability_rows=40,
    )


def _pipeline(estimator, numeric=None) -> Pipeline:
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    pre = ColumnTransformer(
        [("cat", encoder, CATEGORICAL), ("num", numeric or "passthrough", NUMERIC)]
    )
    return Pipeline([("pre", pre), ("clf", estimator)])


def _target(frame: pd.DataFrame) -> pd.Series:
    return frame["income"]


# --- explainer choice: our compiled TreeSHAP for the libraries' wrappers --------------------------------------------------------


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_native_treeshap_equals_shap_tree_explainer(frame, library):
    lib = pytest.importorskip(library)
    X = frame[NUMERIC].astype(float)
    y = (frame["income"] == ">50K").astype(int)
    if library == "xgboost":
        model = lib.XGBClassifier(n_estimators=30, max_depth=4)
    else:
        model = lib.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1)
    model.fit(X, y)
    ex = explain_model(model, X, positive_label=1, sample_size=300, stability_replicas=0)

    assert ex.method == "tree" and ex.explainer == FAST
    rows = X.iloc[ex.row_positions].to_numpy(float)
    reference = shap.TreeExplainer(model)(rows, check_additivity=False)
    # XGBoost adds float32 leaf values: its own margin and contributions (which shap returns
    # for XGBoost) agree with ours, in float64, to ~1e-6.
    tolerance = 1e-5 if library == "xgboost" else TOL
    np.testing.assert_allclose(ex.attributions, reference.values, atol=tolerance, rtol=0)
    assert ex.base_value == pytest.approx(float(reference.base_values[0]), abs=tolerance)
    assert ex.additivity.max_abs_error < tolerance
    report = as_json(ex.to_report())["additivity"]
    assert report["tolerance"] == tolerance and report["rows_above_tolerance"] == 0
    assert "training data" in ex.background


# --- model-agnostic ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short fit: speed
def test_permutation_enumerates_every_ordering_and_equals_shap_exact(frame):
    """Four input columns (two one-hot encoded): 4!/2 = 12 antithetic pairs cover every ordering,
    so the values are exact Shapley values; shap.ExactExplainer computes them on integer-coded
    input columns, masking each input column as a whole as we do."""
    columns = ["age", "education_num", "sex", "relationship"]
    X = frame[columns].iloc[:800]
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(sparse_output=False), ["sex", "relationship"]),
            ("num", StandardScaler(), ["age", "education_num"]),
        ]
    )
    model = Pipeline([("pre", pre), ("mlp", MLPClassifier((8,), max_iter=60, random_state=0))]).fit(
        X, _target(frame).iloc[:800]
    )
    ex = explain_model(
        model,
        X,
        positive_label=">50K",
        sample_size=4,
        background_size=10,
        method="permutation",
        permutations=12,
        stability_replicas=0,
    )
    assert ex.method == "permutation" and "exact" in ex.explainer
    assert ex.output_space == "probability of the positive class"

    categories = {c: pd.Index(sorted(X[c].unique())) for c in ("sex", "relationship")}

    def encode(rows: pd.DataFrame) -> np.ndarray:
        coded = rows.copy()
        for c, cats in categories.items():
            coded[c] = cats.get_indexer(rows[c])
        return coded.to_numpy(float)

    def f(coded: np.ndarray) -> np.ndarray:
        rows = pd.DataFrame(coded, columns=columns)
        for c, cats in categories.items():
            rows[c] = cats[rows[c].astype(int)]
        return model.predict_proba(rows)[:, 1]

    background = encode(X.iloc[ex.background_rows])
    exact = shap.ExactExplainer(f, shap.maskers.Independent(background, max_samples=10))
    reference = exact(encode(X.iloc[ex.row_positions]))
    np.testing.assert_allclose(ex.attributions, reference.values, atol=1e-9, rtol=0)
    assert ex.base_value == pytest.approx(float(reference.base_values[0]), abs=1e-12)
    assert ex.additivity.max_abs_error < 1e-12


def test_permutation_on_a_linear_model_equals_linear_shap(frame):
    """For a linear model every ordering gives the same contributions, so sampled permutation
    SHAP must equal exact linear SHAP on the same background, summed per input column."""
    X = frame[CATEGORICAL + NUMERIC]
    y = frame["hours_per_week"] * 0.3 + (frame["income"] == ">50K") * 5.0
    model = _pipeline(Ridge(), StandardScaler()).fit(X, y)
    kwargs = dict(positive_label=None, sample_size=40, background_size=30, seed=5)
    agnostic = explain_model(model, X, method="permutation", permutations=2, **kwargs)
    linear = explain_model(model, X, **kwargs)
    assert (agnostic.method, linear.method) == ("permutation", "linear")
    np.testing.assert_array_equal(agnostic.background_rows, linear.background_rows)
    np.testing.assert_allclose(agnostic.attributions, linear.attributions, atol=1e-9)
    assert agnostic.base_value == pytest.approx(linear.base_value, abs=1e-9)
    assert as_json(agnostic.to_report())["sampling_error"]["max"] < 1e-9
    assert agnostic.additivity.max_abs_error < 1e-9


# A nonlinear model is needed, not a converged one: a short fit keeps the test fast.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_permutation_is_seeded_and_reports_its_sampling_error(frame):
    X = frame[CATEGORICAL + NUMERIC]
    model = _pipeline(MLPClassifier((16,), max_iter=50, random_state=0), StandardScaler()).fit(
        X, _target(frame)
    )
    kwargs = dict(positive_label=">50K", sample_size=20, background_size=20, stability_replicas=0)
    first = explain_model(model, X, seed=1, **kwargs)
    again = explain_model(model, X, seed=1, **kwargs)
    other = explain_model(model, X, seed=2, **kwargs)
    assert first.method == "permutation"
    np.testing.assert_array_equal(first.attributions, again.attributions)
    assert not np.array_equal(first.attributions, other.attributions)
    report = as_json(first.to_report())
    assert report["sampling_error"]["max"] > 0
    # Additivity is exact by construction, whatever the sample.
    assert report["additivity"]["max_abs_error"] < 1e-12
    np.testing.assert_allclose(
        first.model_output, model.predict_proba(X.iloc[first.row_positions])[:, 1]
    )


# --- reasons -----------------------------------------------------------------------------------


def test_reasons_csv_has_at_most_four_reasons_in_words(sample_explanation, gbm, frame, tmp_path):
    ex = sample_explanation
    path = tmp_path / "reasons.csv"
    write_reasons_csv(path, ex.decision_reasons())
    with path.open(newline="", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert tuple(lines[0].keys()) == CSV_COLUMNS

    words = yaml.safe_load((CODES / "adult.yaml").read_text())["reasons"]
    X = frame[gbm.feature_names]
    predicted = gbm.estimator.predict(X.iloc[ex.row_positions])
    adverse_ids = {str(p) for p, d in zip(ex.row_positions, predicted, strict=True) if d != ">50K"}
    by_row: dict[str, list[dict]] = {}
    for line in lines:
        by_row.setdefault(line["row_id"], []).append(line)
    assert set(by_row) == adverse_ids and adverse_ids

    # Independent attributions: shap on the transformed rows, summed by output-name prefix.
    pipe = gbm.estimator
    Xt = pipe[:-1].transform(X.iloc[ex.row_positions])
    phi_t = shap.TreeExplainer(pipe[-1]).shap_values(Xt)
    names = list(pipe[:-1].get_feature_names_out())
    for row_id, reasons in by_row.items():
        assert 1 <= len(reasons) <= 4
        i = int(np.flatnonzero(ex.row_positions == int(row_id))[0])
        phi = {
            f: sum(
                phi_t[i, k]
                for k, n in enumerate(names)
                if n in (f"num__{f}",) or n.startswith(f"cat__{f}_")
            )
            for f in gbm.feature_names
        }
        negative = sorted((v, f) for f, v in phi.items() if v < 0)[:4]
        assert [r["feature"] for r in reasons] == [f for _, f in negative]
        for rank, r in enumerate(reasons, start=1):
            assert r["decision"] == "<=50K" and int(r["rank"]) == rank
            assert (r["code"], r["reason"]) == (
                words[r["feature"]]["code"],
                words[r["feature"]]["text"],
            )
            assert float(r["attribution"]) == pytest.approx(phi[r["feature"]], abs=TOL)
            assert r["value"] == str(X.iloc[int(row_id)][r["feature"]])
            assert float(r["additivity_error"]) < TOL


def test_reasons_summary_and_examples_in_the_report(sample_explanation):
    report = json.loads(json.dumps(as_json(sample_explanation.to_report()), allow_nan=False))
    reasons = report["reasons"]
    decisions = sample_explanation.decision_reasons()
    assert reasons["status"] == "computed" and reasons["max_reasons"] == 4
    assert reasons["adverse_decisions"] == len(decisions)
    counts: dict[str, int] = {}
    for d in decisions:
        for r in d.reasons:
            counts[r.feature] = counts.get(r.feature, 0) + 1
    assert {s["feature"]: s["decisions"] for s in reasons["summary"]} == counts
    sensitive = sum(any(r.feature in ("sex", "race") for r in d.reasons) for d in decisions)
    assert reasons["decisions_with_sensitive_reason"] == sensitive
    example = reasons["examples"][0]
    total = example["base_value"] + sum(c["attribution"] for c in example["contributions"])
    assert total == pytest.approx(example["model_output"], abs=TOL)
    assert "training data" in reasons["relative_to"]


def test_missing_reason_codes_are_listed(gbm, frame, tmp_path):
    partial = tmp_path / "codes.yaml"
    partial.write_text("name: partial\nreasons:\n  age: {code: R1, text: Age}\n")
    codes = load_reason_codes(partial)
    with pytest.raises(InputError, match="capital_gain.*sex|sex.*capital_gain") as caught:
        explain_model(
            gbm.estimator,
            frame[gbm.feature_names],
            positive_label=">50K",
            sample_size=5,
            reason_codes=codes,
        )
    assert "codes.yaml" in str(caught.value) and caught.value.hint
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nreasons:\n  age: {code: R1, wording: Age}\n")
    with pytest.raises(InputError, match=r"reasons\.age"):
        load_reason_codes(broken)


def test_shipped_reason_codes_cover_the_sample_models(gbm):
    german = load_model(GERMAN / "models" / "german-rf.skops")
    load_reason_codes(CODES / "adult.yaml").lookup(gbm.feature_names)
    load_reason_codes(CODES / "german.yaml").lookup(german.feature_names)


def test_named_rows_by_id_column(gbm, frame, adult_codes):
    X = frame[gbm.feature_names]
    ids = pd.Series([f"A{i:05d}" for i in range(len(X))])
    ex = explain_model(
        gbm.estimator,
        X,
        positive_label=">50K",
        rows=["A00042", "A00007"],
        row_ids=ids,
        reason_codes=adult_codes,
        stability_replicas=0,
    )
    assert ex.rows == "named"
    np.testing.assert_array_equal(ex.row_positions, [42, 7])
    assert list(ex.row_ids) == ["A00042", "A00007"]
    predicted = gbm.estimator.predict(X.iloc[[42, 7]])
    assert {d.row_id for d in ex.decision_reasons()} == {
        i for i, p in zip(["A00042", "A00007"], predicted, strict=True) if p != ">50K"
    }
    with pytest.raises(InputError, match="A99999"):
        explain_model(gbm.estimator, X, positive_label=">50K", rows=["A99999"], row_ids=ids)
    plain = explain_model(gbm.estimator, X, positive_label=">50K", rows=[3], stability_replicas=0)
    assert list(plain.ids) == [3]


# --- fidelity: stability -----------------------------------------------------------------------


def test_reason_stability_recomputed_by_hand_for_a_linear_model(frame):
    X = frame[CATEGORICAL + NUMERIC]
    model = _pipeline(LogisticRegression(max_iter=2000), StandardScaler()).fit(X, _target(frame))
    seed, replicas, size = 4, 3, 25
    ex = explain_model(
        model,
        X,
        positive_label=">50K",
        sample_size=60,
        background_size=50,
        seed=seed,
        stability_replicas=replicas,
        stability_rows=1000,
        stability_background=size,
    )
    pre, coef = model[:-1], model[-1].coef_[0]
    owners = [
        next(j for j, c in enumerate(X.columns) if n.startswith((f"cat__{c}_", f"num__{c}")))
        for n in pre.get_feature_names_out()
    ]
    member = np.zeros((len(owners), X.shape[1]))
    member[np.arange(len(owners)), owners] = 1
    Xt = pre.transform(X.iloc[ex.row_positions])

    def top(values):
        order = np.argsort(values, kind="stable")[:4]
        return {int(j) for j in order if values[j] < 0}

    backgrounds = []
    for r in range(1, replicas + 1):
        rng = np.random.default_rng([seed, r])
        positions = np.sort(rng.choice(len(X), size=size, replace=False))
        backgrounds.append(pre.transform(X.iloc[positions]).mean(axis=0))
    adverse = np.flatnonzero(ex.adverse)
    assert adverse.size > 0
    for i in adverse:
        main = top(ex.attributions[i])
        kept = [
            len(main & top(((Xt[i] - mean) * coef) @ member)) / len(main) if main else 1.0
            for mean in backgrounds
        ]
        assert ex.stability[i] == pytest.approx(np.mean(kept), abs=1e-12)
    assert np.isnan(ex.stability[~ex.adverse]).all()
    stability = as_json(ex.to_report())["reasons"]
    assert stability["status"] == "skipped"  # no reason codes: no words, no reasons
    assert ex.stability_replicas == replicas


# --- importance, groups, proxies ---------------------------------------------------------------


def test_intervals_groups_and_ranks_by_hand(sample_explanation):
    ex = sample_explanation
    report = as_json(ex.to_report())
    phi = np.abs(ex.attributions)
    n = len(phi)
    for g in report["global"]:
        j = ex.feature_names.index(g["feature"])
        lo, hi = g["ci"]
        assert lo <= g["mean_abs_shap"] <= hi
        half = 1.96 * phi[:, j].std(ddof=1) / np.sqrt(n)  # normal approximation
        assert (hi - lo) / 2 == pytest.approx(half, rel=0.35)
    lo, hi = report["sensitive_share_ci"]
    assert lo <= report["sensitive_share"] <= hi
    ranked = [g["feature"] for g in report["global"]]
    assert report["sensitive_rank"] == min(ranked.index("sex"), ranked.index("race")) + 1

    overall = phi.mean(axis=0)
    for column in ("sex", "race"):
        values = ex.feature_values[column].astype(str).to_numpy()
        for label, group in report["groups"][column].items():
            mask = values == label
            means = phi[mask].mean(axis=0)
            assert group["n"] == int(mask.sum())
            for entry in group["global"]:
                j = ex.feature_names.index(entry["feature"])
                assert entry["mean_abs_shap"] == pytest.approx(means[j], rel=1e-12)
            if mask.sum() > 1:
                expected = spearmanr(means, overall).statistic
                assert group["rank_correlation_with_overall"] == pytest.approx(expected)


def test_proxies_use_cramers_v(sample_explanation, frame):
    report = as_json(sample_explanation.to_report())
    for entry in report["proxies"]:
        if entry["feature"] in ("relationship", "marital_status", "workclass"):
            table = crosstab(frame[entry["feature"]], frame[entry["sensitive_feature"]]).count
            assert entry["value"] == pytest.approx(association(table, method="cramer"))
    strong = {e["feature"] for e in report["proxies"] if e["value"] >= report["proxy_threshold"]}
    assert "relationship" in strong and set(report["proxy_features"]) == strong
    total = sum(g["mean_abs_shap"] for g in report["global"])
    on_proxies = sum(g["mean_abs_shap"] for g in report["global"] if g["feature"] in strong)
    assert report["proxy_share"] == pytest.approx(on_proxies / total)


def test_cramers_v_on_binned_numbers_matches_scipy(frame):
    ages = frame["age"]
    bins = pd.qcut(ages, 10, duplicates="drop")
    expected = association(crosstab(bins.astype(str), frame["sex"]).count, method="cramer")
    assert cramers_v(ages, frame["sex"]) == pytest.approx(expected)
    assert cramers_v(frame["sex"], frame["sex"]) == pytest.approx(1.0)


def test_sensitive_attribute_outside_the_model_inputs(frame):
    german = load_model(GERMAN / "models" / "german-rf.skops")
    data = pd.read_csv(GERMAN / "german_test.csv")
    ex = explain_model(
        german.estimator,
        data[german.feature_names],
        positive_label=1,
        sensitive_features=["sex", "age_group"],
        groups=data[["age_group"]],
        sample_size=100,
        stability_replicas=0,
    )
    report = as_json(ex.to_report())
    assert set(report["groups"]["age_group"]) == {"under 25", "25 and over"}
    assert any(
        p["feature"] == "age" and p["sensitive_feature"] == "age_group" and p["proxy"]
        for p in report["proxies"]
    )
