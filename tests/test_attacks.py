"""Security promises, tested by attacking them: hostile model files are refused, never run.

Every attack file carries a payload that would create a marker file. Each is fed to the real
loading path (``audit.loaders.load_model``, and the CLI for every file) and must be refused with
an InputError / exit 2, no traceback, nothing written, and the marker absent. One test proves the
pickle payloads are live: unpickled unsafely in a subprocess, they do create their markers.
Truncated and corrupted files of every accepted format must also exit 2 with a message.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.cli import main
from audit.digest import sha256_file
from audit.errors import InputError
from audit.loaders import load_model
from tests.attack_files.build import ATTACKS, PICKLE_ATTACKS
from tests.conftest import SAMPLES

ADULT_SPEC = SAMPLES / "adult" / "audit.yaml"
ADULT_DATA = SAMPLES / "adult" / "adult_test.csv"


@pytest.fixture
def attack(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, Path]:
    marker = tmp_path / "PWNED"
    folder = tmp_path / "files"
    folder.mkdir()
    return ATTACKS[request.param](folder, marker), marker


def test_pickle_payloads_are_live(tmp_path: Path) -> None:
    """Without audit, these files run their payload: the refusals below are not vacuous."""
    paths = []
    for i, build in enumerate(PICKLE_ATTACKS.values()):
        folder = tmp_path / str(i)
        folder.mkdir()
        paths.append((build(folder, folder / "PWNED"), folder / "PWNED"))
    code = (
        "import sys, joblib\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        joblib.load(p)\n"
        "    except Exception:\n"
        "        pass\n"
    )
    subprocess.run([sys.executable, "-c", code, *(str(p) for p, _ in paths)], check=True)
    assert [m.exists() for _, m in paths] == [True] * len(paths)


@pytest.mark.parametrize("attack", list(ATTACKS), indirect=True)
def test_load_model_refuses(attack: tuple[Path, Path]) -> None:
    path, marker = attack
    with pytest.raises(InputError) as info:
        load_model(path)
    assert not marker.exists()
    text = info.value.diagnostics()
    assert str(path) in text
    if path.suffix in (".pkl", ".joblib", ".pt"):
        assert "runs whatever code" in text and "skops" in text


@pytest.mark.parametrize("attack", list(PICKLE_ATTACKS), indirect=True)
def test_pinned_pickle_opt_in_still_refuses_code(attack: tuple[Path, Path]) -> None:
    """Even a registered file (named by its digest) with its digest pinned may not import code."""
    path, marker = attack
    digest = sha256_file(path)
    stored = path.with_name(digest)
    shutil.copyfile(path, stored)
    with pytest.raises(InputError) as info:
        load_model(stored, digest, allow_pickle_digest=digest)
    assert not marker.exists()
    assert "allow-list" in info.value.message


@pytest.mark.parametrize("attack", list(ATTACKS), indirect=True)
def test_cli_refuses_with_exit_2(
    attack: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, marker = attack
    out = tmp_path / "reports"
    code = main(["run", str(ADULT_SPEC), "--model", str(path), "--output", str(out), "--no-pdf"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert not marker.exists()
    assert not out.exists()
    assert "Traceback" not in err and err.startswith("error: ")


def test_onnx_escape_message_names_the_path(tmp_path: Path) -> None:
    path = ATTACKS["onnx external data escaping its folder"](tmp_path, tmp_path / "PWNED")
    with pytest.raises(InputError, match=r"outside its folder.*\.\./\.\./secret\.bin"):
        load_model(path)


def test_skops_edit_names_the_type(tmp_path: Path) -> None:
    path = ATTACKS["skops schema naming os.system"](tmp_path, tmp_path / "PWNED")
    with pytest.raises(InputError, match=r"os\.system"):
        load_model(path)


# --- truncated and corrupted files of every accepted format ------------------------------------


def _models(folder: Path) -> dict[str, Path]:
    """One small real model per accepted format."""
    import lightgbm
    import onnx
    import skops.io as sio
    import xgboost
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((200, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0.5).astype(int)
    paths = {}
    paths["skops"] = folder / "m.skops"
    sio.dump(LogisticRegression().fit(X, y), paths["skops"])
    booster = xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(X, y), 5)
    for ext in ("json", "ubj"):
        paths[f"xgboost-{ext}"] = folder / f"m.{ext}"
        booster.save_model(str(paths[f"xgboost-{ext}"]))
    lgb = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, y), 5)
    paths["lightgbm"] = folder / "m.txt"
    lgb.save_model(str(paths["lightgbm"]))
    onx = to_onnx(LogisticRegression().fit(X.to_numpy(np.float32), y), X.to_numpy(np.float32))
    onnx.helper.set_model_props(onx, {"feature_names": '["a", "b", "c"]'})
    paths["onnx"] = folder / "m.onnx"
    paths["onnx"].write_bytes(onx.SerializeToString())
    return paths


def _damaged(path: Path, how: str) -> Path:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    else:  # corrupted: overwrite the middle fifth with noise, keep the header
        rng = np.random.default_rng(1)
        start, width = len(data) * 2 // 5, max(8, len(data) // 5)
        data[start : start + width] = rng.integers(0, 256, width, dtype=np.uint8).tobytes()
    out = path.with_name(f"{how}-{path.name}")
    out.write_bytes(bytes(data))
    return out


@pytest.fixture(scope="module")
def good_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _models(tmp_path_factory.mktemp("models"))


@pytest.mark.parametrize("how", ["truncated", "corrupted"])
@pytest.mark.parametrize("fmt", ["skops", "xgboost-json", "xgboost-ubj", "lightgbm", "onnx"])
def test_damaged_model_exits_2(
    good_models: dict[str, Path],
    fmt: str,
    how: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    good = good_models[fmt]
    load_model(good)  # the undamaged file loads
    bad = _damaged(good, how)
    out = tmp_path / "reports"
    code = main(["run", str(ADULT_SPEC), "--model", str(bad), "--output", str(out), "--no-pdf"])
    captured = capfd.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "error: " in captured.err and str(bad) in captured.err
    assert not out.exists()


@pytest.mark.parametrize("how", ["truncated", "corrupted"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_damaged_dataset_exits_2(
    fmt: str, how: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(ADULT_DATA, dtype=str).head(3000)
    good = tmp_path / f"data.{fmt}"
    if fmt == "csv":
        frame.to_csv(good, index=False)
    else:
        frame.to_parquet(good)
    bad = _damaged(good, how)
    out = tmp_path / "reports"
    code = main(["run", str(ADULT_SPEC), "--dataset", str(bad), "--output", str(out), "--no-pdf"])
    captured = capfd.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "error: " in captured.err
    assert not out.exists()


# --- a parser that crashes or hangs takes down a child, never the audit ------------------------

_CRASH = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
_HANG = "import time\ntime.sleep(60)\n"


@pytest.mark.parametrize(
    ("fmt", "parser"),
    [("xgboost-ubj", "XGBoost UBJSON"), ("lightgbm", "LightGBM"), ("onnx", "onnxruntime")],
)
def test_a_parser_crash_is_caught_in_the_child(
    good_models: dict[str, Path], fmt: str, parser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The native parsers run first in a child process: when it dies of a signal (as XGBoost's
    UBJSON parser did on a corrupted file), loading stops with a clear InputError naming the
    file, before the library parses the file in the audit's own process. The child here is
    made to crash on a good file, so only the isolation can explain the error."""
    from audit.loaders import isolate

    load_model(good_models[fmt])  # loads when the child parses it
    monkeypatch.setitem(isolate.PROBES, parser, _CRASH)
    with pytest.raises(InputError, match=rf"{parser} parser crashed") as caught:
        load_model(good_models[fmt])
    assert str(good_models[fmt]) in str(caught.value)


def test_a_parser_that_hangs_is_stopped(
    good_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit.loaders import isolate

    monkeypatch.setitem(isolate.PROBES, "LightGBM", _HANG)
    monkeypatch.setattr(isolate, "TIMEOUT", 1)
    with pytest.raises(InputError, match="did not finish reading the file in 1 s"):
        load_model(good_models["lightgbm"])


def test_pickle_bytes_that_warn_while_parsed_still_get_a_clear_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Naming what a refused pickle imports means parsing its opcodes; a protocol-0 string with
    an invalid escape makes that parse warn. The test run turns warnings into errors, as a
    strict deployment might: the refusal must still be exit 2, and the pickle inside a .pt zip
    is what is parsed (not the zip's own bytes, which once made this test flaky: the zip's
    timestamp bytes sometimes decoded as such a string)."""
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", b"S'\\q'\np0\ncos\nsystem\np1\n.")
    code = main(["run", str(ADULT_SPEC), "--model", str(path), "--output", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "references os.system" in err


def test_a_file_the_child_cannot_parse_is_never_parsed_here(
    good_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child that fails with an exception (not a crash) also stops the load, quoting the
    error: the same bytes may crash the audit's own process (XGBoost's UBJSON parser raised in
    one process and segfaulted in another on the same corrupted file). The in-process parser is
    replaced by one that fails the test if it is ever reached."""
    import xgboost

    from audit.loaders import isolate

    monkeypatch.setitem(isolate.PROBES, "XGBoost UBJSON", "raise SystemExit('bad bytes here')")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed in the audit's own process")

    monkeypatch.setattr(xgboost.Booster, "load_model", never)
    with pytest.raises(InputError, match=r"XGBoost UBJSON: bad bytes here"):
        load_model(good_models["xgboost-ubj"])
