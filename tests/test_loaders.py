"""Every accepted model format audits end to end, on real models trained here.

Each model is trained on half of the Adult sample, saved in its library's own format, detected by
content (the file names carry misleading extensions) and audited on the other half through the
CLI. The report's per-group selection rates are checked against fairlearn's, computed from the
library's own predictions (not through audit's adapters).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fairlearn.metrics import MetricFrame, selection_rate

from audit.cli import main
from audit.digest import sha256_file
from audit.errors import InputError
from audit.loaders import FORMATS, LOADERS, detect_format, load_model
from audit.registry import Registry
from tests.conftest import POLICIES, SAMPLES

NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = ["workclass", "marital_status", "occupation"]


@pytest.fixture(scope="module")
def adult(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Train/audit halves of the Adult sample, label 1 for >50K; the audit half as CSV."""
    folder = tmp_path_factory.mktemp("adult")
    frame = pd.read_csv(SAMPLES / "adult" / "adult_test.csv")
    frame["high_income"] = (frame.pop("income") == ">50K").astype(int)
    train, test = frame.iloc[:6000], frame.iloc[6000:12000].reset_index(drop=True)
    data = folder / "audit.csv"
    test.to_csv(data, index=False)
    return {"train": train, "test": test, "data": data, "folder": folder}


def _spec(folder: Path, data: Path, model: Path) -> Path:
    spec = {
        "name": "loader-e2e",
        "model": str(model),
        "dataset": str(data),
        "label": "high_income",
        "positive_label": 1,
        "sensitive_features": ["sex", "race"],
        "policy": str(POLICIES / "baseline.yaml"),
    }
    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _audit(adult: dict, model: Path, tmp_path: Path) -> dict:
    out = tmp_path / "reports"
    spec = _spec(tmp_path, adult["data"], model)
    code = main(["run", str(spec), "--output", str(out), "--no-pdf"])
    assert code in (0, 1)
    latest = max(int(p.name[1:]) for p in (out / "loader-e2e").iterdir() if p.name[0] == "v")
    return json.loads((out / "loader-e2e" / f"v{latest}" / "report.json").read_text())


def _check_selection_rates(report: dict, test: pd.DataFrame, y_pred: np.ndarray) -> None:
    for feature in ("sex", "race"):
        expected = MetricFrame(
            metrics=selection_rate,
            y_true=test["high_income"],
            y_pred=y_pred,
            sensitive_features=test[feature],
        ).by_group
        groups = report["fairness"][feature]["groups"]
        for group, rate in expected.items():
            assert groups[str(group)]["selection_rate"] == pytest.approx(rate, abs=1e-12)


def test_xgboost_json_and_ubj(adult: dict, tmp_path: Path, audit_home: Path) -> None:
    import xgboost

    train, test = adult["train"], adult["test"]
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": 0},
        xgboost.DMatrix(train[NUMERIC], train["high_income"]),
        30,
    )
    expected = booster.predict(xgboost.DMatrix(test[NUMERIC])) >= 0.5
    for ext in ("json", "ubj"):
        path = tmp_path / ext / "model.bin"  # extension says nothing: content decides
        path.parent.mkdir()
        booster.save_model(str(path.with_suffix(f".{ext}")))
        path.with_suffix(f".{ext}").rename(path)
        assert detect_format(path) == "xgboost"
        loaded = load_model(path)
        assert loaded.feature_names == NUMERIC
        assert list(loaded.estimator.classes_) == [0, 1]
        assert loaded.estimator.booster.num_boosted_rounds() == 30
        report = _audit(adult, path, tmp_path / ext)
        assert report["subject"]["model"]["format"] == "xgboost"
        _check_selection_rates(report, test, expected.astype(int))


def test_xgboost_sklearn_wrapper_file(adult: dict, tmp_path: Path) -> None:
    """``XGBClassifier.save_model`` writes the same native format; margins match the wrapper's."""
    import xgboost

    train, test = adult["train"], adult["test"]
    clf = xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(
        train[NUMERIC], train["high_income"]
    )
    path = tmp_path / "clf.json"
    clf.save_model(path)
    est = load_model(path).estimator
    np.testing.assert_allclose(est.predict_proba(test), clf.predict_proba(test[NUMERIC]), 1e-6)
    np.testing.assert_allclose(
        est.decision_function(test), clf.predict(test[NUMERIC], output_margin=True), 1e-5
    )
    np.testing.assert_array_equal(est.predict(test), clf.predict(test[NUMERIC]))


def test_lightgbm_text_with_categoricals(adult: dict, tmp_path: Path, audit_home: Path) -> None:
    import lightgbm

    train, test = adult["train"], adult["test"]
    features = NUMERIC + CATEGORICAL
    X = train[features].copy()
    for col in CATEGORICAL:
        X[col] = X[col].astype("category")
    booster = lightgbm.train(
        {"objective": "binary", "verbose": -1, "seed": 0, "num_leaves": 15},
        lightgbm.Dataset(X, train["high_income"]),
        30,
    )
    path = tmp_path / "model.txt"
    booster.save_model(str(path))
    Xt = test[features].copy()
    for col in CATEGORICAL:
        Xt[col] = Xt[col].astype("category").cat.set_categories(X[col].cat.categories)
    proba = booster.predict(Xt)
    est = load_model(path).estimator
    assert est.feature_types_["workclass"] == "category"
    np.testing.assert_allclose(est.predict_proba(test)[:, 1], proba, rtol=1e-9)
    np.testing.assert_allclose(est.decision_function(test), booster.predict(Xt, raw_score=True))
    report = _audit(adult, path, tmp_path)
    assert report["subject"]["model"]["format"] == "lightgbm"
    _check_selection_rates(report, test, (proba >= 0.5).astype(int))


def test_onnx_pipeline_with_string_columns(adult: dict, tmp_path: Path, audit_home: Path) -> None:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train, test = adult["train"], adult["test"]
    features = NUMERIC + CATEGORICAL
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), NUMERIC),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                    ]
                ),
            ),
            ("lr", LogisticRegression(max_iter=500)),
        ]
    )
    Xtrain = train[features].astype({c: np.float32 for c in NUMERIC})
    pipe.fit(Xtrain, train["high_income"])
    types = [(c, FloatTensorType([None, 1])) for c in NUMERIC]
    types += [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    onx = to_onnx(pipe, initial_types=types)
    path = tmp_path / "model.skops"  # misleading extension on purpose
    path.write_bytes(onx.SerializeToString())
    assert detect_format(path) == "onnx"
    est = load_model(path).estimator
    assert list(est.feature_names_in_) == features
    assert list(est.classes_) == [0, 1]
    Xtest = test[features].astype({c: np.float32 for c in NUMERIC})
    expected = pipe.predict_proba(Xtest)
    np.testing.assert_allclose(est.predict_proba(test), expected, atol=1e-5)
    report = _audit(adult, path, tmp_path)
    assert report["subject"]["model"]["format"] == "onnx"
    _check_selection_rates(report, test, pipe.predict(Xtest))


def test_skops_sample_model_still_loads() -> None:
    loaded = load_model(SAMPLES / "german" / "models" / "german-rf.skops")
    assert loaded.format == "skops" and not loaded.unsafe


def test_every_format_has_a_loader() -> None:
    assert set(FORMATS) == {ld.format for ld in LOADERS} | {"pickle"}
    assert {"skops", "xgboost", "lightgbm", "onnx"} <= set(FORMATS)


# --- pickle: refused by default, allowed only for a pinned, registered digest ------------------


@pytest.fixture
def pickled(tmp_path: Path) -> dict:
    import joblib
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((100, 2)), columns=["a", "b"])
    model = LogisticRegression().fit(X, (X["a"] > 0.5).astype(int))
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    registry = Registry(tmp_path / "home")
    art = registry.add("model", "lr", "1", path, "pickle", "tester")
    return {"model": model, "path": path, "X": X, "registry": registry, "art": art}


def test_pickle_refused_by_default(pickled: dict) -> None:
    with pytest.raises(InputError, match="runs whatever code") as info:
        load_model(pickled["path"])
    assert "skops.io.dump" in (info.value.hint or "")
    assert detect_format(pickled["path"], allow_pickle=True) == "pickle"


def test_pinned_registered_pickle_loads_and_is_marked_unsafe(pickled: dict) -> None:
    stored = pickled["registry"].path_of(pickled["art"])
    loaded = load_model(stored, pickled["art"].sha256, allow_pickle_digest=pickled["art"].sha256)
    assert loaded.unsafe and loaded.format == "pickle"
    np.testing.assert_array_equal(
        loaded.estimator.predict_proba(pickled["X"]), pickled["model"].predict_proba(pickled["X"])
    )


def test_pinned_pickle_refused_for_wrong_digest_or_plain_path(pickled: dict) -> None:
    stored = pickled["registry"].path_of(pickled["art"])
    with pytest.raises(InputError, match="not the pinned digest"):
        load_model(stored, allow_pickle_digest="0" * 64)
    with pytest.raises(InputError, match="never from a path"):
        load_model(pickled["path"], allow_pickle_digest=sha256_file(pickled["path"]))


# --- MLflow registry (optional extra) ----------------------------------------------------------


# MLflow's SQLite store (test setup only) uses an SQLAlchemy 2.1-deprecated loader strategy.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
def test_mlflow_registry_uri(adult: dict, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    import joblib
    import lightgbm
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from audit.loaders.mlflow_loader import load_model_uri

    train, test = adult["train"], adult["test"]
    booster = lightgbm.train(
        {"objective": "binary", "verbose": -1},
        lightgbm.Dataset(train[NUMERIC], train["high_income"]),
        10,
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)
    experiment = client.create_experiment("audit", artifact_location=str(tmp_path / "artifacts"))

    def register(name: str, file: Path) -> None:
        run = client.create_run(experiment)
        client.log_artifact(run.info.run_id, str(file), artifact_path="model")
        client.create_registered_model(name)
        source = client.get_run(run.info.run_id).info.artifact_uri + "/model"
        client.create_model_version(name, source, run_id=run.info.run_id)

    booster.save_model(str(tmp_path / "model.lgb"))
    register("credit", tmp_path / "model.lgb")
    joblib.dump(
        LogisticRegression().fit(train[NUMERIC], train["high_income"]), tmp_path / "model.pkl"
    )
    register("pickled", tmp_path / "model.pkl")

    loaded = load_model_uri("models:/credit/1", tracking_uri=uri)
    assert loaded.format == "mlflow/lightgbm"
    np.testing.assert_allclose(
        loaded.estimator.predict_proba(test)[:, 1], booster.predict(test[NUMERIC])
    )
    with pytest.raises(InputError, match="runs whatever code"):
        load_model_uri("models:/pickled/1", tracking_uri=uri)
    with pytest.raises(InputError, match="not found"):
        load_model_uri("models:/credit/7", tracking_uri=uri)
    with pytest.raises(InputError, match="models:/<name>/<version>"):
        load_model_uri("models:/credit@champion", tracking_uri=uri)
