"""``task: multiclass`` (issue #20 part 2): one-vs-rest fairness per class, macro and worst-class
summaries, per-class SHAP, the ``multiclass_fairness`` rule kind.

The sample is german-housing-rf (a random forest for ``housing``: free / own / rent) on the German
test split. Every number is checked against an independent computation: scikit-learn's
``multilabel_confusion_matrix``, ``recall_score``/``precision_score``, fairlearn's
``demographic_parity_difference``, scipy's beta quantiles (Jeffreys), ``shap.TreeExplainer`` and
``shap.LinearExplainer``, and hand counts with pandas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    multilabel_confusion_matrix,
    precision_score,
    recall_score,
)

from audit.cli.app import main
from tests.conftest import ROOT, SAMPLES

GERMAN = SAMPLES / "german"
CLASSES = ["free", "own", "rent"]
FEATURES = ["sex", "age_group", "sex&age_group"]

POLICY = """\
apiVersion: audit/v1
kind: Policy
name: multiclass-test
version: "1"
min_group_size: 30
rules:
  - id: accuracy
    kind: performance
    metric: accuracy
    operator: ">="
    threshold: 0.5
  - id: binary-fairness
    kind: fairness
    metric: impact_ratio
    operator: ">="
    threshold: 0.8
  - id: recall-per-class
    kind: multiclass_fairness
    metric: tpr
    feature: sex
    operator: ">="
    threshold: 0.5
  - id: own-recall
    kind: multiclass_fairness
    metric: tpr
    feature: sex
    classes: [own]
    operator: ">="
    threshold: 0.5
  - id: macro-dp
    kind: multiclass_fairness
    metric: demographic_parity_difference
    summary: macro
    operator: "<="
    threshold: 0.01
  - id: worst-eo
    kind: multiclass_fairness
    metric: equalized_odds_difference
    summary: worst
    operator: "<="
    threshold: 1.0
  - id: bound-impact
    kind: multiclass_fairness
    metric: impact_ratio
    feature: sex
    mode: bound
    operator: ">="
    threshold: 0.8
"""


def _load_model() -> Any:
    import skops.io as sio

    path = GERMAN / "models" / "german-housing-rf.skops"
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def _spec(tmp: Path, **changes: Any) -> Path:
    """The sample's housing spec, light settings, the test policy; ``changes`` set keys."""
    doc = yaml.safe_load((GERMAN / "audit-housing.yaml").read_text("utf-8"))
    for key in ("model", "dataset"):
        doc[key] = str((GERMAN / doc[key]).resolve())
    doc.pop("output", None)
    tmp.mkdir(parents=True, exist_ok=True)
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY, "utf-8")
    doc["policy"] = str(policy)
    doc["explain"] = {"sample_size": 300, "proxy_model_rows": 0, "stability_replicas": 0}
    doc["fairness"] = {"n_bootstrap": 50}
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    tmp.mkdir(parents=True, exist_ok=True)
    spec = tmp / "audit.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return spec


def _run(spec: Path, out: Path, *extra: str) -> dict:
    code = main(["run", str(spec), "--output", str(out), "--no-pdf", "--no-sign", *extra])
    assert code in (0, 1)
    (report,) = out.glob("*/v*/report.json")
    return json.loads(report.read_text())


def _masked(report: dict) -> str:
    data = dict(report)
    for key in ("report_id", "created_at", "version", "environment", "previous", "subject"):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("multiclass")
    spec = _spec(tmp / "spec")
    memory = _run(spec, tmp / "m", "--engine", "memory")
    stream = _run(spec, tmp / "s", "--engine", "stream", "--batch-rows", "97")
    frame = pd.read_csv(GERMAN / "german_test.csv")
    model = _load_model()
    predicted = model.predict(frame[list(model.feature_names_in_)]).astype(str)
    return {"memory": memory, "stream": stream, "frame": frame, "pred": predicted, "tmp": tmp}


def test_html_has_the_multiclass_section(audited: dict) -> None:
    (html,) = (audited["tmp"] / "m").glob("*/v*/report.html")
    text = html.read_text("utf-8")
    section = text[text.index('<section id="multiclass"') :]
    section = section[: section.index('<section id="performance"')]
    assert "Fairness per class (multiclass, one-vs-rest)" in section
    for c in CLASSES:
        assert f"<td>{c}</td>" in section
    # the per-class rule's breaches are marked on their (class, group) rows
    assert 'breaches <span class="rule-ref">recall-per-class</span>' in section
    assert "Attributions per class" in section


def _groups(frame: pd.DataFrame, feature: str) -> dict[str, np.ndarray]:
    columns = feature.split("&")
    labels = frame[columns].astype(str).agg("&".join, axis=1)
    return {g: (labels == g).to_numpy() for g in sorted(labels.unique())}


def test_confusion_per_group_and_class_equals_sklearn(audited: dict) -> None:
    report, frame, pred = audited["memory"], audited["frame"], audited["pred"]
    mc = report["multiclass"]
    assert report["task"] == "multiclass" and report["fairness"] == {}
    assert mc["classes"] == CLASSES and mc["scheme"] == "one-vs-rest"
    y = frame["housing"].astype(str).to_numpy()
    checked = 0
    for feature in FEATURES:
        for g, mask in _groups(frame, feature).items():
            matrices = multilabel_confusion_matrix(y[mask], pred[mask], labels=CLASSES)
            for c, label in enumerate(CLASSES):
                group = mc["by_class"][label][feature]["groups"][g]
                cells = [[group["tn"], group["fp"]], [group["fn"], group["tp"]]]
                assert cells == matrices[c].tolist(), (feature, g, label)
                assert group["n"] == int(mask.sum())
                checked += 1
    assert checked == 3 * (2 + 2 + 4)


def test_rates_equal_sklearn_per_group_and_macro_is_their_mean(audited: dict) -> None:
    from scipy.stats import beta

    report, frame, pred = audited["memory"], audited["frame"], audited["pred"]
    mc = report["multiclass"]
    y = frame["housing"].astype(str).to_numpy()
    for feature in FEATURES:
        for g, mask in _groups(frame, feature).items():
            rows = [mc["by_class"][c][feature]["groups"][g] for c in CLASSES]
            if rows[0]["status"] != "ok":  # under min_group_size: no rates
                assert all(r["tpr"] is None for r in rows) and mask.sum() < 30
                continue
            kw = dict(labels=CLASSES, average=None, zero_division=np.nan)
            recall = recall_score(y[mask], pred[mask], **kw)
            precision = precision_score(y[mask], pred[mask], **kw)
            for r, want_r, want_p in zip(rows, recall, precision, strict=True):
                assert r["tpr"] == pytest.approx(want_r, rel=1e-12, nan_ok=True) or (
                    r["tpr"] is None and np.isnan(want_r)
                )
                assert (r["ppv"] is None and np.isnan(want_p)) or r["ppv"] == pytest.approx(
                    want_p, rel=1e-12
                )
                # the Jeffreys interval of the class's recall (an interval exists per class)
                lo, hi = beta.ppf([0.025, 0.975], r["tp"] + 0.5, r["fn"] + 0.5)
                lo, hi = (0.0 if r["tp"] == 0 else lo), (1.0 if r["fn"] == 0 else hi)
                assert r["ci"]["tpr"] == pytest.approx([lo, hi], rel=1e-9)
            macro = mc["macro"][feature]["groups"][g]
            assert macro["tpr"] == pytest.approx(np.nanmean(recall), rel=1e-12)
            assert macro["ppv"] == pytest.approx(np.nanmean(precision), rel=1e-12)
            assert macro["tpr"] == pytest.approx(
                recall_score(
                    y[mask], pred[mask], labels=CLASSES, average="macro", zero_division=np.nan
                ),
                rel=1e-12,
            )


def test_overall_performance_is_accuracy_and_macro_scores(audited: dict) -> None:
    perf = audited["memory"]["performance"]
    y, pred = audited["frame"]["housing"].astype(str), audited["pred"]
    kw = dict(labels=CLASSES, average="macro", zero_division=np.nan)
    assert perf["average"] == "macro" and perf["n"] == 300
    assert perf["accuracy"] == pytest.approx(accuracy_score(y, pred), rel=1e-12)
    assert perf["precision"] == pytest.approx(precision_score(y, pred, **kw), rel=1e-12)
    assert perf["recall"] == pytest.approx(recall_score(y, pred, **kw), rel=1e-12)
    assert perf["f1"] == pytest.approx(f1_score(y, pred, **kw), rel=1e-12)
    for key in ("tp", "fp", "fn", "tn", "base_rate", "selection_rate", "roc_auc"):
        assert perf[key] is None
    by_class = audited["memory"]["multiclass"]["performance_by_class"]
    for c in CLASSES:
        assert by_class[c]["tp"] == int(((y == c) & (pred == c)).sum())
        assert by_class[c]["recall"] == pytest.approx(recall_score(y == c, pred == c), rel=1e-12)


def test_disparities_per_class_equal_fairlearn_and_summaries(audited: dict) -> None:
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    report, frame, pred = audited["memory"], audited["frame"], audited["pred"]
    mc = report["multiclass"]
    y = frame["housing"].astype(str).to_numpy()
    for feature in ("sex", "age_group"):  # every group has at least 30 rows
        values = {}
        for c in CLASSES:
            f = mc["by_class"][c][feature]
            dp = demographic_parity_difference(y == c, pred == c, sensitive_features=frame[feature])
            eo = equalized_odds_difference(y == c, pred == c, sensitive_features=frame[feature])
            assert f["demographic_parity_difference"] == pytest.approx(dp, abs=1e-12)
            assert f["equalized_odds_difference"] == pytest.approx(eo, abs=1e-12)
            values[c] = eo
            assert f["n_bootstrap"] == 50 and f["seed"] == mc["seeds"][c]
        dps = [mc["by_class"][c][feature]["demographic_parity_difference"] for c in CLASSES]
        summary = mc["macro"][feature]["summaries"]
        assert summary["demographic_parity_difference"] == pytest.approx(np.mean(dps), rel=1e-12)
        worst = mc["worst"][feature]["equalized_odds_difference"]
        assert worst["class"] == max(values, key=values.get)
        assert worst["value"] == pytest.approx(max(values.values()), abs=1e-12)
    assert len(set(mc["seeds"].values())) == 3  # each class its own bootstrap stream


def test_stream_report_is_byte_equal_to_memory(audited: dict) -> None:
    assert _masked(audited["stream"]) == _masked(audited["memory"])


def _shap_per_input(model: Any, X: pd.DataFrame) -> np.ndarray:
    """shap.TreeExplainer on the forest, summed back over each input's one-hot columns:
    (rows, inputs, classes)."""
    import shap

    prep, forest = model[:-1], model[-1]
    dense = np.asarray(prep.transform(X), dtype=float)
    values = np.asarray(shap.TreeExplainer(forest)(dense, check_additivity=False).values)
    names = list(prep.get_feature_names_out())
    out = np.zeros((len(X), len(X.columns), values.shape[2]))
    for j, column in enumerate(X.columns):
        owned = [i for i, n in enumerate(names) if n in (f"num__{column}",)]
        owned += [i for i, n in enumerate(names) if n.startswith(f"cat__{column}_")]
        assert owned, column
        out[:, j, :] = values[:, owned, :].sum(axis=1)
    return out


def test_shap_per_class_adds_up_and_equals_shap_tree_explainer(audited: dict) -> None:
    from audit.explain.classes import explain_classes

    model, frame = _load_model(), audited["frame"]
    X = frame[list(model.feature_names_in_)]
    explained = explain_classes(
        model, X, rows="all", proxy_model_rows=0, sensitive_features=["sex"]
    )
    assert explained.classes == tuple(CLASSES)
    reference = _shap_per_input(model, X)
    proba = model.predict_proba(X)
    for k, e in enumerate(explained.each):
        assert list(e.feature_names) == list(X.columns)
        np.testing.assert_allclose(e.attributions, reference[:, :, k], atol=1e-9)
        np.testing.assert_allclose(
            e.attributions.sum(axis=1) + e.base_value, proba[:, k], atol=1e-9
        )
    # the report: all 300 rows explained; per class mean |SHAP|, top level their mean
    ex = audited["memory"]["explanations"]
    assert ex["classes"] == CLASSES and ex["sample_size"] == 300
    mean_abs = np.abs(reference).mean(axis=0)  # (inputs, classes)
    for k, c in enumerate(CLASSES):
        got = {r["feature"]: r["mean_abs_shap"] for r in ex["by_class"][c]["global"]}
        for j, column in enumerate(X.columns):
            assert got[column] == pytest.approx(mean_abs[j, k], abs=1e-9)
        assert ex["by_class"][c]["additivity"]["max_abs_error"] < 1e-9
    top = {r["feature"]: r["mean_abs_shap"] for r in ex["global"]}
    for j, column in enumerate(X.columns):
        assert top[column] == pytest.approx(mean_abs[j].mean(), abs=1e-9)
    share = mean_abs[list(X.columns).index("sex")].mean() / mean_abs.mean(axis=1).sum()
    assert ex["sensitive_share"] == pytest.approx(share, rel=1e-9)


def test_linear_and_boosting_classes_add_up_to_their_scores() -> None:
    import shap
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from audit.explain.classes import explain_classes

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    y = np.array(["x", "y", "z"])[(X["a"] > 0).astype(int) + (X["b"] > 0.5)]
    linear = LogisticRegression(max_iter=500).fit(X, y)
    done = explain_classes(linear, X, sample_size=60, background_size=50, proxy_model_rows=0)
    rows = X.iloc[np.asarray(done.each[0].row_positions)]
    background = X.to_numpy()[np.asarray(done.each[0].background_rows)]
    masker = shap.maskers.Independent(background, max_samples=len(background))
    reference = np.asarray(shap.LinearExplainer(linear, masker).shap_values(rows.to_numpy()))
    margins = linear.decision_function(rows)
    for k, e in enumerate(done.each):
        assert e.method == "linear"
        np.testing.assert_allclose(e.attributions, reference[:, :, k], atol=1e-10)
        np.testing.assert_allclose(
            e.attributions.sum(axis=1) + e.base_value, margins[:, k], atol=1e-10
        )
    boosted = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    done = explain_classes(boosted, X, sample_size=60, proxy_model_rows=0)
    rows = X.iloc[np.asarray(done.each[0].row_positions)]
    raw = boosted.decision_function(rows)
    for k, e in enumerate(done.each):
        np.testing.assert_allclose(e.attributions.sum(axis=1) + e.base_value, raw[:, k], atol=1e-9)


def test_rules_judge_per_class_macro_and_worst(audited: dict) -> None:
    mc = audited["memory"]["multiclass"]
    rules = {r["id"]: r for r in audited["memory"]["rules"]}
    assert rules["binary-fairness"]["status"] == "skipped"
    assert "use multiclass_fairness" in rules["binary-fairness"]["message"]
    # per class: recall of free and rent is low for both sexes, so the rule fails; the finding
    # names "<class>:<feature>" and holds every class's breaches
    lowest = min(
        (g["tpr"], c, name)
        for c in CLASSES
        for name, g in mc["by_class"][c]["sex"]["groups"].items()
    )
    per_class = rules["recall-per-class"]
    assert per_class["status"] == "fail" and per_class["value"] == pytest.approx(lowest[0])
    assert per_class["feature"] == f"{lowest[1]}:sex" and per_class["group"] == lowest[2]
    breached = {(b["feature"], b["group"]) for b in per_class["breaches"]}
    want = {
        (f"{c}:sex", name)
        for c in CLASSES
        for name, g in mc["by_class"][c]["sex"]["groups"].items()
        if g["tpr"] < 0.5
    }
    assert breached == want and per_class["kind"] == "multiclass_fairness"
    own = min(g["tpr"] for g in mc["by_class"]["own"]["sex"]["groups"].values())
    assert rules["own-recall"]["status"] == "pass" and rules["own-recall"]["value"] == own
    macro = max(f["summaries"]["demographic_parity_difference"] for f in mc["macro"].values())
    assert rules["macro-dp"]["status"] == "fail" and rules["macro-dp"]["value"] == macro
    worst = max(w["equalized_odds_difference"]["value"] for w in mc["worst"].values())
    assert rules["worst-eo"]["status"] == "pass" and rules["worst-eo"]["value"] == worst
    assert rules["worst-eo"]["feature"].split(":")[0] in CLASSES
    assert rules["bound-impact"]["mode"] == "bound"
    assert rules["bound-impact"]["status"] in ("fail", "warn", "pass")


def test_rule_is_skipped_outside_a_multiclass_audit(audited: dict, tmp_path: Path) -> None:
    from audit import contract
    from audit.policy import Evidence, evaluate, load_policy

    report = contract.Report.model_validate(audited["memory"])
    (tmp_path / "p.yaml").write_text(POLICY)
    binary = Evidence(fairness={}, performance=report.performance, explanations=report.explanations)
    findings = {f.id: f for f in evaluate(load_policy(tmp_path / "p.yaml"), binary)}
    for rule in ("recall-per-class", "macro-dp", "worst-eo"):
        assert findings[rule].status == "skipped"
        assert "not multiclass" in findings[rule].message
    # the same evidence as the audit's gives the report's findings
    evidence = Evidence(
        fairness={},
        performance=report.performance,
        explanations=report.explanations,
        task="multiclass",
        multiclass=report.multiclass,
    )
    again = {f.id: f.to_json() for f in evaluate(load_policy(tmp_path / "p.yaml"), evidence)}
    for rule in audited["memory"]["rules"]:
        assert again[rule["id"]] == rule


def test_rule_kind_refuses_what_it_cannot_judge(tmp_path: Path) -> None:
    from audit.errors import InputError
    from audit.policy import load_policy

    head = POLICY.split("rules:")[0] + "rules:\n"
    bad = {
        "worst per-group": "metric: tpr\n    summary: worst",
        "macro bound": "metric: demographic_parity_difference\n    summary: macro\n    mode: bound",
        "macro classes": "metric: tpr\n    summary: macro\n    classes: [own]",
    }
    for name, body in bad.items():
        path = tmp_path / "p.yaml"
        path.write_text(
            head + f"  - id: r\n    kind: multiclass_fairness\n    {body}\n"
            '    operator: ">="\n    threshold: 0.5\n'
        )
        with pytest.raises(InputError):
            load_policy(path)
        del name


def _recorded(tmp: Path, frame: pd.DataFrame, pred: np.ndarray, **changes: Any) -> Path:
    data = frame.assign(pred=pred)
    data.to_csv(tmp / "recorded.csv", index=False)
    settings = {"model": None, "predictions": "pred", "classes": CLASSES, **changes}
    return _spec(tmp, dataset=str(tmp / "recorded.csv"), **settings)


def test_recorded_predictions_give_the_model_audits_fairness(audited: dict) -> None:
    tmp = audited["tmp"] / "recorded"
    tmp.mkdir()
    report = _run(_recorded(tmp, audited["frame"], audited["pred"]), tmp / "out")
    model_mc = audited["memory"]["multiclass"]
    assert report["multiclass"]["by_class"] == model_mc["by_class"]
    assert report["performance"] == audited["memory"]["performance"]
    assert report["explanations"]["status"] == "skipped"


def test_recorded_predictions_without_a_label_count_selections(audited: dict) -> None:
    tmp = audited["tmp"] / "nolabel"
    tmp.mkdir()
    frame = audited["frame"].drop(columns=["housing"])
    report = _run(_recorded(tmp, frame, audited["pred"], label=None), tmp / "out")
    assert report["performance"]["status"] == "not_assessable"
    pred = audited["pred"]
    for c in CLASSES:
        for g, mask in _groups(frame, "sex").items():
            group = report["multiclass"]["by_class"][c]["sex"]["groups"][g]
            assert group["selected"] == int((pred[mask] == c).sum())
            assert group["selection_rate"] == pytest.approx((pred[mask] == c).mean(), rel=1e-12)
            assert group["tpr"] is None
    rules = {r["id"]: r for r in report["rules"]}
    assert rules["recall-per-class"]["status"] == "skipped"


@pytest.mark.parametrize("where", ["predictions", "label", "no classes"])
def test_unknown_class_is_exit_2_naming_the_column(
    audited: dict, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = audited["tmp"] / where.replace(" ", "-")
    tmp.mkdir()
    frame, pred = audited["frame"].copy(), audited["pred"].astype(object)
    if where == "predictions":
        pred[4] = "castle"
        spec = _recorded(tmp, frame, pred)
    elif where == "label":
        frame.loc[7, "housing"] = "castle"
        frame.to_csv(tmp / "data.csv", index=False)
        spec = _spec(tmp, dataset=str(tmp / "data.csv"))
    else:
        spec = _recorded(tmp, frame, pred, classes=None)
    code = main(["run", str(spec), "--output", str(tmp / "out"), "--no-pdf", "--no-sign"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    if where == "no classes":
        assert "classes:" in err
    else:
        column = "pred" if where == "predictions" else "housing"
        assert f"column {column!r}" in err and "'castle'" in err
        assert "data rows 5" in err if where == "predictions" else "data rows 8" in err


def test_confusion_counts_merge_exactly_in_any_order() -> None:
    from audit.engine.multiclass import Confusion

    rng = np.random.default_rng(3)
    keys = [("a",), ("b",), ("c",)]
    parts = []
    for _ in range(4):  # each partition sees two of the keys, in its own order
        chosen = [keys[i] for i in rng.permutation(3)[:2]]
        parts.append(
            Confusion(("x", "y"), {k: rng.integers(0, 9, (2, 2, 2)) for k in chosen}, True)
        )
    one = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    two = parts[3].merge(parts[2]).merge(parts[1]).merge(parts[0])
    want: dict[Any, np.ndarray] = {}
    for p in parts:
        for k, v in p.counts.items():
            want[k] = want.get(k, 0) + v
    for merged in (one, two):
        assert set(merged.counts) == set(want)
        for k, v in want.items():
            assert np.array_equal(merged.counts[k], v)


def test_binary_reports_unchanged() -> None:
    """The goldens are byte-identical (tests/test_golden_report.py compares them); a binary
    report never writes the multiclass fields."""
    golden = json.loads((ROOT / "tests" / "golden" / "report-german.json").read_text())
    assert "multiclass" not in golden and "task" not in golden
    assert "by_class" not in golden["explanations"]


# -- a second case: adult hours_per_week in three buckets, gradient boosting -------------------

HOURS = ["35-45", "<35", ">45"]  # sorted, as the model's classes_


def _bucketed(path: Path, rows: int) -> pd.DataFrame:
    frame = pd.read_csv(path).head(rows)
    hours = frame.pop("hours_per_week")
    frame["hours"] = np.where(hours < 35, "<35", np.where(hours <= 45, "35-45", ">45"))
    return frame.drop(columns=["income"])


@pytest.fixture(scope="module")
def adult(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    tmp = tmp_path_factory.mktemp("adult")
    train = _bucketed(SAMPLES / "adult" / "adult_train.csv", 6000)
    test = _bucketed(SAMPLES / "adult" / "adult_test.csv", 3000)
    inputs = [c for c in train.columns if c != "hours"]
    text = [c for c in inputs if not pd.api.types.is_numeric_dtype(train[c])]
    encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    model = Pipeline(
        [
            ("prep", ColumnTransformer([("cat", encode, text)], remainder="passthrough")),
            ("model", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
        ]
    ).fit(train[inputs], train["hours"])
    assert list(model.classes_) == HOURS
    sio.dump(model, tmp / "hours.skops")
    train.to_csv(tmp / "train.csv", index=False)
    test.to_csv(tmp / "test.csv", index=False)
    doc = {
        "name": "adult-hours",
        "task": "multiclass",
        "model": str(tmp / "hours.skops"),
        "dataset": str(tmp / "test.csv"),
        "reference_dataset": str(tmp / "train.csv"),
        "label": "hours",
        "sensitive_features": ["sex", "race"],
        "policy": str(tmp / "policy.yaml"),
        "seed": 0,
        "explain": {"sample_size": 40, "proxy_model_rows": 0, "stability_replicas": 0},
        "fairness": {"n_bootstrap": 50},
    }
    policy = POLICY.replace("feature: sex", "feature: race")
    (tmp / "policy.yaml").write_text(policy.replace("classes: [own]", 'classes: ["35-45"]'))
    (tmp / "audit.yaml").write_text(yaml.safe_dump(doc))
    memory = _run(tmp / "audit.yaml", tmp / "m", "--engine", "memory")
    stream = _run(tmp / "audit.yaml", tmp / "s", "--engine", "stream", "--batch-rows", "997")
    pred = model.predict(test[inputs]).astype(str)
    return {"memory": memory, "stream": stream, "test": test, "pred": pred}


def test_adult_hours_confusion_stream_and_boosted_shap(adult: dict) -> None:
    report, test, pred = adult["memory"], adult["test"], adult["pred"]
    assert _masked(adult["stream"]) == _masked(report)
    mc = report["multiclass"]
    assert mc["classes"] == HOURS
    y = test["hours"].to_numpy()
    for feature in ("race", "sex&race"):
        for g, mask in _groups(test, feature).items():
            matrices = multilabel_confusion_matrix(y[mask], pred[mask], labels=HOURS)
            for c, label in enumerate(HOURS):
                group = mc["by_class"][label][feature]["groups"][g]
                assert [[group["tn"], group["fp"]], [group["fn"], group["tp"]]] == matrices[
                    c
                ].tolist()
    kw = dict(labels=HOURS, average="macro", zero_division=np.nan)
    assert report["performance"]["recall"] == pytest.approx(recall_score(y, pred, **kw))
    # boosting: each class's SHAP adds up to its raw score (decision_function[:, k])
    ex = report["explanations"]
    assert ex["classes"] == HOURS
    for label in HOURS:
        assert ex["by_class"][label]["output_space"].startswith("raw score of the class")
        assert ex["by_class"][label]["additivity"]["max_abs_error"] < 1e-6
    # prediction drift compares the predicted classes with the model's on the reference data
    assert report["drift"] is not None


def test_the_bom_carries_every_class_and_group_rate(audited: dict) -> None:
    """bom.cdx.json of a multiclass audit: valid CycloneDX 1.6, and every per-class, per-group
    rate as a slice ``class=c;feature=group`` with its interval."""
    from audit.report.formats.cyclonedx import validate_bom

    (path,) = (audited["tmp"] / "m").glob("*/v*/bom.cdx.json")
    text = path.read_text("utf-8")
    assert validate_bom(text) is None
    metrics = json.loads(text)["components"][0]["modelCard"]["quantitativeAnalysis"]
    sliced = {(m["type"], m["slice"]): m for m in metrics["performanceMetrics"] if "slice" in m}
    report = audited["memory"]
    checked = 0
    for c, by_feature in report["multiclass"]["by_class"].items():
        for feature, ff in by_feature.items():
            for group, g in ff["groups"].items():
                if g.get("tpr") is None:
                    continue
                entry = sliced[("tpr", f"class={c};{feature}={group}")]
                assert float(entry["value"]) == g["tpr"]
                checked += 1
    assert checked >= 3 * 6
