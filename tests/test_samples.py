"""The shipped sample data and models are what ``samples/manifest.json`` and the README say.

Numbers are checked against independent computations: digests with hashlib, row and label
counts against the raw files, accuracy and ROC AUC with sklearn.metrics on the shipped CSVs,
and the German model against a fresh in-process retraining.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.metrics import accuracy_score, roc_auc_score

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# Reviewed by hand: the only types in each file that skops (0.16) does not trust by default.
# Both are sklearn's own compiled tree structures. Everything else in the files (Pipeline,
# ColumnTransformer, OneHotEncoder, the estimators, numpy arrays, builtins) is on skops's
# default trusted list.
TRUSTED_TYPES: dict[str, list[str]] = {
    "adult/models/adult-gbm.skops": [
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
    ],
    "adult/models/adult-logreg.skops": [],
    "german/models/german-rf.skops": ["sklearn.tree._tree.Tree"],
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


def test_adult_models_exclude_weight_and_duplicate_columns_but_keep_sex_and_race(
    manifest: dict,
) -> None:
    for path in ("adult/models/adult-gbm.skops", "adult/models/adult-logreg.skops"):
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
