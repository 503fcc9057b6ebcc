"""Bounded parsers: every YAML, JSON and zip the tool reads is refused, with exit 2 and the file
named, when it hides something from a reviewer (a key given twice) or is built to exhaust the
machine (deep nesting, alias bombs, zip bombs).

Before these defences PyYAML's ``safe_load`` kept the *last* of two equal keys, so a policy a
reviewer read as ``threshold: 0.8`` ran with a later ``threshold: 0.0``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from audit.access import Rbac
from audit.cli import main
from audit.data import DatasetRequirements, validate
from audit.errors import InputError
from audit.explain.reasons import load_reason_codes
from audit.jsonio import MAX_DEPTH as JSON_DEPTH
from audit.jsonio import max_depth
from audit.loaders import load_model
from audit.loaders.skops_loader import ZipLimits, check_archive
from audit.yamlio import MAX_DEPTH, MAX_NODES, parse_yaml, read_yaml
from tests.conftest import POLICIES, ROOT, SAMPLES

FOUR_FIFTHS = POLICIES / "four-fifths.yaml"


def test_duplicate_threshold_in_a_policy_is_refused_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack: a second ``threshold`` lower in the rule. Plain safe_load applied 0.0."""
    text = FOUR_FIFTHS.read_text(encoding="utf-8")
    assert "    threshold: 0.8\n" in text
    forged = text.replace(
        "    threshold: 0.8\n", "    threshold: 0.8\n    severity: error\n    threshold: 0.0\n"
    )
    assert yaml.safe_load(forged)["rules"][0]["threshold"] == 0.0  # what used to run
    path = tmp_path / "policy.yaml"
    path.write_text(forged, encoding="utf-8")
    first = forged.splitlines().index("    threshold: 0.8") + 1
    assert main(["policy", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{first + 2}: duplicate key 'threshold' (first at line {first})" in err


def test_duplicate_key_in_the_audit_spec_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = (SAMPLES / "adult" / "audit.yaml").read_text(encoding="utf-8")
    forged = tmp_path / "audit.yaml"
    forged.write_text(spec + "label: sex\n", encoding="utf-8")
    assert main(["run", str(forged), "--output", str(tmp_path / "out"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "duplicate key 'label' (first at line" in err and "Traceback" not in err


def test_duplicate_key_in_rbac_and_reason_codes(tmp_path: Path) -> None:
    rbac = tmp_path / "rbac.yaml"
    text = (POLICIES / "rbac.yaml").read_text(encoding="utf-8")
    rbac.write_text(text + "version: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"rbac\.yaml:\d+: duplicate key 'version'"):
        Rbac.load(rbac)
    reasons = tmp_path / "reasons.yaml"
    adult = (POLICIES / "reason-codes" / "adult.yaml").read_text(encoding="utf-8")
    reasons.write_text(adult + "reasons: {}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"reasons\.yaml:\d+: duplicate key 'reasons'"):
        load_reason_codes(reasons)


@pytest.mark.parametrize(
    "text, message",
    [
        ("yes: 1\ntrue: 2\n", "f.yaml:2: duplicate key True (first at line 1)"),
        ("a: &a {x: 1}\nb: &b {y: 1}\nr:\n  <<: *a\n  <<: *b\n", "f.yaml:5: duplicate key '<<'"),
        ("r:\n  <<: {x: 1, x: 2}\n", "f.yaml:2: duplicate key 'x'"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nesting deeper than {MAX_DEPTH}"),
        ("[" * 200_000, f"f.yaml:1: nesting deeper than {MAX_DEPTH}"),
        ("".join("  " * i + f"k{i}:\n" for i in range(100)), f"f.yaml:{MAX_DEPTH}: nesting"),
        ("&a [*a]\n", "f.yaml:1: an alias refers to the node that contains it"),
    ],
)
def test_refused_documents_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_yaml(text, "f.yaml")
    assert message in info.value.message


def test_billion_laughs_is_refused_before_it_expands() -> None:
    """Nine levels of ten aliases: 10**9 nodes once expanded (pydantic or json would walk them)."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(InputError, match=f"aliases expand to more than {MAX_NODES} nodes"):
        parse_yaml("\n".join(lines) + "\n", "laughs.yaml")


def test_merge_keys_keep_their_meaning() -> None:
    data, _ = parse_yaml("base: &b {x: 1, y: 2}\nr:\n  <<: *b\n  y: 3\n", "f.yaml")
    assert data["r"] == {"x": 1, "y": 3}


def test_every_shipped_yaml_file_parses_strictly() -> None:
    files = [
        p
        for p in [*ROOT.glob("policies/**/*.yaml"), *ROOT.glob("samples/**/*.yaml")]
        if p.is_file()
    ]
    assert len(files) >= 10
    for path in files:
        data, _ = read_yaml(path)
        assert data == yaml.safe_load(path.read_text(encoding="utf-8")), path


def test_no_yaml_parsing_outside_the_strict_loader() -> None:
    """Every YAML read in the package goes through audit.yamlio (StrictLoader)."""
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in (ROOT / "audit").rglob("*.py")
        if p.name != "yamlio.py"
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if any(
            f"yaml.{f}" in line for f in ("safe_load", "load(", "compose", "full_load", "Loader")
        )
    ]
    assert offenders == []


# --- JSON ---------------------------------------------------------------------------------------


def _spec_for_model(tmp_path: Path, model: Path) -> Path:
    spec = {
        "name": "bounded",
        "model": str(model),
        "dataset": str(SAMPLES / "adult" / "adult_test.csv"),
        "label": "income",
        "positive_label": ">50K",
        "sensitive_features": ["sex"],
        "policy": str(POLICIES / "baseline.yaml"),
    }
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_deeply_nested_xgboost_json_exits_2_before_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the bound, json.loads hit RecursionError here: a traceback and exit 5."""
    deep = 100_000
    data = b'{"learner": ' + b"[" * deep + b"]" * deep + b"}"
    with pytest.raises(RecursionError):
        json.loads(data)
    model = tmp_path / "model.json"
    model.write_bytes(data)
    spec = _spec_for_model(tmp_path, model)
    assert main(["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert f"{model}: JSON nested {deep + 1} levels deep; audit reads at most {JSON_DEPTH}" in err
    assert "Traceback" not in err


def test_real_xgboost_json_is_far_below_the_bound(tmp_path: Path) -> None:
    import xgboost

    frame = pd.read_csv(SAMPLES / "adult" / "adult_test.csv").iloc[:2000]
    x = frame[["age", "hours_per_week", "education_num"]]
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 8}, xgboost.DMatrix(x, frame["age"] > 40), 20
    )
    path = tmp_path / "model.json"
    booster.save_model(str(path))
    assert max_depth(path.read_bytes()) < 20
    assert load_model(path).format == "xgboost"


def test_deeply_nested_report_json_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    report.write_bytes(b'{"schema_version": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    assert main(["report", "show", str(report)]) == 2
    err = capsys.readouterr().err
    assert "JSON nested 50001 levels deep" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "data, depth",
    [
        (b"1", 0),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[{{{", "\\"[[[", [[]]]', 3),  # brackets in strings, escaped quotes
    ],
)
def test_depth_scan_skips_strings(data: bytes, depth: int) -> None:
    assert max_depth(data) == depth


# --- skops zips ---------------------------------------------------------------------------------


def test_zip_bomb_skops_file_is_refused_before_skops_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """64 MiB of zeros deflate to ~64 KiB (1000:1); skops would inflate every byte."""
    model = tmp_path / "model.skops"
    with zipfile.ZipFile(model, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schema.json", "{}")
        zf.writestr("bomb.npy", bytes(64 << 20))
    spec = _spec_for_model(tmp_path, model)
    assert main(["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert f"{model}: member 'bomb.npy' is compressed" in err and "zip bomb" in err


def test_too_many_members_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model.skops"
    with zipfile.ZipFile(model, "w") as zf:
        zf.writestr("schema.json", "{}")
        for i in range(ZipLimits().members):
            zf.writestr(f"m{i}", b"")
    with pytest.raises(InputError, match=r"has 10001 members; audit reads at most 10000"):
        load_model(model)


def test_member_and_total_size_limits(tmp_path: Path) -> None:
    model = tmp_path / "model.skops"
    with zipfile.ZipFile(model, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("schema.json", "{}")
        zf.writestr("a.npy", bytes(3000))
        zf.writestr("b.npy", bytes(3000))
    with pytest.raises(InputError, match=r"member 'a.npy' expands to 3000 bytes"):
        check_archive(model, ZipLimits(member_bytes=2000))
    with pytest.raises(InputError, match=r"expands to more than 5000 bytes \(at member 'b.npy'\)"):
        check_archive(model, ZipLimits(total_bytes=5000))
    check_archive(model)  # within the default limits


@pytest.mark.parametrize("name", ["adult/models/adult-gbm.skops", "german/models/german-rf.skops"])
def test_shipped_skops_models_pass_the_limits(name: str) -> None:
    check_archive(SAMPLES / name)


# --- datasets -----------------------------------------------------------------------------------


def _decisions_spec(tmp_path: Path, dataset: str) -> Path:
    spec = tmp_path / "audit.yaml"
    spec.write_text(
        f"name: t\npredictions: y\ndataset: {dataset}\nlabel: y\npositive_label: 1\n"
        f"sensitive_features: [sex]\npolicy: {POLICIES / 'four-fifths.yaml'}\n",
        encoding="utf-8",
    )
    return spec


def test_csv_with_a_header_and_no_rows_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.csv").write_text("id,sex,age,y\n", encoding="utf-8")
    spec = _decisions_spec(tmp_path, "d.csv")
    assert main(["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "d.csv cannot be audited" in err and "it has no rows" in err


def test_a_header_only_dataset_for_a_model_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: with a model to feed, the empty numeric input columns crashed (IndexError, exit 5)."""
    header = (SAMPLES / "german" / "german_test.csv").read_text("utf-8").splitlines()[0]
    (tmp_path / "empty.csv").write_text(header + "\n", encoding="utf-8")
    argv = ["run", str(SAMPLES / "german" / "audit.yaml"), "--dataset", str(tmp_path / "empty.csv")]
    assert main([*argv, "--output", str(tmp_path / "out"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "it has no rows" in err and "internal error" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "column, values, shown",
    [
        ("sex", pa.array([[1], [2], [1], [2]]), "'sex' (list<element: int64>)"),
        ("age", pa.array([[1, 2], [3], [4], [5]]), "'age' (list<element: int64>)"),
        ("sex", pa.array([{"a": 1}] * 4), "'sex' (struct<a: int64>)"),
    ],
)
def test_parquet_list_and_struct_columns_exit_2_naming_the_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], column: str, values: pa.Array, shown: str
) -> None:
    """Before: a list<int> sensitive feature crashed counting groups (unhashable ndarray, exit 5)."""
    columns = {"sex": pa.array(["m", "f", "m", "f"]), "age": pa.array([1, 2, 3, 4])}
    columns[column] = values
    table = pa.table({**columns, "y": pa.array([1, 0, 1, 0])})
    pq.write_table(table, tmp_path / "d.parquet")
    spec = _decisions_spec(tmp_path, "d.parquet")
    assert main(["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert f"column {shown} holds nested values" in err and "Traceback" not in err


def test_validate_refuses_list_cells_in_a_frame() -> None:
    frame = pd.DataFrame({"sex": [["m"], ["f"]], "y": [1, 0]})
    req = DatasetRequirements(label="y", positive_label=1, sensitive=("sex",))
    with pytest.raises(InputError, match=r"column 'sex' holds list values, .*\(data rows 1, 2\)"):
        validate(frame, req, None, source="frame")
