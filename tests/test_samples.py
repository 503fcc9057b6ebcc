"""The shipped sample data and models are what ``samples/manifest.json`` and the README say.

Numbers are checked against independent computations: digests with hashlib, row and label
counts against the raw files, accuracy and ROC AUC with sklearn.metrics on the shipped CSVs,
MAE/RMSE/R² and macro F1 with sklearn.metrics and by hand with numpy, the German models and
adult-logreg-nosensitive against a fresh in-process retraining, and the nosensitive model's
indifference to sex and race by swapping them on the test frame and predicting again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# Reviewed by hand: the only types in each file that skops (0.16) does not trust by default.
# Both are sklearn's own compiled tree structures (the histogram-boosting trees of
# HistGradientBoostingClassifier/Regressor, the trees of a random forest). Everything else in
# the files (Pipeline, ColumnTransformer, OneHotEncoder, StandardScaler, the estimators, numpy
# arrays, builtins) is on skops's default trusted list.
TRUSTED_TYPES: dict[str, list[str]] = {
    "adult/models/adult-gbm.skops": [
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
    ],
    "adult/models/adult-logreg.skops": [],
    "adult/models/adult-logreg-nosensitive.skops": [],
    "german/models/german-rf.skops": ["sklearn.tree._tree.Tree"],
    "german/models/german-amount-gbr.skops": [
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
    ],
    "german/models/german-housing-rf.skops": ["sklearn.tree._tree.Tree"],
}
# The digests of the models that reports' golden files depend on: regenerating the samples must
# leave these files alone.
GOLDEN_MODEL_DIGESTS: dict[str, str] = {
    "adult/models/adult-gbm.skops": (
        "6effdf90a605f2d141284ca13bba42a98973deeeac84443d0754609bd0e8f9f0"
    ),
    "adult/models/adult-logreg.skops": (
        "f73d3c696ee14083e0f7a0868843c1d984f1572dfe11ed99a4c17eb8fb6c26a8"
    ),
    "german/models/german-rf.skops": (
        "eaa07b62dbdce8a7facbf321f9631219a7810b9d89394a92792441b0222f4fae"
    ),
}
# Files under samples/ that are not data or models and so are not in the manifest.
NOT_IN_MANIFEST = {"README.md", "train.py", "manifest.json", "audit.yaml"}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def train_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("samples_train", SAMPLES / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def adult_test() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "adult" / "adult_test.csv")


@pytest.fixture(scope="module")
def german_test() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "german" / "german_test.csv")


@pytest.fixture(scope="module")
def german_train(german_test: pd.DataFrame) -> pd.DataFrame:
    """The 70 % training part, found without train.py: the raw rows not in german_test.csv."""
    raw = pd.read_csv(SAMPLES / "german" / "raw" / "german.csv")
    assert not raw.duplicated().any()
    merged = raw.merge(
        german_test.drop(columns="age_group"), how="left", indicator=True, validate="one_to_one"
    )
    train = merged[merged["_merge"] == "left_only"].drop(columns="_merge")
    assert len(train) == 700
    return train.reset_index(drop=True)


def model_record(manifest: dict, path: str) -> dict:
    (record,) = [m for m in manifest["models"] if m["path"] == path]
    return record


def raw_adult_lines(name: str) -> list[str]:
    text = (SAMPLES / "adult" / "raw" / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


# --- manifest ----------------------------------------------------------------------------------


def test_manifest_digests_and_sizes_match_the_files(manifest: dict) -> None:
    entries = manifest["data"] + manifest["models"]
    assert entries
    for entry in entries:
        data = (SAMPLES / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        assert len(data) == entry["size"], entry["path"]


def test_manifest_lists_every_shipped_data_file_and_model(manifest: dict) -> None:
    listed = {e["path"] for e in manifest["data"] + manifest["models"]}
    shipped = {
        p.relative_to(SAMPLES).as_posix()
        for p in SAMPLES.rglob("*")
        if p.is_file()
        and p.name not in NOT_IN_MANIFEST
        and p.suffix != ".yaml"  # audit specs
        and "__pycache__" not in p.parts
    }
    assert listed == shipped
    assert {m["path"] for m in manifest["models"]} == set(TRUSTED_TYPES)


# --- datasets ----------------------------------------------------------------------------------


def test_adult_test_csv_matches_the_raw_test_file(adult_test: pd.DataFrame) -> None:
    raw = raw_adult_lines("adult.test")
    assert raw[0] == "|1x3 Cross validator"
    records = raw[1:]
    assert len(adult_test) == len(records) == 16_281
    labels = [line.rsplit(",", 1)[1].strip() for line in records]
    assert adult_test["income"].value_counts().to_dict() == {
        "<=50K": labels.count("<=50K."),
        ">50K": labels.count(">50K."),
    }
    # "?" became the category "Unknown", and nothing else did.
    fields = [[f.strip() for f in line.split(",")] for line in records]
    for index, column in ((1, "workclass"), (6, "occupation"), (13, "native_country")):
        assert (adult_test[column] == "Unknown").sum() == sum(f[index] == "?" for f in fields)
    assert not adult_test.isin(["?"]).any().any()
    assert adult_test.notna().all().all()
    # First and last rows, field by field, against the raw text.
    for row, raw_fields in ((0, fields[0]), (-1, fields[-1])):
        shipped = [str(v) for v in adult_test.iloc[row]]
        assert shipped[:-1] == [f.replace("?", "Unknown") for f in raw_fields[:-1]]
        assert shipped[-1] == raw_fields[-1].removesuffix(".")


def test_adult_test_csv_types(adult_test: pd.DataFrame) -> None:
    numeric = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
    for column in numeric:
        assert adult_test[column].dtype == np.int64, column
    for column in set(adult_test.columns) - set(numeric):
        assert all(isinstance(v, str) and v == v.strip() for v in adult_test[column]), column


def test_german_test_split(german_test: pd.DataFrame) -> None:
    raw = pd.read_csv(SAMPLES / "german" / "raw" / "german.csv")
    assert len(german_test) == 300
    assert set(german_test["risk"]) == {0, 1}
    # Stratified: the good/bad ratio of the 30 % matches the whole file (700/300 -> 210/90).
    assert german_test["risk"].value_counts().to_dict() == {1: 210, 0: 90}
    assert set(raw["risk"]) == {0, 1}
    # Every test row is a raw row, unchanged, and no raw row appears twice.
    original = german_test.drop(columns="age_group")
    assert list(original.columns) == list(raw.columns)
    merged = original.merge(raw.drop_duplicates(), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    expected_group = np.where(german_test["age"] < 25, "under 25", "25 and over")
    assert list(german_test["age_group"]) == list(expected_group)


# --- models ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(TRUSTED_TYPES))
def test_model_is_skops_and_untrusted_types_are_the_reviewed_ones(
    path: str, manifest: dict
) -> None:
    file = SAMPLES / path
    with zipfile.ZipFile(file) as archive:
        assert "schema.json" in archive.namelist()
    assert sorted(sio.get_untrusted_types(file=file)) == TRUSTED_TYPES[path]
    assert model_record(manifest, path)["skops_untrusted_types"] == TRUSTED_TYPES[path]
    assert model_record(manifest, path)["format"] == "skops"
    if TRUSTED_TYPES[path]:
        with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
            sio.load(file, trusted=[])
    assert file.stat().st_size < 3_000_000


@pytest.mark.parametrize(
    ("path", "dataset", "classes", "positive"),
    [
        ("adult/models/adult-gbm.skops", "adult", ["<=50K", ">50K"], ">50K"),
        ("adult/models/adult-logreg.skops", "adult", ["<=50K", ">50K"], ">50K"),
        ("adult/models/adult-logreg-nosensitive.skops", "adult", ["<=50K", ">50K"], ">50K"),
        ("german/models/german-rf.skops", "german", [0, 1], 1),
    ],
)
def test_model_metrics_on_shipped_test_csv_match_manifest(
    path: str,
    dataset: str,
    classes: list,
    positive: object,
    manifest: dict,
    adult_test: pd.DataFrame,
    german_test: pd.DataFrame,
) -> None:
    record = model_record(manifest, path)
    frame = adult_test if dataset == "adult" else german_test
    model = sio.load(SAMPLES / path, trusted=TRUSTED_TYPES[path])
    assert list(model.classes_) == classes == record["classes"]
    assert record["positive_class"] == positive
    features, labels = frame[record["features"]], frame[record["label"]]
    accuracy = accuracy_score(labels, model.predict(features))
    scores = model.predict_proba(features)[:, classes.index(positive)]
    auc = roc_auc_score(labels == positive, scores)
    test_metrics = record["metrics"]["test"]
    assert test_metrics["rows"] == len(frame)
    assert accuracy == pytest.approx(test_metrics["accuracy"], abs=1e-12)
    assert auc == pytest.approx(test_metrics["roc_auc"], abs=1e-12)
    if path == "adult/models/adult-gbm.skops":
        assert 0.86 <= accuracy <= 0.89


def test_existing_models_keep_their_digests(manifest: dict) -> None:
    for path, digest in GOLDEN_MODEL_DIGESTS.items():
        assert hashlib.sha256((SAMPLES / path).read_bytes()).hexdigest() == digest, path
        assert model_record(manifest, path)["sha256"] == digest, path


def test_manifest_records_each_models_task(manifest: dict) -> None:
    tasks = {m["path"]: m["task"] for m in manifest["models"]}
    assert tasks == {
        "adult/models/adult-gbm.skops": "binary",
        "adult/models/adult-logreg.skops": "binary",
        "adult/models/adult-logreg-nosensitive.skops": "binary",
        "german/models/german-rf.skops": "binary",
        "german/models/german-amount-gbr.skops": "regression",
        "german/models/german-housing-rf.skops": "multiclass",
    }
    for record in manifest["models"]:
        assert ("classes" in record) == (record["task"] != "regression"), record["path"]
        assert ("positive_class" in record) == (record["task"] == "binary"), record["path"]


def regression_metrics_by_hand(y: np.ndarray, predicted: np.ndarray) -> dict:
    error = y - predicted
    return {
        "mae": np.mean(np.abs(error)),
        "rmse": np.sqrt(np.mean(error**2)),
        "r2": 1 - np.sum(error**2) / np.sum((y - y.mean()) ** 2),
    }


def test_regression_model_metrics_match_manifest(
    manifest: dict, german_train: pd.DataFrame, german_test: pd.DataFrame
) -> None:
    path = "german/models/german-amount-gbr.skops"
    record = model_record(manifest, path)
    assert record["label"] == "credit_amount"
    assert "credit_amount" not in record["features"]
    assert record["final_estimator"].endswith(".HistGradientBoostingRegressor")
    model = sio.load(SAMPLES / path, trusted=TRUSTED_TYPES[path])
    assert not hasattr(model, "classes_")
    assert list(model.feature_names_in_) == record["features"]
    for split, frame in (("train", german_train), ("test", german_test)):
        y = frame["credit_amount"].to_numpy(dtype=float)
        predicted = model.predict(frame[record["features"]])
        recorded = record["metrics"][split]
        assert recorded["rows"] == len(frame)
        assert recorded["mae"] == pytest.approx(mean_absolute_error(y, predicted), rel=1e-12)
        assert recorded["rmse"] == pytest.approx(root_mean_squared_error(y, predicted), rel=1e-12)
        assert recorded["r2"] == pytest.approx(r2_score(y, predicted), rel=1e-12)
        for name, value in regression_metrics_by_hand(y, predicted).items():
            assert recorded[name] == pytest.approx(value, rel=1e-9), (split, name)
    # a model that learned something: better than predicting the mean on held-out rows
    assert 0 < record["metrics"]["test"]["r2"] < record["metrics"]["train"]["r2"]


def test_multiclass_model_metrics_match_manifest(
    manifest: dict, german_train: pd.DataFrame, german_test: pd.DataFrame
) -> None:
    path = "german/models/german-housing-rf.skops"
    record = model_record(manifest, path)
    assert record["label"] == "housing"
    assert "housing" not in record["features"]
    classes = ["free", "own", "rent"]
    model = sio.load(SAMPLES / path, trusted=TRUSTED_TYPES[path])
    assert list(model.classes_) == classes == record["classes"]
    assert list(model.feature_names_in_) == record["features"]
    for split, frame in (("train", german_train), ("test", german_test)):
        labels = frame["housing"].to_numpy()
        predicted = model.predict(frame[record["features"]])
        recorded = record["metrics"][split]
        assert recorded["rows"] == len(frame)
        assert recorded["accuracy"] == pytest.approx(accuracy_score(labels, predicted), abs=1e-12)
        assert recorded["accuracy"] == pytest.approx(np.mean(labels == predicted), abs=1e-12)
        macro = f1_score(labels, predicted, average="macro")
        assert recorded["macro_f1"] == pytest.approx(macro, abs=1e-12)
        per_class = []
        for c in classes:
            tp = np.sum((predicted == c) & (labels == c))
            fp = np.sum((predicted == c) & (labels != c))
            fn = np.sum((predicted != c) & (labels == c))
            per_class.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        assert recorded["macro_f1"] == pytest.approx(np.mean(per_class), abs=1e-12)


def test_adult_models_exclude_weight_and_duplicate_columns_but_keep_sex_and_race(
    manifest: dict,
) -> None:
    for path in (
        "adult/models/adult-gbm.skops",
        "adult/models/adult-logreg.skops",
        "adult/models/adult-logreg-nosensitive.skops",
    ):
        features = model_record(manifest, path)["features"]
        model = sio.load(SAMPLES / path, trusted=TRUSTED_TYPES[path])
        assert list(model.feature_names_in_) == features
        assert not {"fnlwgt", "education", "income"} & set(features)
        assert {"sex", "race"} <= set(features)


def test_german_retraining_reproduces_the_shipped_model(
    train_module: ModuleType, german_test: pd.DataFrame
) -> None:
    raw = train_module.read_german(SAMPLES / "german" / "raw" / "german.csv")
    train, test = train_module.split_german(raw)
    pd.testing.assert_frame_equal(
        test.reset_index(drop=True), german_test.drop(columns="age_group"), check_dtype=False
    )
    retrained = train_module.train_german(train)
    shipped = sio.load(
        SAMPLES / "german" / "models" / "german-rf.skops",
        trusted=TRUSTED_TYPES["german/models/german-rf.skops"],
    )
    features = german_test[list(train_module.GERMAN_FEATURES)]
    assert "age_group" not in features.columns
    np.testing.assert_array_equal(retrained.predict(features), shipped.predict(features))
    np.testing.assert_array_equal(
        retrained.predict_proba(features), shipped.predict_proba(features)
    )


@pytest.mark.parametrize(
    ("path", "trainer", "features"),
    [
        ("german/models/german-amount-gbr.skops", "train_german_amount", "GERMAN_AMOUNT_FEATURES"),
        (
            "german/models/german-housing-rf.skops",
            "train_german_housing",
            "GERMAN_HOUSING_FEATURES",
        ),
    ],
)
def test_german_retraining_reproduces_the_new_models(
    path: str,
    trainer: str,
    features: str,
    train_module: ModuleType,
    manifest: dict,
    german_test: pd.DataFrame,
) -> None:
    raw = train_module.read_german(SAMPLES / "german" / "raw" / "german.csv")
    train, _ = train_module.split_german(raw)
    retrained = getattr(train_module, trainer)(train)
    assert list(getattr(train_module, features)) == model_record(manifest, path)["features"]
    shipped = sio.load(SAMPLES / path, trusted=TRUSTED_TYPES[path])
    frame = german_test[model_record(manifest, path)["features"]]
    np.testing.assert_array_equal(retrained.predict(frame), shipped.predict(frame))
    if hasattr(shipped, "predict_proba"):
        np.testing.assert_array_equal(retrained.predict_proba(frame), shipped.predict_proba(frame))


NOSENSITIVE = "adult/models/adult-logreg-nosensitive.skops"


@pytest.fixture(scope="module")
def nosensitive() -> Any:
    return sio.load(SAMPLES / NOSENSITIVE, trusted=TRUSTED_TYPES[NOSENSITIVE])


def test_nosensitive_model_takes_sex_and_race_but_never_reads_them(
    manifest: dict, nosensitive: Any
) -> None:
    record = model_record(manifest, NOSENSITIVE)
    assert record["unused_features"] == ["sex", "race"]
    assert {"sex", "race"} <= set(nosensitive.feature_names_in_)
    preprocess = nosensitive[0]
    assert preprocess.remainder == "drop"
    used = {c for _, step, cols in preprocess.transformers_ if step != "drop" for c in cols}
    assert used == set(record["features"]) - {"sex", "race"}
    logreg = sio.load(SAMPLES / "adult/models/adult-logreg.skops", trusted=[])
    # otherwise the same model: one coefficient per one-hot column, none for sex or race
    names = list(preprocess.get_feature_names_out())
    assert not [n for n in names if n.startswith(("cat__sex_", "cat__race_"))]
    assert len(names) == len(logreg[0].get_feature_names_out()) - 2 - 5


def test_nosensitive_decisions_do_not_change_when_sex_or_race_is_swapped(
    adult_test: pd.DataFrame, manifest: dict, nosensitive: Any
) -> None:
    features = model_record(manifest, NOSENSITIVE)["features"]
    frame = adult_test[features]
    assert set(frame["sex"]) == {"Male", "Female"}
    swapped_sex = frame.assign(sex=frame["sex"].map({"Male": "Female", "Female": "Male"}))
    assert (swapped_sex["sex"] != frame["sex"]).all()
    variants = [swapped_sex]
    races = sorted(set(frame["race"]))
    assert len(races) == 5
    for shift in range(1, len(races)):  # every row gets each other race in turn
        other = {r: races[(i + shift) % len(races)] for i, r in enumerate(races)}
        variants.append(frame.assign(race=frame["race"].map(other)))
    variants.append(swapped_sex.assign(race="Other"))
    decisions = nosensitive.predict(frame)
    proba = nosensitive.predict_proba(frame)
    for variant in variants:
        np.testing.assert_array_equal(nosensitive.predict(variant), decisions)
        np.testing.assert_array_equal(nosensitive.predict_proba(variant), proba)
    # The same swap does move adult-logreg, which reads sex: the check above can fail.
    logreg = sio.load(SAMPLES / "adult/models/adult-logreg.skops", trusted=[])
    flips = logreg.predict(swapped_sex) != logreg.predict(frame)
    assert flips.mean() > 0.05


def test_nosensitive_retraining_reproduces_the_shipped_model(
    train_module: ModuleType, adult_test: pd.DataFrame, nosensitive: Any
) -> None:
    train = train_module.read_adult(SAMPLES / "adult" / "raw" / "adult.data", skip_first_line=False)
    retrained = train_module.train_adult("adult-logreg-nosensitive", train)
    frame = adult_test[list(train_module.ADULT_FEATURES)]
    np.testing.assert_array_equal(retrained.predict(frame), nosensitive.predict(frame))
    # lbfgs sums in the BLAS's order, which changes with its build and thread count: the
    # probabilities agree to about 1e-7 across machines, not bit for bit (the forests do)
    np.testing.assert_allclose(
        retrained.predict_proba(frame), nosensitive.predict_proba(frame), rtol=1e-5, atol=1e-6
    )


def test_save_model_keeps_an_unchanged_file_and_replaces_a_changed_one(
    train_module: ModuleType, tmp_path: Path
) -> None:
    raw = train_module.read_german(SAMPLES / "german" / "raw" / "german.csv")
    train, _ = train_module.split_german(raw)
    probe = raw[list(train_module.GERMAN_FEATURES)]
    target = tmp_path / "german-rf.skops"
    shipped = (SAMPLES / "german" / "models" / "german-rf.skops").read_bytes()
    target.write_bytes(shipped)
    retrained = train_module.train_german(train)
    # a fresh dump of the same model has other bytes: keeping the file is a decision, not luck
    assert sio.dumps(retrained, compression=zipfile.ZIP_DEFLATED) != shipped
    untrusted = train_module.save_model(retrained, target, probe)
    assert untrusted == TRUSTED_TYPES["german/models/german-rf.skops"]
    assert target.read_bytes() == shipped
    # another seed is another forest: the file is replaced by the fresh model
    other = train_module.german_rf_pipeline().set_params(model__random_state=1)
    other.fit(train[list(train_module.GERMAN_FEATURES)], train["risk"])
    train_module.save_model(other, target, probe)
    assert target.read_bytes() != shipped
    written = sio.load(target, trusted=untrusted)
    np.testing.assert_array_equal(written.predict_proba(probe), other.predict_proba(probe))
    # a file that does not load (here: not a zip) is replaced too
    target.write_bytes(b"not a model")
    train_module.save_model(retrained, target, probe)
    np.testing.assert_array_equal(
        sio.load(target, trusted=untrusted).predict_proba(probe), retrained.predict_proba(probe)
    )
