"""Reading in batches: every batch typed as the whole file is, rows named by their place in the
whole file, and the dataset-wide checks made once on the merged counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit.data import DatasetRequirements, read_table
from audit.engine import DataSource, run_stream
from audit.engine.partition import Plan
from audit.errors import InputError


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("id,age,group,label,x\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_csv_batches_have_the_whole_files_types(tmp_path: Path) -> None:
    """``age`` is whole numbers with one gap in the last batch: floats in every batch, as in a
    whole-file read (a batch alone would read 30, another 30.0); ``id`` has a leading zero and
    stays text; ``group`` codes are numbers; spaces after the delimiter are skipped."""
    rows = [f"0{i},{20 + i % 7}, {1 + i % 2},{i % 2},{i / 3:.4f}" for i in range(40)]
    rows.append("099,,2,1,0.5")
    path = _csv(tmp_path / "d.csv", rows)
    whole = read_table(path)
    batched = pd.concat(
        list(DataSource(path, "d.csv", None, batch_rows=7).batches()), ignore_index=True
    )
    pd.testing.assert_frame_equal(batched, whole)
    assert whole["age"].dtype == np.float64 and pd.api.types.is_string_dtype(whole["id"])


def test_parquet_batches_read_nullable_integers_as_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    first = pa.table({"n": pa.array([1, 2, 3], pa.int64()), "s": ["a", "b", "c"]})
    second = pa.table({"n": pa.array([4, None, 6], pa.int64()), "s": ["a", None, "c"]})
    with pq.ParquetWriter(path, first.schema) as writer:
        writer.write_table(first)
        writer.write_table(second)
    whole = read_table(path)
    batched = pd.concat(
        list(DataSource(path, "d", None, batch_rows=2).batches()), ignore_index=True
    )
    pd.testing.assert_frame_equal(batched, whole)
    assert whole["n"].dtype == np.float64


def _plan(source: str, **kw) -> Plan:
    req = DatasetRequirements("label", 1, ("group",), predictions="pred")
    return Plan(requirements=req, source=source, **kw)


def _decisions_csv(path: Path, labels: list[str]) -> Path:
    lines = [f"{g},{lab},{p}" for g, lab, p in zip([1, 2] * 20, labels, [0, 1] * 20, strict=False)]
    path.write_text("group,label,pred\n" + "\n".join(lines) + "\n")
    return path


def test_a_partition_names_rows_by_their_place_in_the_file(tmp_path: Path) -> None:
    labels = ["0", "1"] * 20
    labels[14] = ""  # data row 15, in the third batch of 5
    path = _decisions_csv(tmp_path / "d.csv", labels)
    with pytest.raises(
        InputError, match=r"label column 'label' has 1 missing values \(data rows 15\)"
    ):
        run_stream(_plan("d.csv"), DataSource(path, "d.csv", None, batch_rows=5))


def test_dataset_wide_checks_run_on_the_merged_counts(tmp_path: Path) -> None:
    """Each batch of 5 holds one label class only (fine for a batch); the whole file holds both
    and audits. A file without the positive label anywhere is refused as the in-memory
    validation refuses it."""
    labels = ["1"] * 5 + ["0"] * 35
    path = _decisions_csv(tmp_path / "ok.csv", labels)
    seen: list[tuple[int, int | None]] = []
    stats = run_stream(
        _plan("ok.csv"),
        DataSource(path, "ok.csv", None, batch_rows=5),
        lambda d, t: seen.append((d, t)),
    )
    assert stats.rows == 40 and int(stats.cells[:, [2, 3, 6, 7]].sum()) == 5
    assert [d for d, _ in seen] == list(range(5, 41, 5))  # progress: rows so far, batch by batch
    bad = _decisions_csv(tmp_path / "bad.csv", ["0"] * 40)
    with pytest.raises(InputError, match="positive_label 1 never occurs in label column 'label'"):
        run_stream(_plan("bad.csv"), DataSource(bad, "bad.csv", None, batch_rows=5))


def test_a_declared_type_error_names_the_files_data_row(tmp_path: Path) -> None:
    """A value that does not fit its declared type in the third batch is named by its data row
    in the whole file (before: its row within the batch)."""
    lines = [f"{g},{i % 2},{i % 2}" for i, g in enumerate([1, 2] * 20)]
    lines[12] = "x,0,0"  # data row 13
    path = tmp_path / "d.csv"
    path.write_text("group,label,pred\n" + "\n".join(lines) + "\n")
    source = DataSource(path, "d.csv", None, {"group": "integer"}, batch_rows=5)
    with pytest.raises(InputError, match=r"'x' \(data row 13\)"):
        run_stream(_plan("d.csv"), source)


def test_a_malformed_scheduler_address_is_bad_input(tmp_path: Path, audit_home, capsys) -> None:
    """A garbled --scheduler (with a newline and an ANSI escape) exits 2 naming the option, and
    writes no report (before: ValueError from distributed, exit 5)."""
    from audit.cli.app import main

    spec = Path(__file__).resolve().parents[1] / "samples" / "german" / "audit.yaml"
    out = tmp_path / "out"
    flags = ["--no-pdf", "--no-sign", "--engine", "dask", "--scheduler", "tcp://h:9\x1b[31m\nx"]
    assert main(["run", str(spec), "--output", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert "--scheduler / engine.scheduler" in err and "\x1b[" not in err
    assert not out.exists()
