"""Datasets: CSV dialect detection, no type guessing of ids and codes, Parquet column pruning,
and validation that reports every problem at once (checked against hand-built frames and the
standard library's csv module as the independent reader)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from audit.cli import main
from audit.data import (
    DatasetRequirements,
    model_inputs,
    read_table,
    sniff_csv,
    validate,
)
from audit.errors import InputError
from tests.conftest import POLICIES, SAMPLES

ROWS = [
    ["id", "zip", "country", "age", "score", "name", "label"],
    ["007", "01234", "NA", "41", "0.5", "Müller", "yes"],
    ["012", "10115", "DE", "35", "1e-3", "Zoë", "no"],
    ["100", "75001", "FR", "29", "-2.25", "Ana", "yes"],
]


def _write(path: Path, rows: list[list[str]], delimiter: str, encoding: str) -> Path:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "utf-16"])
def test_dialect_detected_and_text_kept(tmp_path: Path, delimiter: str, encoding: str) -> None:
    path = _write(tmp_path / "d.csv", ROWS, delimiter, encoding)
    dialect = sniff_csv(path)
    assert dialect.delimiter == delimiter
    assert dialect.encoding == encoding
    frame = read_table(path)
    with path.open(encoding=encoding, newline="") as fh:  # the independent reader
        expected = list(csv.reader(fh, delimiter=delimiter))
    header, body = expected[0], expected[1:]
    assert list(frame.columns) == header
    for col in ("id", "zip", "country", "name", "label"):
        assert list(frame[col]) == [r[header.index(col)] for r in body]  # "007", "NA" intact
    assert frame["age"].dtype == np.int64
    assert list(frame["age"]) == [int(r[header.index("age")]) for r in body]
    assert frame["score"].dtype == np.float64
    assert list(frame["score"]) == [float(r[header.index("score")]) for r in body]


def test_declared_dtypes_convert_and_report_every_bad_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", ROWS, ",", "utf-8")
    frame = read_table(path, dtypes={"id": "integer", "age": "string", "country": "category"})
    assert list(frame["id"]) == [7, 12, 100]
    assert list(frame["age"]) == ["41", "35", "29"]
    assert isinstance(frame["country"].dtype, pd.CategoricalDtype)
    with pytest.raises(InputError) as info:
        read_table(path, dtypes={"zip": "integer", "name": "float", "label": "integer"})
    text = info.value.message
    assert "'name' is declared float but 3 value(s)" in text
    assert "'label' is declared integer" in text and "'zip'" not in text
    with pytest.raises(InputError, match="unknown type"):
        read_table(path, dtypes={"zip": "zipcode"})


def test_only_empty_fields_are_missing(tmp_path: Path) -> None:
    rows = [["a", "b"], ["NA", "1"], ["", "2"], ["null", ""]]
    frame = read_table(_write(tmp_path / "d.csv", rows, ",", "utf-8"))
    assert frame["a"].isna().tolist() == [False, True, False]
    assert frame["b"].isna().tolist() == [False, False, True]
    assert frame["a"].iloc[0] == "NA" and frame["a"].iloc[2] == "null"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"0[0-9]{1,5}", fullmatch=True),
            st.integers(-(10**9), 10**9),
            st.text(
                alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
                min_size=1,
                max_size=8,
            ),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_round_trip_keeps_codes(tmp_path_factory: pytest.TempPathFactory, rows: list) -> None:
    path = tmp_path_factory.mktemp("rt") / "d.csv"
    _write(path, [["code", "n", "text"], *[[c, str(n), t] for c, n, t in rows]], ",", "utf-8")
    frame = read_table(path, dtypes={"text": "string"})
    assert list(frame["code"]) == [c for c, _, _ in rows]  # leading zeros: stays text
    assert list(frame["n"]) == [n for _, n, _ in rows]
    # spaces after the delimiter are skipped; a field of spaces only is empty, so missing
    expected = [t.lstrip(" ") or None for _, _, t in rows]
    assert [None if pd.isna(v) else v for v in frame["text"]] == expected


def test_missing_value_in_a_declared_string_column_stays_missing(tmp_path: Path) -> None:
    """A field of spaces only is missing in a declared string column: neither "" (what the
    round-trip property test once expected, and failed on in CI) nor the text "nan"; and a
    Parquet number column declared string becomes text with its missing values kept."""
    path = _write(tmp_path / "d.csv", [["code", "text"], ["01", " "], ["02", "x"]], ",", "utf-8")
    frame = read_table(path, dtypes={"text": "string"})
    assert frame["text"].isna().tolist() == [True, False]
    assert "nan" not in frame["text"].tolist()
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.table({"zip": pa.array([1234, None, 501], pa.int64())}), parquet)
    frame = read_table(parquet, dtypes={"zip": "string"})
    assert [None if pd.isna(v) else v for v in frame["zip"]] == ["1234", None, "501"]


def test_parquet_reads_only_needed_columns(tmp_path: Path) -> None:
    table = pa.table({c: pa.array(np.arange(100) * i) for i, c in enumerate("abcdef")})
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    frame = read_table(path, columns=["b", "e", "missing"])
    assert list(frame.columns) == ["b", "e"]
    np.testing.assert_array_equal(frame["e"], table.column("e").to_numpy())


# --- validation: every problem in one message ---------------------------------------------------


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 200),
            "hours": rng.integers(10, 60, 200),
            "job": rng.choice(["a", "b", "c"], 200),
        }
    )
    y = np.where(X["age"] > 40, "good", "bad")
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["age", "hours"]), ("cat", OneHotEncoder(), ["job"])]
    )
    return Pipeline([("prep", prep), ("lr", LogisticRegression())]).fit(X, y)


REQ = DatasetRequirements(label="y", positive_label="good", sensitive=("sex", "race"))


def test_model_inputs_read_from_the_pipeline(pipeline: Pipeline) -> None:
    inputs = model_inputs(pipeline)
    assert inputs.names == ("age", "hours", "job")
    assert inputs.numeric == {"age", "hours"}  # job goes to the one-hot encoder


def test_valid_frame_passes(pipeline: Pipeline) -> None:
    frame = pd.DataFrame(
        {"age": [30, 50], "hours": [40, 20], "job": ["a", "b"], "y": ["bad", "good"]}
        | {"sex": ["F", "M"], "race": ["x", "y"]}
    )
    validate(frame, REQ, pipeline, source="ok.csv")


def test_all_problems_reported_together(pipeline: Pipeline) -> None:
    frame = pd.DataFrame(
        {
            "age": ["30", "old", "41"],  # text where the model needs numbers
            "hours": ["040", "020", "010"],  # number-like codes kept as text
            "job": ["a", None, "c"],  # missing value in a model input
            "y": ["good", "good", None],  # missing label; only the positive class present
            "sex": ["F", "M", "F"],
        }
    )  # race missing
    with pytest.raises(InputError) as info:
        validate(frame, REQ, pipeline, source="bad.csv")
    text = info.value.message
    expected = [
        "sensitive feature column 'race' is missing",
        "label column 'y' has 1 missing values (data rows 3)",
        "holds only the positive class",
        "'age' must hold numbers but has text such as 'old'",
        "'hours' holds number-like codes kept as text (e.g. '040')",
        "'job' has 1 missing values (data rows 2)",
    ]
    for part in expected:
        assert part in text
    assert f"({len(expected)} problems)" in text


def test_label_values_against_declaration_and_model(pipeline: Pipeline) -> None:
    frame = pd.DataFrame(
        {"age": [1, 2, 3], "hours": [1, 2, 3], "job": ["a", "b", "c"]}
        | {"y": ["good", "bad", "maybe"], "sex": ["F", "M", "F"], "race": ["x", "x", "y"]}
    )
    with pytest.raises(InputError) as info:
        validate(frame, REQ, pipeline, source="d.csv")
    assert "3 distinct values" in info.value.message
    assert "label values 'maybe' are not classes of the model" in info.value.message
    req = DatasetRequirements("y", "excellent", ("sex",))
    with pytest.raises(InputError) as info:
        validate(frame, req, pipeline, source="d.csv")
    assert "never occurs" in info.value.message
    assert "is not one of the model's classes" in info.value.message


def test_recorded_decisions_and_zero_rows() -> None:
    frame = pd.DataFrame(
        {"y": [1, 0, 1], "pred": [1, 2, None], "s": ["0.1", "oops", "0.3"], "sex": ["F", "M", "F"]}
    )
    req = DatasetRequirements("y", 1, ("sex",), predictions="pred", scores="s")
    with pytest.raises(InputError) as info:
        validate(frame, req, None, source="d.csv")
    text = info.value.message
    assert "predictions column 'pred' has 1 missing values" in text
    assert "holds values that are not label values: '2.0'" in text
    assert "scores column 's' has 1 missing or non-numeric values (data rows 2)" in text
    with pytest.raises(InputError, match="it has no rows"):
        validate(frame.iloc[:0], req, None, source="d.csv")


def test_unnamed_model_inputs_are_counted() -> None:
    rng = np.random.default_rng(0)
    model = LogisticRegression().fit(rng.random((20, 3)), np.arange(20) % 2)
    frame = pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1], "sex": ["F", "M"]})
    with pytest.raises(InputError, match="takes 3 of them, but the dataset has 2 columns") as info:
        validate(frame, DatasetRequirements("y", 1, ("sex",)), model, source="d.csv")
    assert "training order" in info.value.message


def test_cli_bad_dataset_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(SAMPLES / "adult" / "adult_test.csv", dtype=str).head(500)
    frame.loc[3, "age"] = "unknown"
    frame.loc[7, "hours_per_week"] = ""
    frame = frame.drop(columns=["race"])
    data = tmp_path / "bad.csv"
    frame.to_csv(data, index=False, sep=";")
    spec = tmp_path / "audit.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "model": str(SAMPLES / "adult" / "models" / "adult-gbm.skops"),
                "dataset": str(data),
                "label": "income",
                "positive_label": ">50K",
                "sensitive_features": ["sex", "race"],
                "policy": str(POLICIES / "baseline.yaml"),
                "output": str(tmp_path / "reports"),
            }
        )
    )
    code = main(["run", str(spec), "--no-pdf"])
    err = capsys.readouterr().err
    assert code == 2
    assert not (tmp_path / "reports").exists()
    assert "Traceback" not in err
    # every problem in the one message, the model's input types included
    assert "(4 problems)" in err
    assert "'age' must hold numbers but has text such as 'unknown'" in err
    assert "sensitive feature column 'race' is missing" in err
    assert "the model needs columns the dataset lacks: 'race'" in err
    assert "'hours_per_week' has 1 missing values (data rows 8)" in err
    # validate() with the model also checks input types (the runner's next step)
    from audit.loaders import load_model

    model = load_model(SAMPLES / "adult" / "models" / "adult-gbm.skops")
    req = DatasetRequirements("income", ">50K", ("sex", "race"))
    with pytest.raises(InputError) as info:
        validate(read_table(data), req, model, source=str(data))
    assert "'age' must hold numbers but has text such as 'unknown'" in info.value.message
    assert "(4 problems)" in info.value.message


def test_sample_datasets_read_like_before() -> None:
    """The shipped samples read with the same values as pandas' own parser gives them."""
    for path in (SAMPLES / "adult" / "adult_test.csv", SAMPLES / "german" / "german_test.csv"):
        ours = read_table(path)
        theirs = pd.read_csv(path)
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
        assert json.dumps(list(ours.columns)) == json.dumps(list(theirs.columns))


def test_a_misnamed_column_is_named_with_the_closest_and_the_whole_header() -> None:
    """A wrong label column listed only the columns the audit had read (the label, being
    missing, was not among them) and offered no correction; now the file's whole header and a
    did-you-mean, in the one message that lists every problem."""
    from audit.data import DatasetRequirements, validate

    header = ["risk", "sex", "job", "housing", "age", "age_group"]
    read = pd.DataFrame({"sex": ["male", "female"], "job": [1, 2]})  # what the audit read
    req = DatasetRequirements("riskk", 1, ("sex", "Age_Group"), id_column="applicant")
    with pytest.raises(InputError) as info:
        validate(read, req, source="german.csv", header=header)
    text = str(info.value)
    listing = "; the file's 6 columns: risk, sex, job, housing, age, age_group"
    assert "label column 'riskk' is missing (did you mean 'risk'?)" + listing in text
    assert "sensitive feature column 'Age_Group' is missing (did you mean 'age_group'?)" in text
    assert "id_column 'applicant' is missing" + listing in text
    assert "(3 problems)" in text
