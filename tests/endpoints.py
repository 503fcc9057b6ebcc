"""Model endpoints for tests: real HTTP(S) servers (uvicorn in a thread on a free loopback port).

- :func:`mlflow_app`: the real MLflow scoring server (``mlflow.pyfunc.scoring_server``) over a
  scikit-learn model saved with ``pyfunc_predict_fn="predict_proba"``;
- :func:`kserve_app`: a small KServe v2 / Open Inference Protocol server (model metadata and
  ``infer`` with per-column input tensors, ``content_type: pd``);
- :class:`Recorder`: an ASGI wrapper that keeps every request and response body the server saw,
  and can answer the first requests with scripted faults (503, 429 with Retry-After, 401 ...).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import uvicorn
from servekit import free_port

#: the skops types of the sample Adult model that skops does not trust by default (reviewed)
ADULT_TRUSTED = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    request: bytes
    status: int = 0
    response: bytes = b""


@dataclass
class Fault:
    """One scripted answer: a status, headers and a body (sent instead of the model's)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"error": "scripted"}'


class Recorder:
    """Records every call; answers the queued :class:`Fault` s first; may demand a token."""

    def __init__(self, app: Any, *, token: str | None = None) -> None:
        self.app = app
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.token = token

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        call = Call(scope["method"], scope["path"], headers, b"".join(chunks))
        self.calls.append(call)
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            await _answer(send, call, Fault(401, body=b'{"error": "unauthorised"}'))
            return
        if self.faults:
            await _answer(send, call, self.faults.pop(0))
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": call.request, "more_body": False}

        async def keep(message: dict) -> None:
            if message["type"] == "http.response.start":
                call.status = message["status"]
            elif message["type"] == "http.response.body":
                call.response += message.get("body", b"")
            await send(message)

        await self.app(scope, replay, keep)

    def posts(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST"]


async def _answer(send: Any, call: Call, fault: Fault) -> None:
    call.status, call.response = fault.status, fault.body
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode(), v.encode()) for k, v in fault.headers.items()]
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": fault.body})


class Running:
    """A uvicorn server in a daemon thread on a free loopback port."""

    def __init__(self, app: Any, *, tls: tuple[Path, Path] | None = None) -> None:
        self.port = free_port()
        self.scheme = "https" if tls else "http"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=str(tls[0]) if tls else None,
            ssl_keyfile=str(tls[1]) if tls else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("the test endpoint did not start")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (the certificate is its own CA)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def mlflow_app(estimator: Any, folder: Path) -> Any:
    """The real MLflow scoring server's app for ``estimator`` (answers predict_proba)."""
    import warnings

    with warnings.catch_warnings():  # MLflow's own import-time warnings (type hints, pydantic)
        warnings.simplefilter("ignore")
        import mlflow.pyfunc
        import mlflow.sklearn
        from mlflow.pyfunc import scoring_server

        mlflow.sklearn.save_model(
            estimator,
            str(folder),
            pyfunc_predict_fn="predict_proba",
            serialization_format="skops",
            skops_trusted_types=ADULT_TRUSTED,
        )
        return scoring_server.init(mlflow.pyfunc.load_model(str(folder)))


_V2_TYPES = {"BOOL": bool, "INT64": "int64", "FP64": "float64", "FP32": "float64", "BYTES": object}


def kserve_app(estimator: Any, name: str, version: str = "1") -> Any:
    """A KServe v2 (Open Inference Protocol) server for a scikit-learn classifier: metadata at
    ``GET /v2/models/<name>``, ``POST /v2/models/<name>/infer`` with one input tensor per
    column (``content_type: pd``), answered by one ``FP64`` tensor ``[n, classes]``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    features = [str(c) for c in estimator.feature_names_in_]

    def dtype_of(column: str) -> str:
        return "BYTES" if column in _categorical(estimator) else "INT64"

    async def metadata(request: Request) -> Response:
        if request.path_params["model"] != name:
            return JSONResponse({"error": f"model {request.path_params['model']} not found"}, 404)
        return JSONResponse(
            {
                "name": name,
                "versions": [version],
                "platform": "sklearn",
                "inputs": [{"name": c, "datatype": dtype_of(c), "shape": [-1]} for c in features],
                "outputs": [{"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]}],
            }
        )

    async def infer(request: Request) -> Response:
        if request.path_params["model"] != name:
            return JSONResponse({"error": "model not found"}, 404)
        doc = json.loads(await request.body())
        columns = {}
        for tensor in doc["inputs"]:
            if tensor["shape"] != [len(tensor["data"])]:
                return JSONResponse({"error": f"bad shape of {tensor['name']}"}, 400)
            columns[tensor["name"]] = pd.Series(tensor["data"], dtype=_V2_TYPES[tensor["datatype"]])
        frame = pd.DataFrame(columns)[features]
        proba = np.asarray(estimator.predict_proba(frame), dtype=float)
        return JSONResponse(
            {
                "model_name": name,
                "model_version": version,
                "outputs": [
                    {
                        "name": "probabilities",
                        "shape": list(proba.shape),
                        "datatype": "FP64",
                        "data": proba.ravel().tolist(),
                    }
                ],
            }
        )

    return Starlette(
        routes=[
            Route("/v2/models/{model}", metadata, methods=["GET"]),
            Route("/v2/models/{model}/infer", infer, methods=["POST"]),
        ]
    )


def _categorical(estimator: Any) -> set[str]:
    pre = estimator.steps[0][1]
    return {c for n, _, cols in pre.transformers_ if n == "cat" for c in cols}


def rows_of(body: bytes) -> int:
    """The rows an MLflow request body holds."""
    return len(json.loads(body)["dataframe_split"]["data"])


def nested(depth: int) -> bytes:
    return b'{"predictions": ' + b"[" * depth + b"]" * depth + b"}"


#: the bad answers :func:`attack_app` gives, by name
ATTACKS = ("redirect", "oversized", "deep", "short", "nan", "string")


def attack_app(kind: str, size: int = 0) -> Any:
    """An MLflow-style endpoint that answers every request badly, in the way ``kind`` names:
    a redirect to another host, a body over ``size`` bytes, JSON nested 10,000 levels deep, one
    answer too few, NaN or a string among the probabilities."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import RedirectResponse, Response
    from starlette.routing import Route

    async def invocations(request: Request) -> Response:
        n = rows_of(await request.body())
        row = "[0.5, 0.5]"
        if kind == "redirect":
            return RedirectResponse("https://collector.example.net/invocations", status_code=307)
        if kind == "oversized":
            body = b'{"predictions": [' + b" " * size + b"]}"
        elif kind == "deep":
            body = nested(10_000)
        elif kind == "short":
            body = ('{"predictions": [' + ",".join([row] * (n - 1)) + "]}").encode()
        elif kind == "nan":
            body = (
                '{"predictions": [' + ",".join(["[NaN, 0.5]"] + [row] * (n - 1)) + "]}"
            ).encode()
        else:
            body = (
                '{"predictions": [' + ",".join(['["0.5", 0.5]'] + [row] * (n - 1)) + "]}"
            ).encode()
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])
