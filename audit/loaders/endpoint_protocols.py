"""The two wire protocols an endpoint model speaks: how rows are sent and answers read.

- ``mlflow``: the MLflow scoring server (``mlflow models serve``): ``POST .../invocations`` with
  ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``, answered by
  ``{"predictions": [...]}`` (one entry per row: a list of class probabilities, a label or a
  value).
- ``kserve-v2``: the KServe v2 / Open Inference Protocol: ``POST .../v2/models/<m>/infer`` with
  one input tensor per column (``BOOL``, ``INT64``, ``FP64`` or ``BYTES``, ``shape [n]``,
  ``parameters.content_type: "pd"`` so that the server rebuilds a DataFrame), answered by
  ``{"outputs": [{"shape": [n, k], "data": [...row-major...]}]}``; ``GET .../v2/models/<m>`` is
  the model's metadata (name, versions, inputs).

Encoding is deterministic (same rows, same bytes), so the call log's digest is reproducible.
Every answer is checked before it is used: its row count, its shape, and each value's type
(probabilities: finite numbers in [0, 1]); a bad answer is an InputError naming the endpoint.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

PROTOCOLS = ("mlflow", "kserve-v2")


def _cell(value: Any) -> Any:
    """A JSON scalar for one input value (missing values: null)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _column(series: pd.Series) -> list[Any]:
    return [_cell(v) for v in series.tolist()]


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _datatype(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series.dtype):
        return "BOOL"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "INT64"
    if pd.api.types.is_float_dtype(series.dtype):
        return "FP64"
    return "BYTES"


def encode(protocol: str, frame: pd.DataFrame) -> bytes:
    """The request body scoring ``frame``'s rows."""
    columns = [_column(frame[c]) for c in frame.columns]
    if protocol == "mlflow":
        data = [list(row) for row in zip(*columns, strict=True)] if columns else []
        split = {"columns": [str(c) for c in frame.columns], "data": data}
        return _dumps({"dataframe_split": split})
    inputs = [
        {"name": str(c), "shape": [len(frame)], "datatype": _datatype(frame[c]), "data": values}
        for c, values in zip(frame.columns, columns, strict=True)
    ]
    return _dumps({"inputs": inputs, "parameters": {"content_type": "pd"}})


def _fail(shown: str, what: str, hint: str | None = None) -> InputError:
    return InputError(
        f"model endpoint {shown}: {what}",
        hint=hint
        or "check endpoint.protocol, endpoint.output and endpoint.classes against what the "
        "server returns",
    )


def _answer(protocol: str, doc: Any, shown: str) -> tuple[list[Any], list[int] | None]:
    """(flat or nested values, the stated shape) of an answer document."""
    if protocol == "mlflow":
        if not isinstance(doc, dict) or not isinstance(doc.get("predictions"), list):
            raise _fail(shown, 'the answer has no "predictions" list (MLflow scoring protocol)')
        return doc["predictions"], None
    outputs = doc.get("outputs") if isinstance(doc, dict) else None
    if not isinstance(outputs, list) or not outputs or not isinstance(outputs[0], dict):
        raise _fail(shown, 'the answer has no "outputs" tensor (KServe v2 protocol)')
    out = outputs[0]
    shape, data = out.get("shape"), out.get("data")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        or not isinstance(data, list)
    ):
        raise _fail(shown, "the output tensor has no valid shape and data")
    if math.prod(shape) != len(data):
        raise _fail(shown, f"the output tensor's shape {shape} does not hold {len(data)} values")
    return data, shape


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def decode(
    protocol: str, doc: Any, *, rows: int, output: str, n_classes: int | None, shown: str
) -> np.ndarray:
    """The answer for ``rows`` rows as an array: (rows, n_classes) float probabilities, or
    (rows,) labels or values."""
    data, shape = _answer(protocol, doc, shown)
    if shape is not None:  # KServe: a flat row-major tensor
        if shape[0] != rows:
            raise _fail(shown, f"{shape[0]} answers for {rows} rows were sent")
        if len(shape) > 1:
            width = math.prod(shape[1:])
            data = [data[i * width : (i + 1) * width] for i in range(rows)]
    if len(data) != rows:
        raise _fail(shown, f"{len(data)} answers for {rows} rows were sent")
    if output == "probabilities":
        return _probabilities(data, n_classes, shown)
    flat = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in data]
    for i, v in enumerate(flat):
        if output == "values" and not _number(v):
            raise _fail(shown, f"answer {i} is {_show(v)}, not a finite number")
        if output == "labels" and (v is None or isinstance(v, list | dict)):
            raise _fail(shown, f"answer {i} is {_show(v)}, not a class label")
    return np.asarray(flat, dtype=float if output == "values" else object)


def _probabilities(data: list[Any], n_classes: int | None, shown: str) -> np.ndarray:
    for i, row in enumerate(data):
        if not isinstance(row, list) or (n_classes is not None and len(row) != n_classes):
            size = len(row) if isinstance(row, list) else "not a list"
            raise _fail(
                shown,
                f"answer {i} has {size} probabilities, expected {n_classes} (one per class "
                "in endpoint.classes)",
            )
        for v in row:
            if not _number(v) or not 0.0 <= v <= 1.0:
                raise _fail(shown, f"answer {i} holds {_show(v)}, not a probability in [0, 1]")
    out = np.asarray(data, dtype=float)
    if out.ndim != 2:
        raise _fail(shown, "the answers are not rows of the same number of probabilities")
    return out


def _show(value: Any) -> str:
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= 40 else text[:37] + "..."
