"""A model behind an HTTP endpoint (``model: endpoint+https://...``), loaded as an estimator.

:func:`load_endpoint` checks the URL (:func:`audit.loaders.endpoint_http.check_url`), reads
KServe v2 metadata when the protocol has it, and returns an :class:`EndpointModel`: an
estimator with ``predict`` (and ``predict_proba`` when the endpoint answers probabilities),
``classes_`` (from ``endpoint.classes``; neither protocol states them) and
``feature_names_in_`` (``endpoint.features``, else the server's metadata). Rows go out in
batches of ``endpoint.batch_rows``, in row order; every successful call is logged and hashed
(:class:`~audit.loaders.endpoint_http.CallLog`). After the audit, :func:`finish_endpoint` puts
the digest of the ordered log into the model's ``sha256`` and the calls into
``subject.model.endpoint``.

The endpoint is opaque (``opaque = True``): nothing of the model is visible but its answers, so
it is explained model-agnostically (permutation SHAP over the input columns,
:mod:`audit.explain.opaque`).
"""

from __future__ import annotations

import hashlib
import os
import re
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd

from ..errors import InputError
from .endpoint_http import EndpointClient, check_url
from .endpoint_protocols import decode, encode
from .interface import LoadedModel

_KSERVE_PATH = re.compile(
    r"^(?P<base>.*/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?)(?:/infer)?/?$"
)
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class EndpointModel:
    """An estimator whose answers come from an endpoint (labels or values: ``predict`` only)."""

    opaque = True

    def __init__(
        self,
        client: EndpointClient,
        *,
        protocol: str,
        url: str,
        output: str,
        classes: list[Any] | None,
        features: list[str] | None,
        batch_rows: int,
    ) -> None:
        self.client = client
        # an audit that fails after loading never reaches finish_endpoint: close the
        # connections when the model is dropped
        weakref.finalize(self, client.close)
        self.protocol = protocol
        self.url = url
        self.output = output
        self.batch_rows = batch_rows
        if classes is not None:
            self.classes_ = np.asarray(classes, dtype=object)
        if features is not None:
            self.feature_names_in_ = np.asarray(features, dtype=object)
        #: the server states no column types (KServe's tensors are per request): no column is
        #: required to hold numbers before the rows are sent
        self.feature_types_: dict[str, str] = {}
        self.description = f"endpoint ({protocol}, {output})"
        #: KServe v2 metadata (name, version, inputs, sha256) and the version the URL pins
        self.metadata: dict[str, Any] = {}
        self.version: str | None = None

    def _frame(self, X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            names = getattr(self, "feature_names_in_", None)
            return X if names is None else X.loc[:, list(names)]
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            raise InputError(
                f"model endpoint {self.client.shown}: rows without column names cannot be sent",
                hint="name the input columns in endpoint.features",
            )
        return pd.DataFrame(np.asarray(X), columns=list(names))

    def _score(self, X: Any) -> np.ndarray:
        frame = self._frame(X)
        n_classes = len(self.classes_) if hasattr(self, "classes_") else None
        parts = []
        for start in range(0, len(frame), self.batch_rows):
            chunk = frame.iloc[start : start + self.batch_rows]
            doc = self.client.post(self.url, encode(self.protocol, chunk), len(chunk))
            try:
                answer = decode(
                    self.protocol,
                    doc,
                    rows=len(chunk),
                    output=self.output,
                    n_classes=n_classes,
                    shown=self.client.shown,
                )
            except InputError:
                self.client.close()
                raise
            parts.append(answer)
        if not parts:
            shape = (0, n_classes or 0) if self.output == "probabilities" else (0,)
            return np.empty(shape, dtype=float if self.output != "labels" else object)
        return np.concatenate(parts)

    def predict(self, X: Any) -> np.ndarray:
        return self._score(X)


class ProbabilityEndpoint(EndpointModel):
    """An endpoint that answers class probabilities; its decision is the most probable class."""

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._score(X)

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_)[np.argmax(self._score(X), axis=1)]


def _protocol(settings: Any, path: str) -> str:
    if settings.protocol != "auto":
        return str(settings.protocol)
    return "kserve-v2" if "/v2/models/" in path else "mlflow"


def load_endpoint(
    ref: Any,
    settings: Any,
    *,
    base: Path,
    credentials: Callable[[str], str | None] | None = None,
) -> tuple[LoadedModel, dict[str, Any]]:
    """The endpoint ``ref.uri`` as a :class:`LoadedModel` (format ``endpoint/<protocol>``) and
    its description for the report (completed by :func:`finish_endpoint`).

    ``credentials(name)`` reads the bearer token named by ``endpoint.token_env`` (default: the
    process environment)."""
    from ..spec_settings import EndpointSettings

    settings = settings or EndpointSettings()
    url = str(ref.uri)
    shown = check_url(url)
    parts = urlsplit(url)
    protocol = _protocol(settings, parts.path)
    meta_url = pinned = None
    if protocol == "kserve-v2":
        match = _KSERVE_PATH.match(parts.path)
        if match is None:
            raise InputError(
                f"model endpoint {shown}: a KServe v2 URL ends in /v2/models/<name>",
                hint="write endpoint+https://host/v2/models/<name> (or .../versions/<v>)",
            )
        meta_url = urlunsplit(parts._replace(path=match["base"]))
        pinned = match["version"]
        post_url = urlunsplit(parts._replace(path=match["base"] + "/infer"))
    else:
        path = (
            parts.path
            if parts.path.endswith("/invocations")
            else parts.path.rstrip("/") + "/invocations"
        )
        post_url = urlunsplit(parts._replace(path=path))
    if settings.output == "probabilities" and not settings.classes:
        raise InputError(
            f"model endpoint {shown}: endpoint.output is probabilities but endpoint.classes is "
            "not set (neither protocol states the classes' order)",
            hint="list the model's classes in the order of its probability columns in "
            "endpoint.classes",
        )
    token = None
    if settings.token_env:
        token = (credentials or os.environ.get)(settings.token_env)
        if not token:
            raise InputError(
                f"model endpoint {shown}: endpoint.token_env names {settings.token_env}, which "
                "is not set",
                hint=f"export {settings.token_env} with the bearer token, or remove "
                "endpoint.token_env",
            )
    ca_file = None
    if settings.ca_file:
        ca_file = Path(settings.ca_file)
        ca_file = ca_file if ca_file.is_absolute() else base / ca_file
    client = EndpointClient(
        url,
        shown=shown,
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        requests_per_second=settings.requests_per_second,
        ca_file=ca_file,
        token=token,
    )
    features = list(settings.features) if settings.features else None
    meta: dict[str, Any] = {}
    if meta_url is not None:
        meta = _metadata(client, meta_url, shown)
        if features is None and meta.get("inputs"):
            features = meta["inputs"]
    cls = ProbabilityEndpoint if settings.output == "probabilities" else EndpointModel
    estimator = cls(
        client,
        protocol=protocol,
        url=post_url,
        output=settings.output,
        classes=list(settings.classes) if settings.classes else None,
        features=features,
        batch_rows=settings.batch_rows,
    )
    estimator.metadata, estimator.version = meta, pinned
    model = LoadedModel(estimator, f"endpoint/{protocol}", _EMPTY_SHA256, Path(parts.path or "/"))
    info: dict[str, Any] = {
        "name": ref.name or meta.get("name") or shown,
        "version": ref.version or pinned or meta.get("version"),
        "sha256": _EMPTY_SHA256,
        "source": "endpoint",
        "path": shown,
    }
    return model, info


def _metadata(client: EndpointClient, url: str, shown: str) -> dict[str, Any]:
    """Name, version and input names from KServe v2 model metadata, and the answer's digest."""
    body, doc = client.get(url)
    if not isinstance(doc, dict):
        raise InputError(f"model endpoint {shown}: the model metadata is not a JSON object")
    name = doc.get("name")
    versions = doc.get("versions")
    inputs = doc.get("inputs")
    names = None
    if isinstance(inputs, list) and all(
        isinstance(i, dict) and isinstance(i.get("name"), str) for i in inputs
    ):
        names = [i["name"] for i in inputs] or None
    version = None
    if isinstance(versions, list) and versions and isinstance(versions[-1], str | int):
        version = str(versions[-1])
    return {
        "name": name if isinstance(name, str) else None,
        "version": version,
        "inputs": names,
        "sha256": hashlib.sha256(body).hexdigest(),
    }


def finish_endpoint(model: LoadedModel, info: dict[str, Any]) -> None:
    """Record the calls the audit made in ``info`` (the report's ``subject.model``): the
    ordered call log's digest as ``sha256`` and the counts and digests as ``endpoint``."""
    est = model.estimator
    log = est.client.log
    meta = getattr(est, "metadata", {}) or {}
    calls: dict[str, Any] = {
        "url": est.client.shown,
        "protocol": est.protocol,
        "output": est.output,
        "requests": len(log.calls),
        "rows": log.rows,
        "retries": log.retries,
        "batch_rows": est.batch_rows,
        "responses_sha256": log.responses_digest(),
    }
    if meta.get("name"):
        calls["model_name"] = meta["name"]
    if est.version or meta.get("version"):
        calls["model_version"] = est.version or meta["version"]
    if meta.get("sha256"):
        calls["metadata_sha256"] = meta["sha256"]
    info["sha256"] = log.digest()
    info["endpoint"] = calls
    est.client.close()
