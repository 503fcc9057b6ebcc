"""Endpoint models (``model: endpoint+https://...``) against real servers on loopback.

The oracle for the numbers is the same model loaded from its file: the endpoint audit must give
the same report. The servers are the real MLflow scoring server and a KServe v2 server written
here (tests/endpoints.py); every request and response body the server saw is recorded, so the
counts and digests the report states are checked against what actually crossed the socket.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import skops.io as sio
import yaml

from audit.cli.app import main
from endpoints import (
    ADULT_TRUSTED,
    Fault,
    Recorder,
    Running,
    attack_app,
    kserve_app,
    mlflow_app,
    rows_of,
    self_signed,
)

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "samples" / "adult"
CLASSES = ["<=50K", ">50K"]
ROWS = 400  # a subset of the 16,281 test rows: the same code paths, a fraction of the time

FAST = {
    "seed": 0,
    "explain": {
        "method": "permutation",
        "sample_size": 12,
        "background_size": 8,
        "stability_replicas": 0,
        "proxy_model_rows": 0,
    },
    "fairness": {"n_bootstrap": 20},
}


@pytest.fixture(scope="module")
def estimator() -> Any:
    path = ADULT / "models" / "adult-gbm.skops"
    return sio.load(path, trusted=ADULT_TRUSTED)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "adult_subset.csv"
    pd.read_csv(ADULT / "adult_test.csv", nrows=ROWS).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def mlflow_server(estimator: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    recorder = Recorder(mlflow_app(estimator, tmp_path_factory.mktemp("mlflow") / "model"))
    running = Running(recorder)
    yield running, recorder
    running.stop()


def _spec(
    folder: Path,
    data: Path,
    model: str,
    name: str,
    estimator: Any,
    endpoint: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    doc: dict[str, Any] = {
        "name": name,
        "model": model,
        "dataset": str(data),
        "label": "income",
        "positive_label": ">50K",
        "sensitive_features": ["sex", "race"],
        "policy": str(ROOT / "policies" / "baseline.yaml"),
        "output": str(folder / "out"),
        **FAST,
        **extra,
    }
    if endpoint is not None:
        doc["endpoint"] = {
            "classes": CLASSES,
            "features": [str(c) for c in estimator.feature_names_in_],
            **endpoint,
        }
    spec = folder / f"{name}.yaml"
    spec.write_text(yaml.safe_dump(doc))
    return spec


def _audit(spec: Path, *flags: str) -> dict[str, Any]:
    code = main(["run", str(spec), "--no-sign", "--no-pdf", *flags])
    assert code in (0, 1), code  # 1: the baseline policy's verdict, not an error
    doc = yaml.safe_load(spec.read_text())
    bundle = Path(doc["output"]) / doc["name"]
    latest = sorted(bundle.glob("v*"), key=lambda p: int(p.name[1:]))[-1]
    return json.loads((latest / "report.json").read_text())


def _masked(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what names the model's origin or the run (listed in the test's
    docstring)."""
    out = json.loads(json.dumps(report))
    for key in ("report_id", "created_at", "environment"):
        out.pop(key)
    out["subject"].pop("model")
    out["subject"]["name"] = "-"
    return out


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(f"{x}\n" for x in lines).encode()).hexdigest()


def test_mlflow_endpoint_audits_to_the_same_report_as_the_model_file(
    tmp_path: Path, audit_home: Path, estimator: Any, data: Path, mlflow_server: Any
) -> None:
    """MUST: report.json from the real MLflow scoring server equals the one from the .skops
    file, with these masked: report_id, created_at, environment (library versions), subject.name
    (each audit is its own system) and subject.model (the origin: path and file digest, or URL
    and call log). Both explain with permutation SHAP on the same seed."""
    running, recorder = mlflow_server
    recorder.calls.clear()
    from_file = _audit(
        _spec(tmp_path, data, str(ADULT / "models" / "adult-gbm.skops"), "adult-file", estimator)
    )
    spec = _spec(
        tmp_path,
        data,
        f"endpoint+{running.url}/invocations",
        "adult-endpoint",
        estimator,
        {"batch_rows": 64},
    )
    from_endpoint = _audit(spec)
    assert from_endpoint["explanations"]["method"] == "permutation"
    assert _masked(from_endpoint) == _masked(from_file)

    model = from_endpoint["subject"]["model"]
    calls = model["endpoint"]
    posts = recorder.posts()
    assert model["source"] == "endpoint" and model["format"] == "endpoint/mlflow"
    assert calls["url"] == f"{running.url}/invocations" and calls["protocol"] == "mlflow"
    assert calls["requests"] == len(posts) and calls["retries"] == 0
    assert calls["rows"] == sum(rows_of(c.request) for c in posts)
    # the first requests score the dataset in batches of 64 rows, in row order
    first = [rows_of(c.request) for c in posts[: math.ceil(ROWS / 64)]]
    assert first == [64] * (ROWS // 64) + [ROWS % 64]
    assert all(c.status == 200 for c in posts)
    # the digests, recomputed from the bodies the server saw
    responses = [hashlib.sha256(c.response).hexdigest() for c in posts]
    requests = [hashlib.sha256(c.request).hexdigest() for c in posts]
    assert calls["responses_sha256"] == _digest(responses)
    assert model["sha256"] == _digest([f"{q} {r}" for q, r in zip(requests, responses, strict=True)])

    # the same audit again: the same calls, so the same digest (reproducible provenance)
    again = _audit(spec)
    assert again["subject"]["model"] == model
