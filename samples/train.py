"""Regenerate the sample audit datasets, models and manifest shipped under ``samples/``.

Run from the repository root (no network needed, about 40 seconds on two cores)::

    python samples/train.py

Inputs are the verbatim raw files under ``samples/adult/raw/`` and ``samples/german/raw/``;
``samples/README.md`` says where they come from, under which licence, and exactly what this
script does to them. Outputs:

- ``adult/adult_test.csv``: the prepared UCI Adult test split (16,281 rows), the audit dataset.
- ``adult/adult_train.csv``: the prepared training split (32,561 rows), the drift reference.
- ``adult/models/adult-gbm.skops``, ``adult/models/adult-logreg.skops``: scikit-learn pipelines
  trained on the prepared UCI Adult training split (32,561 rows), string labels.
- ``adult/models/adult-logreg-nosensitive.skops``: adult-logreg's pipeline that takes the same
  input columns but never reads ``sex`` or ``race`` (for counterfactual flip tests).
- ``german/german_test.csv``: a stratified 30 % hold-out of German credit (300 rows) plus the
  derived column ``age_group``.
- ``german/models/german-rf.skops``: a random forest pipeline trained on the other 70 % (binary:
  ``risk``).
- ``german/models/german-amount-gbr.skops``: a gradient-boosted regressor of ``credit_amount``
  and ``german/models/german-housing-rf.skops``, a random forest for ``housing`` (free / own /
  rent), both trained on the same 70 %.
- ``manifest.json``: sha256 and size of every shipped data file and model, and for each model its
  format, task, estimator, library versions, features, label and the metrics measured here.

Everything is seeded, so the CSV files are byte-identical on every run and the models make
identical predictions. The ``.skops`` bytes themselves would differ between runs (zip
timestamps and member names derived from object ids), so an existing model file is kept when it
loads and predicts identically to the freshly trained model (``save_model``): re-running the
script leaves unchanged models, and their digests in the manifest, alone.

Models are written only with skops (``skops.io.dumps``): pickle and joblib files are code, and
the audit tool refuses to load them by default.
"""

from __future__ import annotations

import hashlib
import json
import platform
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops
import skops.io as sio
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

SAMPLES_DIR = Path(__file__).resolve().parent
SEED = 0

# --- UCI Adult ---------------------------------------------------------------------------------

ADULT_COLUMNS: tuple[str, ...] = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)
ADULT_NUMERIC: tuple[str, ...] = (
    "age",
    "fnlwgt",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
)
ADULT_LABEL = "income"
ADULT_CLASSES: tuple[str, str] = ("<=50K", ">50K")
ADULT_POSITIVE = ">50K"
# fnlwgt is a census sampling weight, not an attribute of the person; education is the same
# information as education_num. sex and race stay in on purpose: the sample shows what an
# audit catches.
ADULT_EXCLUDED: tuple[str, ...] = ("fnlwgt", "education", ADULT_LABEL)
ADULT_FEATURES: tuple[str, ...] = tuple(c for c in ADULT_COLUMNS if c not in ADULT_EXCLUDED)
ADULT_NUMERIC_FEATURES: tuple[str, ...] = tuple(c for c in ADULT_FEATURES if c in ADULT_NUMERIC)
ADULT_CATEGORICAL_FEATURES: tuple[str, ...] = tuple(
    c for c in ADULT_FEATURES if c not in ADULT_NUMERIC
)
# The raw files mark a missing categorical value with "?". It becomes an explicit category so
# that "not recorded" is visible as its own group in the audit rather than silently dropped.
ADULT_MISSING_RAW = "?"
ADULT_MISSING = "Unknown"
# adult-logreg-nosensitive takes the same input columns but never reads these.
ADULT_SENSITIVE: tuple[str, ...] = ("sex", "race")


def read_adult(path: Path, *, skip_first_line: bool) -> pd.DataFrame:
    """Parse one raw UCI Adult file (``adult.data`` or ``adult.test``) into a typed frame.

    The raw files have no header and separate fields with ", ". ``adult.test`` starts with a
    junk line ("|1x3 Cross validator") and ends every label with "." (">50K."): the line is
    skipped and the dot removed, so labels are exactly ">50K" / "<=50K" in both splits.
    Surrounding whitespace is stripped from every field, "?" becomes "Unknown", numeric columns
    are int64 and the others strings.
    """
    raw = pd.read_csv(
        path,
        header=None,
        names=list(ADULT_COLUMNS),
        sep=",",
        skiprows=1 if skip_first_line else 0,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=True,
    )
    frame = pd.DataFrame(index=raw.index)
    for column in ADULT_COLUMNS:
        values = raw[column].str.strip()
        if column in ADULT_NUMERIC:
            frame[column] = values.astype("int64")
        else:
            frame[column] = values.replace(ADULT_MISSING_RAW, ADULT_MISSING).astype(str)
    frame[ADULT_LABEL] = frame[ADULT_LABEL].str.removesuffix(".")
    unexpected = set(frame[ADULT_LABEL]) - set(ADULT_CLASSES)
    if unexpected:
        raise ValueError(f"{path}: unexpected {ADULT_LABEL} values {sorted(unexpected)}")
    return frame


def adult_gbm_pipeline() -> Pipeline:
    """One-hot encoded categoricals plus raw numerics into a histogram gradient-boosted model.

    Early stopping is off so that the number of trees (and the model) does not depend on a
    random validation split; 200 iterations reach about 0.87 test accuracy.
    """
    preprocess = ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(ADULT_CATEGORICAL_FEATURES),
            ),
            ("num", "passthrough", list(ADULT_NUMERIC_FEATURES)),
        ]
    )
    model = HistGradientBoostingClassifier(
        random_state=SEED, max_iter=200, learning_rate=0.1, early_stopping=False
    )
    return Pipeline([("preprocess", preprocess), ("model", model)])


def adult_logreg_pipeline() -> Pipeline:
    """One-hot encoded categoricals plus standardised numerics into a logistic regression."""
    preprocess = ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(ADULT_CATEGORICAL_FEATURES),
            ),
            ("num", StandardScaler(), list(ADULT_NUMERIC_FEATURES)),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("model", LogisticRegression(max_iter=2000))])


def adult_logreg_nosensitive_pipeline() -> Pipeline:
    """adult-logreg's pipeline with ``sex`` and ``race`` left out of the encoder's columns.

    The ColumnTransformer (``remainder="drop"``) selects only the other columns, so the model
    still takes the full input frame (``feature_names_in_`` lists ``sex`` and ``race``, and a
    counterfactual audit can swap them on the input) but no decision can depend on them: the
    flip rate under any swap of sex or race is exactly 0.
    """
    categorical = [c for c in ADULT_CATEGORICAL_FEATURES if c not in ADULT_SENSITIVE]
    preprocess = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
            ("num", StandardScaler(), list(ADULT_NUMERIC_FEATURES)),
        ],
        remainder="drop",
    )
    return Pipeline([("preprocess", preprocess), ("model", LogisticRegression(max_iter=2000))])


ADULT_MODELS: dict[str, Callable[[], Pipeline]] = {
    "adult-gbm": adult_gbm_pipeline,
    "adult-logreg": adult_logreg_pipeline,
    "adult-logreg-nosensitive": adult_logreg_nosensitive_pipeline,
}


def train_adult(name: str, train: pd.DataFrame) -> Pipeline:
    """Fit the Adult model ``name`` (a key of ADULT_MODELS) on ``train``: every model takes the
    same input columns, ADULT_FEATURES, and the string label ``income``."""
    model = ADULT_MODELS[name]()
    model.fit(train[list(ADULT_FEATURES)], train[ADULT_LABEL])
    if tuple(model.classes_) != ADULT_CLASSES:
        raise ValueError(f"{name}: classes {model.classes_} != {ADULT_CLASSES}")
    return model


# --- German credit -----------------------------------------------------------------------------

GERMAN_LABEL = "risk"
GERMAN_CLASSES: tuple[int, int] = (0, 1)
GERMAN_POSITIVE = 1  # good credit
# job is an integer code (0 unskilled non-resident ... 3 highly skilled), not a quantity.
GERMAN_CATEGORICAL_FEATURES: tuple[str, ...] = (
    "sex",
    "job",
    "housing",
    "saving_accounts",
    "checking_account",
    "purpose",
)
GERMAN_NUMERIC_FEATURES: tuple[str, ...] = ("credit_amount", "duration", "age")
GERMAN_FEATURES: tuple[str, ...] = (
    "sex",
    "job",
    "housing",
    "saving_accounts",
    "checking_account",
    "credit_amount",
    "duration",
    "purpose",
    "age",
)
GERMAN_TEST_SIZE = 0.3
GERMAN_AGE_GROUP = "age_group"
GERMAN_AGE_CUTOFF = 25


def read_german(path: Path) -> pd.DataFrame:
    """Read the cleaned German credit CSV with explicit dtypes (codes and amounts as int64)."""
    dtypes = {c: "int64" for c in (GERMAN_LABEL, "job", *GERMAN_NUMERIC_FEATURES)}
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False)
    for column in frame.columns:
        if column not in dtypes:
            frame[column] = frame[column].astype(str)
    return frame


def add_age_group(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with ``age_group`` = "under 25" if age < 25 else "25 and over".

    A coarse sensitive attribute for group fairness metrics; the model does not use it.
    """
    out = frame.copy()
    out[GERMAN_AGE_GROUP] = np.where(
        out["age"] < GERMAN_AGE_CUTOFF,
        f"under {GERMAN_AGE_CUTOFF}",
        f"{GERMAN_AGE_CUTOFF} and over",
    )
    out[GERMAN_AGE_GROUP] = out[GERMAN_AGE_GROUP].astype(str)
    return out


def split_german(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified (on ``risk``) 70/30 train/test split with seed 0; rows keep the file order."""
    train, test = train_test_split(
        frame, test_size=GERMAN_TEST_SIZE, stratify=frame[GERMAN_LABEL], random_state=SEED
    )
    return train.sort_index(), test.sort_index()


def german_rf_pipeline() -> Pipeline:
    """One-hot encoded categoricals plus raw numerics into a shallow random forest."""
    preprocess = ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(GERMAN_CATEGORICAL_FEATURES),
            ),
            ("num", "passthrough", list(GERMAN_NUMERIC_FEATURES)),
        ]
    )
    model = RandomForestClassifier(n_estimators=100, max_depth=6, random_state=SEED)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def train_german(train: pd.DataFrame) -> Pipeline:
    """Fit the German credit random forest on ``train`` (label ``risk``, 1 = good credit)."""
    model = german_rf_pipeline()
    model.fit(train[list(GERMAN_FEATURES)], train[GERMAN_LABEL])
    return model


# Two more tasks on the same rows and the same 70 % split: a column of the data becomes the label
# and leaves the features. risk is not a feature of either (as for german-rf).
GERMAN_AMOUNT_LABEL = "credit_amount"  # regression target, in Deutsche Mark
GERMAN_AMOUNT_FEATURES: tuple[str, ...] = tuple(
    c for c in GERMAN_FEATURES if c != GERMAN_AMOUNT_LABEL
)
GERMAN_HOUSING_LABEL = "housing"  # multiclass label
GERMAN_HOUSING_CLASSES: tuple[str, ...] = ("free", "own", "rent")
GERMAN_HOUSING_FEATURES: tuple[str, ...] = tuple(
    c for c in GERMAN_FEATURES if c != GERMAN_HOUSING_LABEL
)


def german_preprocess(features: tuple[str, ...]) -> ColumnTransformer:
    """german-rf's preprocessing restricted to ``features``: one-hot encoded categoricals
    (``job`` included, an integer code) and numerics passed through."""
    return ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                [c for c in GERMAN_CATEGORICAL_FEATURES if c in features],
            ),
            ("num", "passthrough", [c for c in GERMAN_NUMERIC_FEATURES if c in features]),
        ]
    )


def train_german_amount(train: pd.DataFrame) -> Pipeline:
    """Fit the credit amount regressor on ``train``: HistGradientBoostingRegressor with its
    defaults (squared error; early stopping is "auto", which is off below 10,000 rows)."""
    model = Pipeline(
        [
            ("preprocess", german_preprocess(GERMAN_AMOUNT_FEATURES)),
            ("model", HistGradientBoostingRegressor(random_state=SEED)),
        ]
    )
    model.fit(train[list(GERMAN_AMOUNT_FEATURES)], train[GERMAN_AMOUNT_LABEL])
    return model


def train_german_housing(train: pd.DataFrame) -> Pipeline:
    """Fit the housing (own / rent / free) random forest on ``train``, forest defaults."""
    model = Pipeline(
        [
            ("preprocess", german_preprocess(GERMAN_HOUSING_FEATURES)),
            ("model", RandomForestClassifier(random_state=SEED)),
        ]
    )
    model.fit(train[list(GERMAN_HOUSING_FEATURES)], train[GERMAN_HOUSING_LABEL])
    if tuple(model.classes_) != GERMAN_HOUSING_CLASSES:
        raise ValueError(f"german-housing-rf: classes {model.classes_}")
    return model


# --- Evaluation, artifacts and manifest --------------------------------------------------------


def measure(model: Pipeline, features: pd.DataFrame, labels: pd.Series, positive: Any) -> dict:
    """Accuracy and ROC AUC of a binary classifier on one split.

    accuracy = (number of rows with predicted label == true label) / rows;
    roc_auc = area under the ROC curve of P(positive class) against (label == positive).
    """
    classes = list(model.classes_)
    scores = model.predict_proba(features)[:, classes.index(positive)]
    return {
        "rows": len(labels),
        "accuracy": float(accuracy_score(labels, model.predict(features))),
        "roc_auc": float(roc_auc_score(labels == positive, scores)),
    }


def measure_regression(model: Pipeline, features: pd.DataFrame, target: pd.Series) -> dict:
    """MAE, RMSE and R² of a regressor's predictions ŷ on one split.

    mae = mean |y - ŷ|; rmse = sqrt(mean (y - ŷ)²); r2 = 1 - Σ(y - ŷ)² / Σ(y - mean y)².
    """
    predicted = model.predict(features)
    return {
        "rows": len(target),
        "mae": float(mean_absolute_error(target, predicted)),
        "rmse": float(root_mean_squared_error(target, predicted)),
        "r2": float(r2_score(target, predicted)),
    }


def measure_multiclass(model: Pipeline, features: pd.DataFrame, labels: pd.Series) -> dict:
    """Accuracy and macro F1 of a multiclass classifier on one split.

    accuracy = share of rows with predicted == true label; macro_f1 = unweighted mean over the
    classes of F1_c = 2·P_c·R_c / (P_c + R_c), each class taken one-vs-rest.
    """
    predicted = model.predict(features)
    return {
        "rows": len(labels),
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, average="macro")),
    }


def sha256_of(path: Path) -> str:
    """Hex sha256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path: Path, samples_dir: Path) -> dict:
    """Manifest record of one shipped file: path relative to ``samples/``, sha256, size."""
    return {
        "path": path.relative_to(samples_dir).as_posix(),
        "sha256": sha256_of(path),
        "size": path.stat().st_size,
    }


def qualified_name(obj: Any) -> str:
    """Fully qualified class name, as skops records it (``module.Class``)."""
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _plain(value: Any) -> Any:
    """``value`` with every estimator in it replaced by its class name, so that two parameter
    sets compare with ``==`` (estimators themselves compare by identity)."""
    if isinstance(value, BaseEstimator):
        return qualified_name(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def same_model(existing: Any, fresh: Pipeline, probe: pd.DataFrame) -> bool:
    """True when ``existing`` is the same kind of model as ``fresh`` and behaves identically.

    Same class, same parameters (deep, estimators by class), same ``feature_names_in_`` and
    ``classes_``, and bit-identical ``predict`` (and ``predict_proba`` where there is one) on
    every row of ``probe``: the training and test rows together.
    """
    if type(existing) is not type(fresh):
        return False
    if _plain(existing.get_params(deep=True)) != _plain(fresh.get_params(deep=True)):
        return False
    for attribute in ("feature_names_in_", "classes_"):
        if hasattr(fresh, attribute) != hasattr(existing, attribute):
            return False
        if hasattr(fresh, attribute) and not np.array_equal(
            getattr(existing, attribute), getattr(fresh, attribute)
        ):
            return False
    methods = ["predict"] + (["predict_proba"] if hasattr(fresh, "predict_proba") else [])
    return all(
        np.array_equal(getattr(existing, m)(probe), getattr(fresh, m)(probe)) for m in methods
    )


def save_model(model: Pipeline, path: Path, probe: pd.DataFrame) -> list[str]:
    """Write ``model`` with skops (deflate-compressed) unless ``path`` already holds the same model.

    skops output is not byte-reproducible (zip timestamps, array members named after object
    ids), so rewriting an unchanged model would change its digest, and with it every report
    and golden file that records that digest. The file already there is therefore kept when it
    loads with no more than the fresh model's untrusted types and ``same_model`` holds on
    ``probe``; otherwise (missing, unloadable, or a different model) it is replaced.

    Returns the type names skops does not trust by default (``get_untrusted_types``) in the
    fresh model: the list a reviewer must approve before ``skops.io.load(path, trusted=...)``
    will load the file. The fresh bytes are loaded back before anything is written.
    """
    data = sio.dumps(model, compression=zipfile.ZIP_DEFLATED)
    untrusted = sorted(sio.get_untrusted_types(data=data))
    sio.loads(data, trusted=untrusted)
    if path.exists():
        try:
            existing = sio.load(path, trusted=untrusted)
        # Whatever stops the old file from loading (other untrusted types, a broken zip, an
        # object skops cannot rebuild) means only that it is not the same model: replace it.
        except Exception:  # noqa: BLE001
            existing = None
        if existing is not None and same_model(existing, model, probe):
            return untrusted
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return untrusted


def model_entry(
    model: Pipeline,
    path: Path,
    samples_dir: Path,
    *,
    task: str,
    untrusted_types: list[str],
    dataset: Path,
    features: tuple[str, ...],
    label: str,
    positive: Any,
    metrics: dict[str, dict],
    unused_features: tuple[str, ...] = (),
) -> dict:
    """Manifest record of one shipped model.

    ``task`` is "binary", "multiclass" or "regression": a regressor has no ``classes`` and only
    a binary model has a ``positive_class``. ``features`` are the input columns the model takes
    (its ``feature_names_in_``); ``unused_features``, when given, are inputs it never reads.
    """
    record = {
        **file_entry(path, samples_dir),
        "format": "skops",
        "task": task,
        "estimator": qualified_name(model),
        "final_estimator": qualified_name(model[-1]),
        "sklearn_version": sklearn.__version__,
        "skops_version": skops.__version__,
        "skops_untrusted_types": untrusted_types,
        "test_dataset": dataset.relative_to(samples_dir).as_posix(),
        "features": list(features),
    }
    if unused_features:
        record["unused_features"] = list(unused_features)
    record["label"] = label
    if task != "regression":
        record["classes"] = [c.item() if hasattr(c, "item") else c for c in model.classes_]
    if task == "binary":
        record["positive_class"] = positive
    record["metrics"] = metrics
    return record


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a prepared dataset as UTF-8 CSV with a header, no index, "\\n" line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def build_adult(samples_dir: Path) -> tuple[list[Path], list[dict]]:
    """Prepare Adult, train the Adult models; return data files written and model records."""
    raw_dir = samples_dir / "adult" / "raw"
    train = read_adult(raw_dir / "adult.data", skip_first_line=False)
    test = read_adult(raw_dir / "adult.test", skip_first_line=True)
    test_csv = samples_dir / "adult" / "adult_test.csv"
    write_csv(test, test_csv)
    # the training split, prepared the same way: the reference data for drift checks
    train_csv = samples_dir / "adult" / "adult_train.csv"
    write_csv(train, train_csv)

    x_train, y_train = train[list(ADULT_FEATURES)], train[ADULT_LABEL]
    x_test, y_test = test[list(ADULT_FEATURES)], test[ADULT_LABEL]
    probe = pd.concat([x_train, x_test], ignore_index=True)
    records = []
    for name in ADULT_MODELS:
        pipeline = train_adult(name, train)
        metrics = {
            "train": measure(pipeline, x_train, y_train, ADULT_POSITIVE),
            "test": measure(pipeline, x_test, y_test, ADULT_POSITIVE),
        }
        path = samples_dir / "adult" / "models" / f"{name}.skops"
        untrusted = save_model(pipeline, path, probe)
        records.append(
            model_entry(
                pipeline,
                path,
                samples_dir,
                task="binary",
                untrusted_types=untrusted,
                dataset=test_csv,
                features=ADULT_FEATURES,
                label=ADULT_LABEL,
                positive=ADULT_POSITIVE,
                metrics=metrics,
                unused_features=ADULT_SENSITIVE if name == "adult-logreg-nosensitive" else (),
            )
        )
    return [test_csv, train_csv], records


def build_german(samples_dir: Path) -> tuple[list[Path], list[dict]]:
    """Split German credit, train its three models; return data files written and records."""
    frame = read_german(samples_dir / "german" / "raw" / "german.csv")
    train, test = split_german(frame)
    test_csv = samples_dir / "german" / "german_test.csv"
    write_csv(add_age_group(test), test_csv)
    models_dir = samples_dir / "german" / "models"
    records = []

    model = train_german(train)
    features = list(GERMAN_FEATURES)
    metrics = {
        "train": measure(model, train[features], train[GERMAN_LABEL], GERMAN_POSITIVE),
        "test": measure(model, test[features], test[GERMAN_LABEL], GERMAN_POSITIVE),
    }
    path = models_dir / "german-rf.skops"
    untrusted = save_model(model, path, frame[features])
    records.append(
        model_entry(
            model,
            path,
            samples_dir,
            task="binary",
            untrusted_types=untrusted,
            features=GERMAN_FEATURES,
            label=GERMAN_LABEL,
            positive=GERMAN_POSITIVE,
            metrics=metrics,
            dataset=test_csv,
        )
    )

    model = train_german_amount(train)
    features = list(GERMAN_AMOUNT_FEATURES)
    metrics = {
        "train": measure_regression(model, train[features], train[GERMAN_AMOUNT_LABEL]),
        "test": measure_regression(model, test[features], test[GERMAN_AMOUNT_LABEL]),
    }
    path = models_dir / "german-amount-gbr.skops"
    untrusted = save_model(model, path, frame[features])
    records.append(
        model_entry(
            model,
            path,
            samples_dir,
            task="regression",
            untrusted_types=untrusted,
            features=GERMAN_AMOUNT_FEATURES,
            label=GERMAN_AMOUNT_LABEL,
            positive=None,
            metrics=metrics,
            dataset=test_csv,
        )
    )

    model = train_german_housing(train)
    features = list(GERMAN_HOUSING_FEATURES)
    metrics = {
        "train": measure_multiclass(model, train[features], train[GERMAN_HOUSING_LABEL]),
        "test": measure_multiclass(model, test[features], test[GERMAN_HOUSING_LABEL]),
    }
    path = models_dir / "german-housing-rf.skops"
    untrusted = save_model(model, path, frame[features])
    records.append(
        model_entry(
            model,
            path,
            samples_dir,
            task="multiclass",
            untrusted_types=untrusted,
            features=GERMAN_HOUSING_FEATURES,
            label=GERMAN_HOUSING_LABEL,
            positive=None,
            metrics=metrics,
            dataset=test_csv,
        )
    )
    return [test_csv], records


RAW_FILES: tuple[str, ...] = (
    "adult/raw/adult.data",
    "adult/raw/adult.test",
    "adult/raw/adult.names",
    "german/raw/german.csv",
    "german/raw/LICENSE-DATA.txt",
)


def build_all(samples_dir: Path = SAMPLES_DIR) -> dict:
    """Regenerate every derived sample file under ``samples_dir`` and write ``manifest.json``."""
    adult_files, adult_models = build_adult(samples_dir)
    german_files, german_models = build_german(samples_dir)
    data_files = [samples_dir / p for p in RAW_FILES] + adult_files + german_files
    manifest = {
        "manifest_version": 1,
        "generated_by": "samples/train.py",
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__,
            "skops": skops.__version__,
        },
        "data": sorted((file_entry(p, samples_dir) for p in data_files), key=lambda e: e["path"]),
        "models": adult_models + german_models,
    }
    (samples_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def main() -> None:
    manifest = build_all()
    for record in manifest["models"]:
        test = ", ".join(
            f"{k} {v:.4f}" for k, v in record["metrics"]["test"].items() if k != "rows"
        )
        print(f"{record['path']} ({record['task']}): {record['size']:,} bytes, test {test}")
        print(f"  untrusted types: {record['skops_untrusted_types']}")


if __name__ == "__main__":
    main()
