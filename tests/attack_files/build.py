"""Hostile model files, generated on demand (no committed binaries).

Each builder writes a file into a folder and returns its path; every payload, if it ever ran,
would create ``marker`` (``touch <marker>``). Tests assert the marker is absent after audit refused
the file, and one test proves the payloads are live by unpickling them unsafely in a subprocess.
"""

from __future__ import annotations

import json
import os
import pickle
import shlex
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _command(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


def pickle_os_system(folder: Path, marker: Path, protocol: int = 4) -> Path:
    path = folder / f"os-system-p{protocol}.pkl"
    path.write_bytes(pickle.dumps(_System(_command(marker)), protocol=protocol))
    return path


def _text_pickle(folder: Path, name: str, opcodes: str) -> Path:
    path = folder / name
    path.write_bytes(opcodes.encode())
    return path


def pickle_getattr_import(folder: Path, marker: Path) -> Path:
    """builtins.getattr(builtins.__import__('os'), 'system')(cmd), hand-written opcodes."""
    cmd = _command(marker)
    ops = f"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVsystem\ntR(V{cmd}\ntR."
    return _text_pickle(folder, "getattr-import.pkl", ops)


def pickle_methodcaller_importlib(folder: Path, marker: Path) -> Path:
    """operator.methodcaller('system', cmd)(importlib.import_module('os'))."""
    cmd = _command(marker)
    ops = f"coperator\nmethodcaller\n(Vsystem\nV{cmd}\ntR(cimportlib\nimport_module\n(Vos\ntRtR."
    return _text_pickle(folder, "methodcaller-importlib.pkl", ops)


def pickle_resolve_name(folder: Path, marker: Path) -> Path:
    """pkgutil.resolve_name('os:system')(cmd)."""
    cmd = _command(marker)
    ops = f"cpkgutil\nresolve_name\n(Vos:system\ntR(V{cmd}\ntR."
    return _text_pickle(folder, "resolve-name.pkl", ops)


def joblib_payload_after_array(folder: Path, marker: Path) -> Path:
    """A joblib file whose pickle stream holds a numpy array first, then the payload."""
    import joblib

    path = folder / "model.joblib"
    joblib.dump({"coef": np.arange(4096, dtype=np.float64), "x": _System(_command(marker))}, path)
    return path


def joblib_compressed(folder: Path, marker: Path) -> Path:
    import joblib

    path = folder / "model-compressed.joblib"
    joblib.dump({"coef": np.arange(16.0), "x": _System(_command(marker))}, path, compress=3)
    return path


def zip_pt(folder: Path, marker: Path) -> Path:
    """A PyTorch-style archive: a zip holding ``archive/data.pkl``, named ``.pt``."""
    path = folder / "model.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(_System(_command(marker)), protocol=2))
        zf.writestr("archive/version", "3\n")
    return path


def skops_os_system(folder: Path, marker: Path) -> Path:
    """A real skops file whose schema was edited so a function node names ``os.system``."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.default_rng(0)
    X = rng.random((40, 2))
    model = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression())
    model.fit(X, (X[:, 0] > 0.5).astype(int))
    clean = folder / "clean.skops"
    sio.dump(model, clean)
    path = folder / "edited.skops"
    with zipfile.ZipFile(clean) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "schema.json":
                schema = json.loads(data)
                assert _rename_function(schema, ("numpy", "log1p"), ("os", "system"))
                data = json.dumps(schema).encode()
            dst.writestr(info, data)
    clean.unlink()
    return path


def _rename_function(node: object, old: tuple[str, str], new: tuple[str, str]) -> bool:
    """Point every skops FunctionNode naming ``old`` (module, name) at ``new``."""
    found = False
    if isinstance(node, dict):
        if (
            node.get("__loader__") == "FunctionNode"
            and (
                node.get("__module__"),
                node.get("__class__"),
            )
            == old
        ):
            node["__module__"], node["__class__"] = new
            found = True
        for value in node.values():
            found = _rename_function(value, old, new) or found
    elif isinstance(node, list):
        for value in node:
            found = _rename_function(value, old, new) or found
    return found


def onnx_external_escape(folder: Path, marker: Path, location: str = "../../secret.bin") -> Path:
    """An ONNX model whose initializer's external data path points outside its folder."""
    import onnx
    from onnx import TensorProto, helper

    secret = marker.parent / "secret.bin"
    secret.write_bytes(np.arange(2, dtype=np.float32).tobytes())
    weight = TensorProto()
    weight.name, weight.data_type = "w", TensorProto.FLOAT
    weight.dims.append(2)
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "escape",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    sub = folder / "deep" / "er"
    sub.mkdir(parents=True, exist_ok=True)
    path = sub / "model.onnx"
    path.write_bytes(model.SerializeToString())
    onnx.load(str(path), load_external_data=False)  # well-formed apart from the location
    return path


#: Every pickle-based attack: name -> builder(folder, marker).
PICKLE_ATTACKS: dict[str, Callable[[Path, Path], Path]] = {
    "os.system protocol 0": lambda f, m: pickle_os_system(f, m, protocol=0),
    "os.system protocol 4": pickle_os_system,
    "getattr/__import__ chain": pickle_getattr_import,
    "operator.methodcaller + importlib": pickle_methodcaller_importlib,
    "pkgutil.resolve_name": pickle_resolve_name,
    "joblib payload after numpy array": joblib_payload_after_array,
    "joblib compressed": joblib_compressed,
}
#: Every attack file: the pickles, plus formats that hide or point at something else.
ATTACKS: dict[str, Callable[[Path, Path], Path]] = {
    **PICKLE_ATTACKS,
    "pickle inside a zip named .pt": zip_pt,
    "skops schema naming os.system": skops_os_system,
    "onnx external data escaping its folder": onnx_external_escape,
    "onnx external data at an absolute path": lambda f, m: onnx_external_escape(
        f, m, location=str(m.parent / "secret.bin")
    ),
}
