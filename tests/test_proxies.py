"""Proxies of sensitive features whatever the model's inputs, and direct use.

The case that matters: a model fed ``is_black`` and ``is_male`` (exact copies of
``race == "Black"`` and ``sex == "Male"``) while race and sex are not inputs. Real models trained
on the Adult training data; every number checked against an independent computation (scipy's
Cramér's V, entropies from the contingency table, scikit-learn's cross_val_score on an
independently encoded frame, a hand count of the stratified subsample).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import entropy
from scipy.stats.contingency import association, crosstab
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import normalized_mutual_info_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from audit.errors import InputError
from audit.explain import explain_model, mutual_information, proxy_model
from audit.explain.proxies import codes
from audit.loaders import load_model
from audit.policy import load_policy
from audit.policy.rules import DirectUseRule, ExplanationRule
from audit.report.render import render_html
from tests.conftest import ROOT, SAMPLES
from tests.helpers import as_json, evidence

ADULT = SAMPLES / "adult"
CATEGORICAL = ["workclass", "marital_status", "occupation", "relationship", "native_country"]
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
COPIES = ["is_black", "is_male"]
PROXIED = CATEGORICAL + NUMERIC + COPIES  # race and sex are NOT inputs
SENSITIVE = ["race", "sex"]


def _with_copies(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["is_black"] = (frame["race"] == "Black").astype(int)
    frame["is_male"] = (frame["sex"] == "Male").astype(int)
    return frame


def _pipeline(categorical: list[str], numeric: list[str]) -> Pipeline:
    encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    pre = ColumnTransformer([("cat", encode, categorical), ("num", "passthrough", numeric)])
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0)
    return Pipeline([("preprocess", pre), ("model", model)])


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return _with_copies(pd.read_csv(ADULT / "adult_train.csv", nrows=12000))


@pytest.fixture(scope="module")
def test_frame() -> pd.DataFrame:
    return _with_copies(pd.read_csv(ADULT / "adult_test.csv", nrows=4000))


def _fit(train: pd.DataFrame, categorical: list[str], numeric: list[str]) -> Pipeline:
    return _pipeline(categorical, numeric).fit(train[categorical + numeric], train["income"])


def _explain(model: Pipeline, frame: pd.DataFrame, **kw):
    return explain_model(
        model,
        frame[list(model.feature_names_in_)],
        positive_label=">50K",
        sensitive_features=SENSITIVE,
        groups=frame[SENSITIVE],
        sample_size=200,
        stability_replicas=0,
        **kw,
    )


@pytest.fixture(scope="module")
def proxied(train: pd.DataFrame) -> Pipeline:
    return _fit(train, CATEGORICAL, NUMERIC + COPIES)


@pytest.fixture(scope="module")
def proxied_report(proxied: Pipeline, test_frame: pd.DataFrame) -> dict:
    return as_json(_explain(proxied, test_frame).to_report())


# --- proxies when the sensitive features are not inputs ---------------------------------------


def test_copies_are_strong_proxies_and_carry_attribution(proxied_report, test_frame):
    r = proxied_report
    assert r["sensitive_features"] == SENSITIVE
    assert r["direct_use"] == [] and r["sensitive_share"] == 0.0  # neither is an input
    pairs = {(p["feature"], p["sensitive_feature"]): p for p in r["proxies"]}
    assert len(pairs) == len(PROXIED) * len(SENSITIVE)  # every input x every sensitive feature
    assert pairs[("is_black", "race")]["value"] == pytest.approx(1.0)
    assert pairs[("is_male", "sex")]["value"] == pytest.approx(1.0)
    assert pairs[("is_male", "sex")]["normalized_mutual_information"] == pytest.approx(1.0)
    assert {"is_black", "is_male"} <= set(r["proxy_features"])
    strong = {p["feature"] for p in r["proxies"] if p["value"] >= r["proxy_threshold"]}
    assert set(r["proxy_features"]) == strong
    assert all(p["proxy"] == (p["value"] >= 0.3) for p in r["proxies"])
    total = sum(g["mean_abs_shap"] for g in r["global"])
    on_proxies = sum(g["mean_abs_shap"] for g in r["global"] if g["feature"] in strong)
    assert r["proxy_share"] == pytest.approx(on_proxies / total)
    assert r["proxy_share"] > 0.3


def test_proxy_models_predict_race_and_sex_from_the_copies(proxied_report):
    models = {m["sensitive_feature"]: m for m in proxied_report["proxy_models"]}
    assert set(models) == set(SENSITIVE)
    assert models["sex"]["auc"] > 0.99  # is_male is sex
    assert models["race"]["auc"] > 0.8  # is_black separates one class of five exactly
    assert models["race"]["classes"] == sorted(models["race"]["classes"])
    assert len(models["race"]["classes"]) == 5
    for m in models.values():
        assert m["folds"] == 5 and len(m["fold_aucs"]) == 5 and m["rows"] == 4000
        assert m["auc"] == pytest.approx(np.mean(m["fold_aucs"]))
        assert set(m["inputs"]) == set(PROXIED) and m["predictable"]
    assert "one-vs-rest" in models["race"]["method"]
    assert proxied_report["proxy_auc"] == max(m["auc"] for m in models.values())


def test_same_inputs_without_the_copies_have_a_lower_share(train, test_frame):
    with_copies = as_json(_explain(_fit(train, [], NUMERIC + COPIES), test_frame).to_report())
    without = as_json(_explain(_fit(train, [], NUMERIC), test_frame).to_report())
    assert set(with_copies["proxy_features"]) == set(COPIES)
    assert without["proxy_features"] == [] and without["proxy_share"] == 0.0
    assert with_copies["proxy_share"] > 0.05
    auc = {m["sensitive_feature"]: m["auc"] for m in without["proxy_models"]}
    assert auc["sex"] < 0.75 and auc["race"] < 0.75  # numbers alone say little of race or sex
    rule = ExplanationRule(
        id="proxies", kind="explanation", metric="proxy_share", operator="<=", threshold=0.05
    )
    assert rule.judge(_policy(), evidence({}, {}, without)).status == "pass"
    assert rule.judge(_policy(), evidence({}, {}, with_copies)).status == "fail"


# --- the measures against independent computations --------------------------------------------


@pytest.mark.parametrize(
    ("feature", "sensitive"),
    [("relationship", "sex"), ("native_country", "race"), ("occupation", "sex")],
)
def test_cramers_v_and_mutual_information_by_hand(proxied_report, test_frame, feature, sensitive):
    entry = next(
        p
        for p in proxied_report["proxies"]
        if p["feature"] == feature and p["sensitive_feature"] == sensitive
    )
    table = crosstab(test_frame[feature], test_frame[sensitive]).count
    assert entry["value"] == pytest.approx(association(table, method="cramer"))
    p = table / table.sum()
    h_x, h_y = entropy(p.sum(axis=1)), entropy(p.sum(axis=0))
    mi = h_x + h_y - entropy(p.ravel())
    assert entry["mutual_information"] == pytest.approx(mi, rel=1e-9)
    assert entry["normalized_mutual_information"] == pytest.approx(mi / ((h_x + h_y) / 2))
    nmi = normalized_mutual_info_score(test_frame[feature], test_frame[sensitive])
    assert entry["normalized_mutual_information"] == pytest.approx(nmi)


def test_mutual_information_on_binned_numbers(test_frame):
    ages = test_frame["age"]
    bins = pd.qcut(ages, 10, duplicates="drop").astype(str)
    table = crosstab(bins, test_frame["sex"]).count
    p = table / table.sum()
    expected = entropy(p.sum(axis=1)) + entropy(p.sum(axis=0)) - entropy(p.ravel())
    mi, nmi = mutual_information(ages, test_frame["sex"])
    assert mi == pytest.approx(expected, rel=1e-9)
    assert nmi == pytest.approx(normalized_mutual_info_score(bins, test_frame["sex"]))
    assert mutual_information(test_frame["sex"], pd.Series(["x"] * len(test_frame))) == (0.0, 0.0)
    assert len(set(codes(ages).tolist())) == bins.nunique()


@pytest.mark.parametrize(("sensitive", "scoring"), [("sex", "roc_auc"), ("race", "roc_auc_ovr")])
def test_cv_auc_equals_cross_val_score_on_the_same_folds(test_frame, sensitive, scoring):
    test_frame = test_frame.iloc[:2000]
    inputs = CATEGORICAL + NUMERIC
    found = proxy_model(test_frame[inputs], test_frame[sensitive], seed=3)
    X = test_frame[inputs].copy()  # encoded independently: pandas categories, not our codes
    for column in CATEGORICAL:
        X[column] = X[column].astype("category")
    classifier = HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_iter=100, early_stopping=True, random_state=3
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=3)
    y = test_frame[sensitive]
    scores = cross_val_score(classifier, X, y, cv=folds, scoring=scoring)
    assert found.fold_aucs == pytest.approx(tuple(scores), abs=1e-12)
    assert found.auc == pytest.approx(scores.mean(), abs=1e-12)
    if sensitive == "sex":  # and by hand: fit each fold, score the held-out rows
        by_hand = []
        for fit_rows, held_out in folds.split(X, y):
            fitted = classifier.fit(X.iloc[fit_rows], y.iloc[fit_rows])
            scores_ = fitted.predict_proba(X.iloc[held_out])[:, 1]
            by_hand.append(roc_auc_score(y.iloc[held_out] == fitted.classes_[1], scores_))
        assert found.fold_aucs == pytest.approx(tuple(by_hand), abs=1e-12)


def test_missing_values_rare_classes_and_subsample(test_frame):
    inputs = test_frame[NUMERIC + CATEGORICAL]
    race = test_frame["race"].astype(object).copy()
    race.iloc[:7] = np.nan
    race.iloc[7:10] = "tiny"  # 3 rows: fewer than the 5 folds
    found = proxy_model(inputs, race, seed=0)
    assert "tiny" not in found.classes and len(found.classes) == 5
    assert found.rows == len(race) - 10
    assert "7 rows with a missing race left out" in found.note
    assert "tiny (3 rows)" in found.note

    sub = proxy_model(inputs, race, max_rows=1000, seed=0)
    kept = race[race.notna() & (race != "tiny")]
    expected = sum(max(math.ceil(n * 1000 / len(kept)), min(n, 5)) for n in kept.value_counts())
    assert sub.rows == expected and expected <= 1000 + 5 * 5
    assert f"a stratified sample of {expected} of {len(kept)} rows (seed 0)" in sub.note
    again = proxy_model(inputs, race, max_rows=1000, seed=0)
    assert again.fold_aucs == sub.fold_aucs  # seeded

    single = proxy_model(inputs, pd.Series(["a"] * len(inputs), name="constant"))
    assert single.auc is None and "fewer than two classes" in single.note
    nothing = proxy_model(inputs.iloc[:, :0], test_frame["sex"])
    assert nothing.auc is None and "no input besides" in nothing.note
    # a text column with more values than the estimator takes categories (an id) still fits
    ids = inputs.assign(row=[f"r{i}" for i in range(len(inputs))])[["row", "age"]]
    assert 0.4 < proxy_model(ids, test_frame["sex"], max_rows=1000).auc < 0.75


def test_no_proxy_models_when_asked(proxied, test_frame):
    ex = _explain(proxied, test_frame, proxy_model_rows=0)
    report = as_json(ex.to_report())
    assert report["proxy_models"] == [] and report["proxy_auc"] is None
    assert report["proxies"]  # the associations still are computed
    rule = ExplanationRule(
        id="auc", kind="explanation", metric="proxy_auc", operator="<=", threshold=0.75
    )
    finding = rule.judge(_policy(), evidence({}, {}, report))
    assert finding.status == "skipped" and "no proxy model was fitted" in finding.message
    with pytest.raises(InputError, match="at least 2 folds"):
        _explain(proxied, test_frame, proxy_folds=1)


# --- rules -------------------------------------------------------------------------------------


class _Policy:
    min_group_size = 30

    def where(self, rule_id: str) -> str:
        return f"policy.yaml (rule {rule_id})"


def _policy() -> _Policy:
    return _Policy()


def test_proxy_rules_say_what_was_found(proxied_report):
    share = ExplanationRule(
        id="proxies", kind="explanation", metric="proxy_share", operator="<=", threshold=0.1
    )
    found = share.judge(_policy(), evidence({}, {}, proxied_report))
    assert found.status == "fail" and found.value == pytest.approx(proxied_report["proxy_share"])
    assert "is_black is a strong proxy of race (Cramér's V 1.00)" in found.message
    assert "is_male is a strong proxy of sex (Cramér's V 1.00)" in found.message
    models = {m["sensitive_feature"]: m for m in proxied_report["proxy_models"]}
    assert f"the inputs predict sex with AUC {models['sex']['auc']:.2f} (5-fold CV)" in (
        found.message
    )
    assert f"{proxied_report['proxy_share']:.0%} of attribution is carried by proxies" in (
        found.message
    )
    auc = ExplanationRule(
        id="auc", kind="explanation", metric="proxy_auc", operator="<=", threshold=0.75
    )
    judged = auc.judge(_policy(), evidence({}, {}, proxied_report))
    assert judged.status == "fail" and judged.value == pytest.approx(models["sex"]["auc"])
    assert "the highest proxy-model AUC (sex)" in judged.message


@pytest.fixture(scope="module")
def gbm_report() -> dict:
    """The sample Adult model, which takes sex and race as inputs."""
    gbm = load_model(ADULT / "models" / "adult-gbm.skops")
    frame = pd.read_csv(ADULT / "adult_test.csv", nrows=2000)
    ex = explain_model(
        gbm.estimator,
        frame[gbm.feature_names],
        positive_label=">50K",
        sensitive_features=["sex", "race"],
        groups=frame[["sex", "race"]],
        sample_size=150,
        stability_replicas=0,
        proxy_model_rows=0,
    )
    return as_json(ex.to_report())


def test_direct_use_is_reported_not_as_a_proxy(gbm_report):
    used = {d["feature"]: d for d in gbm_report["direct_use"]}
    assert list(used) == ["sex", "race"]
    ranked = [g["feature"] for g in gbm_report["global"]]
    for feature, d in used.items():
        row = gbm_report["global"][ranked.index(feature)]
        assert d["rank"] == ranked.index(feature) + 1
        assert d["share"] == row["share"] and d["mean_abs_shap"] == row["mean_abs_shap"]
    assert not {"sex", "race"} & {p["feature"] for p in gbm_report["proxies"]}
    assert gbm_report["sensitive_share"] == pytest.approx(sum(d["share"] for d in used.values()))


def test_direct_use_rule(gbm_report, proxied_report):
    def judge(report: dict, **fields):
        rule = DirectUseRule(id="no-direct-use", kind="direct_use", **fields)
        return rule.judge(_policy(), evidence({}, {}, report))

    used = {d["feature"]: d for d in gbm_report["direct_use"]}
    found = judge(gbm_report)
    assert found.status == "fail" and found.value == 2 and found.metric == "direct_use"
    sex = used["sex"]
    assert (
        f"sex is a model input ({sex['share']:.1%} of attribution, rank {sex['rank']} of 12)"
        in (found.message)
    )
    assert {b.feature for b in found.breaches} == {"sex", "race"}
    only_sex = judge(gbm_report, feature="sex")
    assert only_sex.status == "fail" and only_sex.value == 1 and "race" not in only_sex.message
    assert judge(gbm_report, severity="warning").status == "warn"

    tolerated = judge(gbm_report, max_share=0.5)
    assert tolerated.status == "pass" and tolerated.metric == "direct_use_share"
    assert tolerated.value == pytest.approx(max(d["share"] for d in used.values()))
    low = min(d["share"] for d in used.values())
    tight = judge(gbm_report, max_share=low)  # the smaller share is at the limit: allowed
    assert tight.status == "fail"
    assert [b.feature for b in tight.breaches] == [max(used, key=lambda f: used[f]["share"])]

    clean = judge(proxied_report)
    assert clean.status == "pass" and clean.value == 0
    assert "no sensitive feature is a model input (race, sex checked)" in clean.message
    with pytest.raises(InputError, match="names feature 'age'"):
        judge(gbm_report, feature="age")
    skipped = judge({"status": "skipped", "reason": "no model"})
    assert skipped.status == "skipped"


def test_direct_use_rule_in_a_policy_file(tmp_path: Path):
    text = """\
apiVersion: audit/v1
kind: Policy
name: t
version: "1"
rules:
  - id: no-sex
    kind: direct_use
    feature: sex
  - id: little-race
    kind: direct_use
    feature: race
    max_share: 0.02
    severity: warning
"""
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    rules = load_policy(path).rules
    assert [type(r).__name__ for r in rules] == ["DirectUseRule", "DirectUseRule"]
    path.write_text(text.replace("max_share: 0.02", "max_share: 2"))
    with pytest.raises(InputError, match="max_share"):
        load_policy(path)


# --- end to end: the audit run, the report and its HTML ---------------------------------------


def test_audit_run_finds_proxies_of_features_that_are_not_inputs(tmp_path, proxied, test_frame):
    """The bug: race and sex not being inputs used to switch proxy analysis off (share 0, the
    proxy rule passed)."""
    from skops.io import dump

    from audit.cli import main

    dump(proxied, tmp_path / "proxied.skops")
    test_frame.to_csv(tmp_path / "data.csv", index=False)
    policy = {
        "apiVersion": "audit/v1",
        "kind": "Policy",
        "name": "proxies",
        "version": "1",
        "rules": [
            {
                "id": "proxy-share",
                "kind": "explanation",
                "metric": "proxy_share",
                "operator": "<=",
                "threshold": 0.1,
            },
            {"id": "no-direct-use", "kind": "direct_use"},
        ],
    }
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    spec = {
        "name": "proxied",
        "model": "proxied.skops",
        "dataset": "data.csv",
        "label": "income",
        "positive_label": ">50K",
        "sensitive_features": SENSITIVE,
        "policy": "policy.yaml",
        "output": "out",
        "fairness": {"n_bootstrap": 0},
        "explain": {"sample_size": 150, "stability_replicas": 0},
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec))
    code = main(["run", str(tmp_path / "audit.yaml"), "--no-pdf", "--no-sign", "-q"])
    assert code == 1  # the proxy rule fails
    bundle = tmp_path / "out" / "proxied" / "v1"
    report = json.loads((bundle / "report.json").read_text())
    ex = report["explanations"]
    assert {"is_black", "is_male"} <= set(ex["proxy_features"]) and ex["proxy_share"] > 0.3
    assert ex["direct_use"] == []
    rules = {r["id"]: r for r in report["rules"]}
    assert rules["proxy-share"]["status"] == "fail"
    assert "is_black is a strong proxy of race (Cramér's V 1.00)" in rules["proxy-share"]["message"]
    assert rules["no-direct-use"]["status"] == "pass"
    page = (bundle / "report.html").read_text()
    assert "Direct use and proxies of sensitive features" in page
    assert "no sensitive feature (race, sex) is a model input" in page


def _section(page: str) -> str:
    start = page.index('<section class="explain-proxies"')
    return page[start : page.index("</section>", start)]


def test_html_shows_associations_proxy_models_and_direct_use(proxied_report, gbm_report):
    base = json.loads((ROOT / "tests" / "fixtures" / "report_example.json").read_text())
    proxied_page = _section(render_html({**base, "explanations": proxied_report}))
    row = next(r for r in proxied_page.split("<tr") if ">is_black<" in r)
    assert "<td>race</td>" in row and '<td class="num">1.000</td>' in row and "yes" in row
    for m in proxied_report["proxy_models"]:
        line = next(r for r in proxied_page.split("<tr") if f">{m['sensitive_feature']}</th>" in r)
        assert f"{m['auc']:.3f}" in line and f"{m['rows']:,}" in line
    assert "Mutual information" in proxied_page and "Normalized MI" in proxied_page
    gbm_page = _section(render_html({**base, "explanations": gbm_report}))
    assert "sex, race are model inputs" in gbm_page
    sex = next(d for d in gbm_report["direct_use"] if d["feature"] == "sex")
    assert f"{sex['rank']} of 12" in gbm_page
    assert "Proxy models" not in gbm_page  # none were fitted for this report
