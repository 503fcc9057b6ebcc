"""ONNX models, run with onnxruntime and explained with the model-agnostic explainer.

An ONNX file is a protobuf graph of operators: loading it parses data and runs no Python code.
Two risks remain and are checked before a session is created:

- external data: tensors may live in side files named by a path inside the model; a path that
  is absolute, contains ``..`` or resolves (through symlinks) outside the model's folder is
  refused, so a model cannot make audit read arbitrary files;
- custom operator domains need native libraries registered by the caller; audit registers none,
  so such models fail to load with a message.

Recognised by content: a protobuf ``ModelProto`` starts with field 1 (``ir_version``, tag 0x08)
and is confirmed by parsing it with ``onnx`` (external data not loaded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..jsonio import loads
from .interface import LoadedModel
from .isolate import probe

#: ONNX element types the adapter feeds, mapped to numpy dtypes.
_NUMPY = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}


class ONNXModel:
    """An ``onnxruntime.InferenceSession`` with the scikit-learn-style interface the audit uses.

    Inputs are either one tensor input per dataset column (what skl2onnx writes for pipelines of
    mixed columns: ``feature_names_in_`` are the input names) or a single 2-D tensor whose column
    order is recorded in the model's ``metadata_props["feature_names"]`` (a JSON list).
    Outputs: the label output and, when present, a probability output (a tensor or skl2onnx's
    ZipMap list of dicts). Explanations are model-agnostic: the adapter is a plain predictor.
    """

    def __init__(self, session: Any, proto: Any, path: Path) -> None:
        self.session = session
        inputs = session.get_inputs()
        self._inputs = [(i.name, i.type, i.shape) for i in inputs]
        meta = {p.key: p.value for p in proto.metadata_props}
        if len(inputs) == 1 and _width(inputs[0].shape) != 1:
            names = _json_list(meta.get("feature_names"))
            if names is None:
                raise InputError(
                    f"{path}: the ONNX model takes one tensor of columns but does not name them",
                    hint="record the column order as metadata_props['feature_names'] (a JSON list) "
                    "when exporting, or export with one input per column",
                )
            self._single = True
        else:
            names = [i.name for i in inputs]
            self._single = False
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        types = (
            [self._inputs[0][1]] * len(names) if self._single else [t for _, t, _ in self._inputs]
        )
        #: "string" for string tensors, "float" for numeric ones: what each column must hold.
        self.feature_types_ = {
            str(n): ("string" if t == "tensor(string)" else "float")
            for n, t in zip(names, types, strict=True)
        }
        outputs = session.get_outputs()
        self._label = outputs[0].name
        self._proba = next((o.name for o in outputs[1:] if "prob" in o.name.lower()), None)
        if self._proba is None and len(outputs) > 1:
            self._proba = outputs[1].name
        classes = _json_list(meta.get("classes")) or _class_labels(proto)
        if classes is not None:
            self.classes_ = np.asarray(classes)
        elif self._proba is not None:
            self.classes_ = np.array([0, 1])
        self.description = f"onnx({proto.producer_name or 'unknown producer'})"

    def _feed(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        X = X.loc[:, list(self.feature_names_in_)]
        if self._single:
            name, typ, _shape = self._inputs[0]
            return {name: X.to_numpy(dtype=_NUMPY.get(typ, np.float32))}
        feed: dict[str, np.ndarray] = {}
        for name, typ, _shape in self._inputs:
            col = X[name]
            dtype = _NUMPY.get(typ, np.float32)
            values = col.astype(str).to_numpy(dtype=object) if dtype is object else col.to_numpy()
            feed[name] = np.asarray(values, dtype=dtype).reshape(-1, 1)
        return feed

    def _run(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        names = [self._label] + ([self._proba] if self._proba else [])
        try:
            out = self.session.run(names, self._feed(X))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ValueError(f"onnxruntime could not run the model: {exc}") from None
        proba = None
        if self._proba is not None:
            raw = out[1]
            if isinstance(raw, list):  # ZipMap: one {class: probability} dict per row
                keys = list(self.classes_) if hasattr(self, "classes_") else list(raw[0])
                proba = np.array([[row[k] for k in keys] for row in raw], dtype=float)
            else:
                proba = np.asarray(raw, dtype=float)
                if proba.ndim == 1:
                    proba = np.column_stack([1.0 - proba, proba])
        return np.asarray(out[0]).ravel(), proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._run(X)[0]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = self._run(X)[1]
        if proba is None:
            raise AttributeError("the ONNX model has no probability output")
        return proba


def _width(shape: list[Any]) -> int | None:
    return shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None


def _json_list(raw: str | None) -> list[Any] | None:
    if not raw:
        return None
    try:
        value = loads(raw, "the ONNX model's metadata")
    except InputError:
        value = [v.strip() for v in raw.split(",")]
    return value if isinstance(value, list) and value else None


def _class_labels(proto: Any) -> list[Any] | None:
    """Class labels from ZipMap or an ``ai.onnx.ml`` classifier node's attributes."""
    from onnx import helper

    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.name in ("classlabels_int64s", "classlabels_strings"):
                values = helper.get_attribute_value(attr)
                if values:
                    return [v.decode() if isinstance(v, bytes) else int(v) for v in values]
    return None


def external_data_problems(proto: Any, folder: Path) -> list[str]:
    """Every external-data location in the graph (and subgraphs) that escapes ``folder``."""
    from onnx import TensorProto

    root = folder.resolve()
    problems = []

    def tensors(graph: Any) -> Any:
        yield from graph.initializer
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                if attr.HasField("g"):
                    yield from tensors(attr.g)
                for g in attr.graphs:
                    yield from tensors(g)

    for tensor in tensors(proto.graph):
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        location = {e.key: e.value for e in tensor.external_data}.get("location", "")
        target = (root / location).resolve()
        if (
            not location
            or Path(location).is_absolute()
            or ".." in Path(location).parts
            or not target.is_relative_to(root)
        ):
            problems.append(f"tensor {tensor.name!r} reads external data from {location!r}")
    return problems


class ONNXLoader:
    format = "onnx"

    def detect(self, head: bytes, path: Path) -> bool:
        # field 1 (ir_version) varint: 0x08 then a small version number
        # followed by another ModelProto field (producer_name, ..., graph, opset_import)
        return (
            len(head) >= 3
            and head[0] == 0x08
            and 1 <= head[1] <= 20
            and head[2] in (0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72)
        )

    def load(self, path: Path, sha256: str) -> LoadedModel:
        import onnxruntime

        proto = _parse(path)
        escapes = external_data_problems(proto, path.parent)
        if escapes:
            raise InputError(
                f"{path}: the ONNX model reads data from outside its folder: " + "; ".join(escapes),
                hint="external data files must sit in the model's folder, named by a relative "
                "path without '..'; re-export the model with its tensors embedded",
            )
        probe(
            "onnxruntime",
            path,
            hint="check that the model uses standard ONNX operators and is complete",
        )
        try:
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise InputError(
                f"{path}: onnxruntime cannot load the model ({' '.join(str(exc).split())[:300]})",
                hint="check that the model uses standard ONNX operators and is complete",
            ) from None
        return LoadedModel(ONNXModel(session, proto, path), self.format, sha256, path)


def _parse(path: Path) -> Any:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError and friends
        raise InputError(
            f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc}); "
            "it may be truncated or corrupted",
            hint="export the model to ONNX again",
        ) from None
