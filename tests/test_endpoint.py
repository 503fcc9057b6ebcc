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
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import skops.io as sio
import yaml
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

from audit.cli.app import main

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


@pytest.fixture(scope="module")
def file_report(
    tmp_path_factory: pytest.TempPathFactory, estimator: Any, data: Path
) -> dict[str, Any]:
    """The oracle: the same audit of the same model, loaded from its .skops file."""
    folder = tmp_path_factory.mktemp("from-file")
    model = str(ADULT / "models" / "adult-gbm.skops")
    return _audit(_spec(folder, data, model, "adult-file", estimator))


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
    folder.mkdir(parents=True, exist_ok=True)
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
    tmp_path: Path,
    audit_home: Path,
    estimator: Any,
    data: Path,
    mlflow_server: Any,
    file_report: dict[str, Any],
) -> None:
    """MUST: report.json from the real MLflow scoring server equals the one from the .skops
    file, with these masked: report_id, created_at, environment (library versions), subject.name
    (each audit is its own system) and subject.model (the origin: path and file digest, or URL
    and call log). Both explain with permutation SHAP on the same seed."""
    running, recorder = mlflow_server
    recorder.calls.clear()
    from_file = file_report
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
    assert model["sha256"] == _digest(
        [f"{q} {r}" for q, r in zip(requests, responses, strict=True)]
    )


def test_kserve_v2_over_https_with_a_token_same_report_on_memory_and_stream(
    tmp_path: Path,
    audit_home: Path,
    estimator: Any,
    data: Path,
    file_report: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """KServe v2 over HTTPS (a private CA in endpoint.ca_file) with a bearer token from the
    environment: the inputs come from the server's metadata, the report equals the file's (same
    masks), engine: stream gives byte-identical report.json to engine: memory (its 128-row
    partitions are whole multiples of the 64-row batches, so the very same requests are made),
    and the token is written nowhere: not in the bundle, not in the access log."""
    token = "tok-" + "7f3a9c" * 6
    monkeypatch.setenv("ENDPOINT_TOKEN", token)
    cert, key = self_signed(tmp_path)
    recorder = Recorder(kserve_app(estimator, "adult-gbm", "3"), token=token)
    running = Running(recorder, tls=(cert, key))
    try:
        endpoint = {"batch_rows": 64, "ca_file": str(cert), "token_env": "ENDPOINT_TOKEN"}
        reports = {}
        for engine in ("memory", "stream"):
            spec = _spec(
                tmp_path / engine,
                data,
                f"endpoint+{running.url}/v2/models/adult-gbm",
                "adult-kserve",
                estimator,
                {k: v for k, v in endpoint.items()},
                engine={"backend": engine, "batch_rows": 128},
            )
            doc = yaml.safe_load(spec.read_text())
            del doc["endpoint"]["features"]  # from GET /v2/models/adult-gbm
            spec.write_text(yaml.safe_dump(doc))
            reports[engine] = _audit(spec)
    finally:
        running.stop()
    memory, stream = reports["memory"], reports["stream"]
    assert _masked(memory) == _masked(file_report)
    for key in ("report_id", "created_at"):
        memory.pop(key), stream.pop(key)
    assert json.dumps(memory, sort_keys=True) == json.dumps(stream, sort_keys=True)

    calls = memory["subject"]["model"]["endpoint"]
    assert calls["protocol"] == "kserve-v2"
    assert (calls["model_name"], calls["model_version"]) == ("adult-gbm", "3")
    gets = [c for c in recorder.calls if c.method == "GET"]
    assert calls["metadata_sha256"] == hashlib.sha256(gets[0].response).hexdigest()
    posts = recorder.posts()
    assert calls["requests"] * 2 == len(posts)  # two audits, the same calls
    first = [len(json.loads(c.request)["inputs"][0]["data"]) for c in posts[:7]]
    assert first == [64] * 6 + [16]
    assert all(c.headers["authorization"] == f"Bearer {token}" for c in recorder.calls)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    assert token.encode() not in (audit_home / "access.db").read_bytes()
    assert calls["requests"] > 0


def test_throttled_and_failing_requests_are_retried_and_counted(
    tmp_path: Path, audit_home: Path, estimator: Any, data: Path, mlflow_server: Any
) -> None:
    """503, then 429 with Retry-After: 1: the audit still succeeds, with 2 retries counted, and
    the requests honour requests_per_second (server-side arrival times)."""
    running, recorder = mlflow_server
    recorder.calls.clear()
    recorder.faults = [Fault(503), Fault(429, {"Retry-After": "1"})]
    rate = 20.0
    spec = _spec(
        tmp_path,
        data,
        f"endpoint+{running.url}/invocations",
        "adult-retried",
        estimator,
        {"batch_rows": 1000, "requests_per_second": rate},
    )
    t0 = time.monotonic()
    report = _audit(spec)
    elapsed = time.monotonic() - t0
    calls = report["subject"]["model"]["endpoint"]
    posts = recorder.posts()
    assert [c.status for c in posts[:3]] == [503, 429, 200]
    assert calls["retries"] == 2
    assert calls["requests"] == len(posts) - 2 == sum(c.status == 200 for c in posts)
    assert rows_of(posts[2].request) == ROWS  # one batch scores the 400 rows
    # the waits are lower bounds: the 429's Retry-After, and 1/rate between requests
    assert elapsed >= 1.0 + (len(posts) - 2) / rate
    ok = [c for c in posts if c.status == 200]
    responses = [hashlib.sha256(c.response).hexdigest() for c in ok]
    assert calls["responses_sha256"] == _digest(responses)


def _refused(spec: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["run", str(spec), "--no-sign", "--no-pdf"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("kind", ["redirect", "oversized", "deep", "short", "nan", "string"])
def test_bad_answers_exit_2_naming_the_endpoint(
    kind: str,
    tmp_path: Path,
    audit_home: Path,
    estimator: Any,
    data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from audit.loaders.endpoint_http import MAX_BODY

    running = Running(attack_app(kind, MAX_BODY))
    try:
        url = f"{running.url}/invocations"
        spec = _spec(tmp_path, data, f"endpoint+{url}", "adult-attacked", estimator, {})
        err = _refused(spec, capsys)
    finally:
        running.stop()
    assert f"model endpoint {url}" in err
    expected = {
        "redirect": "does not follow redirects",
        "oversized": "larger than 64 MiB",
        "deep": "levels deep; audit reads at most 200",
        "short": "399 answers for 400 rows",
        "nan": "NaN, not a probability",
        "string": '"0.5", not a probability',
    }[kind]
    assert expected in err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://10.1.2.3/invocations", "plain http is accepted only to this machine"),
        ("https://user:pa55@127.0.0.1:9/invocations", "holds user info"),
        ("ftp://127.0.0.1/invocations", "only https:// URLs"),
    ],
)
def test_refused_urls_exit_2_before_any_call(
    url: str,
    expected: str,
    tmp_path: Path,
    audit_home: Path,
    estimator: Any,
    data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = _spec(tmp_path, data, f"endpoint+{url}", "adult-refused", estimator, {})
    err = _refused(spec, capsys)
    assert expected in err
    assert "pa55" not in err


def test_a_401_exits_2_and_the_wrong_token_is_written_nowhere(
    tmp_path: Path,
    audit_home: Path,
    estimator: Any,
    data: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "wrong-" + "c0ffee" * 6
    monkeypatch.setenv("ENDPOINT_TOKEN", wrong)
    recorder = Recorder(attack_app("short"), token="the-right-one")
    running = Running(recorder)
    try:
        spec = _spec(
            tmp_path,
            data,
            f"endpoint+{running.url}/invocations",
            "adult-401",
            estimator,
            {"token_env": "ENDPOINT_TOKEN"},
        )
        err = _refused(spec, capsys)
    finally:
        running.stop()
    assert "refused the request (401)" in err and "endpoint.token_env" in err
    assert [c.status for c in recorder.calls] == [401]  # not retried
    assert wrong not in err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert wrong.encode() not in path.read_bytes(), path
    assert wrong.encode() not in (audit_home / "access.db").read_bytes()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"engine": {"backend": "dask"}}, "engine: dask cannot audit a model behind an endpoint"),
        ({"explain": {"rows": "adverse"}}, "explained on the explanation sample only"),
    ],
)
def test_what_an_endpoint_cannot_be_audited_with_exits_2(
    extra: dict[str, Any],
    expected: str,
    tmp_path: Path,
    audit_home: Path,
    estimator: Any,
    data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = _spec(
        tmp_path, data, "endpoint+http://127.0.0.1:9/invocations", "adult-x", estimator, {}, **extra
    )
    assert expected in _refused(spec, capsys)


def test_an_untrusted_certificate_exits_2_without_retrying(
    tmp_path: Path,
    audit_home: Path,
    estimator: Any,
    data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """HTTPS to a server whose certificate no trusted CA signed (no endpoint.ca_file)."""
    recorder = Recorder(kserve_app(estimator, "adult-gbm"))
    running = Running(recorder, tls=self_signed(tmp_path))
    try:
        url = f"{running.url}/v2/models/adult-gbm"
        spec = _spec(tmp_path, data, f"endpoint+{url}", "adult-tls", estimator, {})
        err = _refused(spec, capsys)
    finally:
        running.stop()
    assert f"model endpoint {url}: the TLS handshake failed" in err
    assert "endpoint.ca_file" in err
    assert recorder.calls == []  # the handshake failed: no request reached the app


def test_retries_spent_exit_2(
    tmp_path: Path,
    audit_home: Path,
    estimator: Any,
    data: Path,
    mlflow_server: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    running, recorder = mlflow_server
    recorder.calls.clear()
    recorder.faults = [Fault(502), Fault(504)]
    url = f"{running.url}/invocations"
    spec = _spec(tmp_path, data, f"endpoint+{url}", "adult-spent", estimator, {"max_retries": 1})
    err = _refused(spec, capsys)
    assert f"model endpoint {url} did not answer after 1 retries (last: HTTP 504)" in err
    assert [c.status for c in recorder.calls] == [502, 504]


# -- the wire formats, on hand-made answers ---------------------------------------------------


def test_requests_encode_each_value_as_json_and_deterministically() -> None:
    from audit.loaders.endpoint_protocols import encode

    frame = pd.DataFrame(
        {"n": [1, 2], "x": [0.5, float("nan")], "s": ["a", None], "b": [True, False]}
    )
    mlflow = json.loads(encode("mlflow", frame))
    assert mlflow == {
        "dataframe_split": {
            "columns": ["n", "x", "s", "b"],
            "data": [[1, 0.5, "a", True], [2, None, None, False]],
        }
    }
    v2 = json.loads(encode("kserve-v2", frame))
    assert [(t["name"], t["datatype"], t["shape"], t["data"]) for t in v2["inputs"]] == [
        ("n", "INT64", [2], [1, 2]),
        ("x", "FP64", [2], [0.5, None]),
        ("s", "BYTES", [2], ["a", None]),
        ("b", "BOOL", [2], [True, False]),
    ]
    assert v2["parameters"] == {"content_type": "pd"}
    assert encode("mlflow", frame) == encode("mlflow", frame.copy())


def test_answers_are_read_by_shape_and_checked() -> None:
    from audit.errors import InputError
    from audit.loaders.endpoint_protocols import decode

    def v2(shape: list[int], data: list[Any]) -> dict[str, Any]:
        return {"outputs": [{"name": "y", "shape": shape, "datatype": "FP64", "data": data}]}

    kw = {"shown": "https://h/x", "n_classes": 2}
    proba = decode(
        "kserve-v2", v2([2, 2], [0.1, 0.9, 0.7, 0.3]), rows=2, output="probabilities", **kw
    )
    assert proba.tolist() == [[0.1, 0.9], [0.7, 0.3]]
    values = decode("kserve-v2", v2([3, 1], [1.5, 2, -3]), rows=3, output="values", **kw)
    assert values.tolist() == [1.5, 2.0, -3.0]
    labels = decode("mlflow", {"predictions": ["own", "rent"]}, rows=2, output="labels", **kw)
    assert labels.tolist() == ["own", "rent"]
    bad = [
        (v2([2, 2], [0.1, 0.9, 0.7]), "does not hold 3 values"),
        (v2([3, 1], [0.1, 0.2, 0.3]), "3 answers for 2 rows"),
        ({"predictions": [[0.1, 0.9], [0.2]]}, "answer 1 has 1 probabilities, expected 2"),
        ({"predictions": [[1.5, -0.5], [0.2, 0.8]]}, "1.5, not a probability in [0, 1]"),
        ({"predictions": [[True, 0.0], [0.2, 0.8]]}, "true, not a probability"),
        ({"outputs": []}, 'no "outputs" tensor'),
        ([[0.1, 0.9]], 'no "predictions" list'),
    ]
    for doc, message in bad:
        protocol = "kserve-v2" if isinstance(doc, dict) and "outputs" in doc else "mlflow"
        with pytest.raises(InputError, match=None) as caught:
            decode(protocol, doc, rows=2, output="probabilities", **kw)
        assert message in caught.value.message, (doc, caught.value.message)
    with pytest.raises(InputError) as caught:
        decode("mlflow", {"predictions": [1.0, "x"]}, rows=2, output="values", **kw)
    assert 'answer 1 is "x", not a finite number' in caught.value.message


def test_retry_after_is_capped_and_urls_are_shown_without_secrets() -> None:
    from audit.loaders.endpoint_http import MAX_RETRY_AFTER, check_url, retry_after

    assert retry_after("1") == 1.0
    assert retry_after("86400") == MAX_RETRY_AFTER
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None  # a date: the backoff instead
    assert retry_after(None) is None and retry_after("-3") is None
    assert (
        check_url("https://h.example/invocations?key=s3cret#x") == "https://h.example/invocations"
    )
    assert check_url("http://[::1]:8080/invocations") == "http://[::1]:8080/invocations"
    assert check_url("http://localhost/invocations") == "http://localhost/invocations"


def test_auto_explains_an_endpoint_by_permutation_shap_on_its_input_columns(
    estimator: Any, data: Path, mlflow_server: Any
) -> None:
    """explain.method: auto picks permutation SHAP for an endpoint (it is opaque), text columns
    coded and decoded: the values equal permutation SHAP of the file's pipeline, row for row."""
    import numpy as np

    from audit.explain import explain_model
    from audit.loaders.endpoint_loader import load_endpoint
    from audit.spec import parse_ref
    from audit.spec_settings import EndpointSettings

    running, _ = mlflow_server
    settings = EndpointSettings(classes=CLASSES, batch_rows=500)
    model, info = load_endpoint(
        parse_ref(f"endpoint+{running.url}/invocations", Path.cwd()), settings, base=Path.cwd()
    )
    X = pd.read_csv(data, nrows=200)[[str(c) for c in estimator.feature_names_in_]]
    kw = {"positive_label": ">50K", "sample_size": 6, "background_size": 5, "seed": 3}
    kw |= {"stability_replicas": 0, "proxy_model_rows": 0}
    remote = explain_model(model.estimator, X, method="auto", **kw)
    local = explain_model(estimator, X, method="permutation", **kw)
    assert remote.method == "permutation"
    assert remote.feature_names == local.feature_names
    np.testing.assert_array_equal(remote.attributions, local.attributions)
    np.testing.assert_array_equal(remote.model_output, local.model_output)
    assert info["source"] == "endpoint" and model.format == "endpoint/mlflow"


def test_counterfactual_flips_through_an_endpoint_equal_the_model_files(
    tmp_path: Path, audit_home: Path, estimator: Any, data: Path, mlflow_server: Any
) -> None:
    """A model audited only through its decisions (an endpoint: it could be an LLM-backed
    classifier) gets the same counterfactual flip test as the model file: the counterfactual
    section is equal, the flips equal a hand count (pandas swap + predict), and the endpoint
    was asked about the swapped rows too."""
    running, recorder = mlflow_server
    flips = {"counterfactual": {"features": ["sex"]}}
    from_file = _audit(
        _spec(
            tmp_path / "f",
            data,
            str(ADULT / "models" / "adult-gbm.skops"),
            "cf-file",
            estimator,
            **flips,
        )
    )
    recorder.calls.clear()
    spec = _spec(
        tmp_path / "e",
        data,
        f"endpoint+{running.url}/invocations",
        "cf-endpoint",
        estimator,
        {"batch_rows": 64},
        **flips,
    )
    from_endpoint = _audit(spec)
    assert from_endpoint["counterfactual"] == from_file["counterfactual"]
    frame = pd.read_csv(data)
    X = frame[[str(c) for c in estimator.feature_names_in_]]
    swapped = X.assign(sex=X["sex"].map({"Male": "Female", "Female": "Male"}))
    before = estimator.predict(X) == ">50K"
    after = estimator.predict(swapped) == ">50K"
    b, c = int((before & ~after).sum()), int((~before & after).sum())
    overall = from_endpoint["counterfactual"]["comparisons"]["sex"]["overall"]
    assert b + c > 0
    assert (overall["favourable_to_adverse"], overall["adverse_to_favourable"]) == (b, c)
    assert from_endpoint["subject"]["model"]["endpoint"]["rows"] >= 2 * len(frame)
