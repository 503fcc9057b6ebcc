"""The fast path of an audit of recorded decisions (issue #18 part 4; benchmarks/bench_recorded.py).

- a no-model audit imports none of the heavy model, explanation and cluster libraries (a fresh
  interpreter runs the real CLI and lists ``sys.modules``): an import added back at the top of a
  module on the audit's path fails here;
- the CSV text read by pyarrow (:mod:`audit.data.csv_arrow`) is the frame pandas' reader gives,
  or the file is left to pandas: tricky files read both ways;
- numbers parsed by pyarrow (:func:`audit.data.csv_reader._to_number`) are those
  ``pd.to_numeric`` gives, to the bit, with the same dtype: a seeded draw of numbers of every
  shape, each column inferred and declared, against the conversion as it was written before;
- the published report schema is itself valid (each write no longer checks it).
"""

from __future__ import annotations

import importlib
import json
import random
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

from audit.data import csv_reader
from audit.data.csv_arrow import read_text
from audit.data.csv_reader import sniff_csv, text_options
from audit.report import report_schema, validate_report
from tests.conftest import POLICIES, ROOT, SAMPLES

#: Libraries an audit of recorded decisions has no use for (models, explanations, clusters,
#: plots, the comparison library); none may be imported by it.
HEAVY = (
    "shap",
    "numba",
    "llvmlite",
    "dask",
    "distributed",
    "sklearn",
    "xgboost",
    "lightgbm",
    "onnx",
    "onnxruntime",
    "skops",
    "joblib",
    "fairlearn",
    "matplotlib",
    "torch",
)
#: Imported only to write the PDF (--no-pdf) or to sign it.
PDF_ONLY = ("weasyprint", "pyhanko", "fontTools")

_PROBE = """
import json, sys
from audit.cli import main
code = main(sys.argv[1:])
print(json.dumps([code, sorted(sys.modules)]))
"""


def _recorded_audit(tmp_path: Path, rows: int = 400) -> Path:
    """A spec auditing recorded decisions on rows of the Adult test sample (no model)."""
    sample = pd.read_csv(SAMPLES / "adult" / "adult_test.csv", dtype=str, nrows=rows)
    rng = np.random.default_rng(0)
    sample.insert(0, "applicant_id", [f"A{i:05d}" for i in range(len(sample))])
    sample["decision"] = np.where(rng.random(len(sample)) < 0.3, ">50K", "<=50K")
    data = tmp_path / "decisions.csv"
    sample.to_csv(data, index=False)
    spec = tmp_path / "audit.yaml"
    spec.write_text(
        f"name: recorded\ndataset: {data}\nlabel: income\npositive_label: '>50K'\n"
        "predictions: decision\nid_column: applicant_id\nsensitive_features: [sex, race]\n"
        f"policy: {POLICIES / 'four-fifths.yaml'}\noutput: {tmp_path / 'out'}\n"
    )
    return spec


def _modules_after(spec: Path, *flags: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, "run", str(spec), "-q", *flags],
        capture_output=True,
        text=True,
        cwd=spec.parent,
        env={**_env(), "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    code, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert code in (0, 1), proc.stderr[-2000:]
    return set(modules) | {m.split(".")[0] for m in modules}


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_a_recorded_decisions_audit_imports_no_model_or_cluster_library(tmp_path: Path) -> None:
    """Before issue #18 part 4 this was already so for these libraries; the test keeps it so (a
    top-level ``import sklearn.ensemble`` added to audit/loaders/__init__.py fails it)."""
    modules = _modules_after(_recorded_audit(tmp_path), "--no-pdf", "--no-sign")
    assert sorted(modules & set(HEAVY)) == []
    assert sorted(modules & set(PDF_ONLY)) == []  # nothing of the PDF without one
    # audit.explain re-exports lazily: no explainer or proxy model is loaded without a model
    assert sorted(m for m in modules if m.startswith("audit.explain.")) == [
        "audit.explain.interface",
        "audit.explain.reasons",
    ]


def test_audit_explain_re_exports_every_name_it_lists() -> None:
    import audit.explain as explain

    assert set(explain.__all__) == set(explain._WHERE)
    for name in explain.__all__:
        assert getattr(explain, name) is getattr(
            importlib.import_module(f"audit.explain.{explain._WHERE[name]}"), name
        )
    with pytest.raises(AttributeError):
        explain.no_such_name  # noqa: B018


def test_the_pdf_libraries_load_when_the_pdf_is_written(tmp_path: Path, monkeypatch) -> None:
    """The other side of the test above: it would pass vacuously if nothing were ever imported.
    Printed in-process (AUDIT_PDF_WORKER=0) the audit loads WeasyPrint; by default the PDF is
    printed by the child started with the audit, so the audit's own process never loads it."""
    spec = _recorded_audit(tmp_path)
    monkeypatch.setenv("AUDIT_PDF_WORKER", "0")
    modules = _modules_after(spec, "--no-sign")
    assert "weasyprint" in modules
    assert sorted(modules & set(HEAVY)) == []
    monkeypatch.delenv("AUDIT_PDF_WORKER")
    modules = _modules_after(spec, "--no-sign")
    assert "weasyprint" not in modules
    pdfs = sorted((tmp_path / "out").glob("*/v*/report.pdf"))
    assert len(pdfs) == 2 and all(p.read_bytes().startswith(b"%PDF-") for p in pdfs)


# -- the CSV text: pyarrow's reader gives pandas' frame, or leaves the file to pandas ----------

TRICKY = {
    "plain": "a,b,c\n1,x,2.5\n2,y,3\n",
    "spaces after delimiters": "a, b, c\n1, x, 2.5\n2,  y,3\n3,   ,4\n",
    "quoted delimiters and quotes": 'a,b\n1,"x,y"\n2,"he said ""hi"""\n',
    "space before a quote": 'a,b\n1, "x"\n2," y"\n',
    "newline in quotes": 'a,b\n1,"x\ny"\n2,z\n',
    "quote inside a field": 'a,b\n1,x"y\n2,"x"y\n',
    "empty quoted field": 'a,b\n1,""\n2,\n',
    "CRLF": "a,b\r\n1,x\r\n2,y\r\n",
    "blank lines": "a,b\n1,x\n\n2,y\n\n",
    "short row": "a,b,c\n1,x\n2,y,3\n",
    "long row": "a,b\n1,x,3\n2,y,4\n",
    "trailing delimiter": "a,b\n1,x,\n2,y,\n",
    "duplicate header": "a,a\n1,2\n",
    "empty header name": "a,,c\n1,2,3\n",
    "header only": "a,b\n",
    "one column": "a\n1\n  \n2\n",
    "byte-order mark": "\ufeffa,b\n1,x\n",
    "tab delimited": "a\tb\n1\t x\n2\ty\n",
    "semicolons, decimal commas": "a;b\n1;2,5\n3;4\n",
    "NA is text": "a,b\nNA,null\nnan,None\n",
    "number shapes": "a,b,c,d\n007,+5,-0,1e3\n1,2,-0.0,.5\n,3,,-.5\n",
    "beyond int64": "a,b\n9223372036854775808,12345678901234567\n1,\n",
    "no final newline": "a,b\n1,x",
    "tab after delimiter": "a,b\n1,\tx\n",
    "line of spaces": "a,b\n1,x\n   \n2,y\n",
    "quoted header after space": 'a, "b"\n1,2\n',
    "non-ASCII": "a,b\n1,é\n2,日本\n",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_arrow_text_is_pandas_text_or_pandas_reads(tmp_path: Path, name: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(TRICKY[name].encode("utf-8"))
    dialect = sniff_csv(path)
    got = read_text(path, dialect.encoding, dialect.delimiter, None)
    try:
        want = pd.read_csv(path, **text_options(dialect), engine="c")
    except (ValueError, pd.errors.ParserError):
        assert got is None  # pandas words the error
        return
    if got is not None:
        pd.testing.assert_frame_equal(got, want)
        pd.testing.assert_frame_equal(
            csv_reader.convert(got, {}, source="x"), csv_reader.convert(want, {}, source="x")
        )


def test_arrow_text_keeps_the_wanted_columns_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b,c,d\n1,x,2,y\n")
    got = read_text(path, "utf-8", ",", ["d", "b", "zz"])
    assert got is not None and list(got.columns) == ["b", "d"]


def test_the_shipped_sample_reads_the_same_either_way() -> None:
    path = SAMPLES / "adult" / "adult_test.csv"
    dialect = sniff_csv(path)
    got = read_text(path, dialect.encoding, dialect.delimiter, None)
    assert got is not None  # the fast path is taken for an ordinary file
    want = pd.read_csv(path, **text_options(dialect), engine="c")
    pd.testing.assert_frame_equal(got, want)


# -- numbers: pyarrow's parse where it is exactly pandas', pandas' elsewhere --------------------


def _as_written_before(values: pd.Series, declared: str | None) -> pd.Series:
    """The conversion of csv_reader before pyarrow parsed numbers (pd.to_numeric)."""
    present = values.dropna().astype(str)
    if declared is None:
        if present.empty:
            return values
        if present.str.fullmatch(csv_reader._PLAIN_INT.pattern).all():
            numbers = pd.to_numeric(values)
            return numbers if values.isna().any() else numbers.astype(np.int64)
        if present.str.fullmatch(csv_reader._PLAIN_NUMBER.pattern).all():
            return pd.to_numeric(values).astype(np.float64)
        return values
    numbers = pd.to_numeric(values)
    if declared == "float":
        return numbers.astype(np.float64)
    return numbers if values.isna().any() else numbers.astype(np.int64)


def _number(rng: random.Random, whole: bool) -> str:
    sign = rng.choice(["", "", "-", "+"])
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20))).lstrip("0")
    text = sign + (digits or "0")
    if not whole:
        text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18)))
        if rng.random() < 0.2:
            text += f"e{rng.randint(-30, 30)}"
    return text[: rng.choice([8, 40])]


def test_numbers_parse_as_pandas_parses_them() -> None:
    """Whole numbers and decimals of 1 to 20 digits, signs, exponents, "-0", gaps; each column
    inferred and declared integer and float. The bits and the dtype must be pandas'."""
    rng = random.Random(18)
    checked = 0
    for _ in range(600):
        values = [_number(rng, rng.random() < 0.5) for _ in range(rng.randint(1, 40))]
        if rng.random() < 0.2:
            values[rng.randrange(len(values))] = "-0"
        if rng.random() < 0.3:
            values[rng.randrange(len(values))] = None  # type: ignore[call-overload]
        column = pd.Series(values, dtype="str", name="x")
        for declared in (None, "integer", "float"):
            pattern = {"integer": csv_reader._ANY_INT, "float": csv_reader._ANY_NUMBER}
            if declared and not column.dropna().str.fullmatch(pattern[declared].pattern).all():
                continue  # a problem reported, not a conversion (tests/test_data.py)
            frame = pd.DataFrame({"x": column})
            dtypes = {"x": declared} if declared else {}
            try:
                want = _as_written_before(column, declared)
            except (ValueError, OverflowError) as exc:  # the same failure, then
                with pytest.raises(type(exc)):
                    csv_reader.convert(frame, dtypes, source="x")
                continue
            got = csv_reader.convert(frame, dtypes, source="x")["x"]
            pd.testing.assert_series_equal(got, want, check_exact=True)
            if want.dtype.kind == "f":
                a, b = want.to_numpy(), got.to_numpy()
                both = ~np.isnan(a)
                assert (np.signbit(a[both]) == np.signbit(b[both])).all()  # -0.0 stays -0.0
            checked += 1
    assert checked > 600


def test_the_published_report_schema_is_a_valid_schema() -> None:
    """validate_report no longer checks the schema against the metaschema on every write."""
    schema = report_schema()
    jsonschema.validators.validator_for(schema).check_schema(schema)


def test_a_report_breaking_the_schema_raises_the_error_jsonschema_validate_raises() -> None:
    report = json.loads((ROOT / "tests" / "golden" / "report-german.json").read_text())
    report["outcome"] = "bogus"
    report["summary"] = "not an object"
    with pytest.raises(jsonschema.ValidationError) as ours:
        validate_report(report)
    with pytest.raises(jsonschema.ValidationError) as theirs:
        jsonschema.validate(report, report_schema(), format_checker=jsonschema.FormatChecker())
    assert ours.value.message == theirs.value.message
    assert list(ours.value.absolute_path) == list(theirs.value.absolute_path)


@pytest.mark.parametrize(
    ("values", "dtypes"),
    [
        ([None] * 2000 + ["1", "2"], {}),  # the first rows all missing settle nothing
        ([None] * 2000 + ["1.5", "2"], {}),
        ([None] * 1500 + ["x"], {}),
        ([None, None], {"x": "integer"}),
        ([None, None], {"x": "float"}),
        ([], {}),
        ([], {"x": "integer"}),
    ],
)
def test_columns_missing_at_the_start_or_throughout(values: list, dtypes: dict) -> None:
    """A numeric column whose first thousand rows are empty was read as text by the first
    version of the fast path (its look at the first rows took "nothing present" for "no")."""
    column = pd.Series(values, dtype="str", name="x")
    got = csv_reader.convert(pd.DataFrame({"x": column}), dtypes, source="x")["x"]
    want = _as_written_before(column, dtypes.get("x"))
    pd.testing.assert_series_equal(got, want, check_exact=True)
