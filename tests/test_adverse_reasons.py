"""``explain: rows: adverse``: reasons for every adverse decision, streamed to reasons.csv.

The explained sample still feeds the report's plots; a second pass over the data gives each
partition's adverse decisions their reasons (audit/engine/reasons.py), on every backend. Checked
against the sample path (the same lines for the same rows, byte for byte), an independent count
of the model's adverse decisions, and across backends and partitionings.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from audit.cli.app import main
from audit.engine.reasons import InOrder
from audit.explain.adverse import ReasonsPart, ReasonsTally
from audit.explain.reasons import ReasonsSpool

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _spec(folder: Path, tmp_path: Path, explain: dict, **changes: object) -> Path:
    doc = yaml.safe_load((folder / "audit.yaml").read_text())
    for key in ("model", "dataset", "policy"):
        doc[key] = str((folder / doc[key]).resolve())
    doc["explain"]["reason_codes"] = str((folder / doc["explain"]["reason_codes"]).resolve())
    doc.pop("reference_dataset", None)
    doc.pop("output", None)
    doc["explain"].update(explain)
    doc.update(changes)
    spec = tmp_path / f"audit-{len(list(tmp_path.glob('audit-*.yaml')))}.yaml"
    spec.write_text(yaml.safe_dump(doc))
    return spec


def _run(spec: Path, out: Path, *extra: str) -> tuple[dict, str]:
    code = main(["run", str(spec), "--output", str(out), "--no-pdf", "--no-sign", *extra])
    assert code in (0, 1)
    (folder,) = out.glob("*/v*")
    report = json.loads((folder / "report.json").read_text())
    return report, (folder / "reasons.csv").read_text(encoding="utf-8")


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(text.splitlines()))


def test_german_every_adverse_decision_matches_the_complete_sample(
    tmp_path: Path, audit_home, monkeypatch
) -> None:
    """German's 300 rows are all in the explained sample, so ``rows: sample`` already gives every
    adverse decision its reasons: ``rows: adverse`` must write the same file, byte for byte, and
    the same reasons summary, plus the additivity of every explained decision. The spool's
    temporary folder is gone afterwards."""
    spool_parent = tmp_path / "tmp"
    spool_parent.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_parent))
    sample, sample_csv = _run(_spec(SAMPLES / "german", tmp_path, {}), tmp_path / "s")
    adverse, adverse_csv = _run(
        _spec(SAMPLES / "german", tmp_path, {"rows": "adverse"}), tmp_path / "a"
    )
    assert adverse_csv == sample_csv
    assert list(spool_parent.iterdir()) == []
    a, s = adverse["explanations"], sample["explanations"]
    assert (a["rows"], s["rows"]) == ("adverse", "sample")
    additivity = a["reasons"].pop("additivity")
    assert a["reasons"] == s["reasons"]
    assert additivity["rows"] == a["reasons"]["adverse_decisions"] > 0
    assert additivity["max_abs_error"] < 1e-9 and additivity["rows_above_tolerance"] == 0
    (html,) = (tmp_path / "a").glob("*/v*/report.html")
    n = a["reasons"]["adverse_decisions"]
    assert f"every adverse decision of the dataset: {n} of its 300 decisions" in html.read_text()


def test_adult_reasons_cover_every_adverse_decision(tmp_path: Path, audit_home) -> None:
    """3,000 Adult rows, 300 explained for the report: reasons.csv names every row the model
    decides against (counted here with the model's own predict on the whole file), each the same
    lines as the sample path gives the rows it explained."""
    from audit.loaders import load_model

    frame = pd.read_csv(SAMPLES / "adult/adult_test.csv").iloc[:3000]
    data = tmp_path / "adult.csv"
    frame.to_csv(data, index=False)
    explain = {"sample_size": 300, "stability_replicas": 0, "proxy_model_rows": 0}
    folder = SAMPLES / "adult"
    spec = _spec(folder, tmp_path, {**explain, "rows": "adverse"}, dataset=str(data))
    report, text = _run(spec, tmp_path / "a", "--batch-rows", "700")
    sample_spec = _spec(folder, tmp_path, explain, dataset=str(data))
    _, sample_text = _run(sample_spec, tmp_path / "s")

    model = load_model(folder / "models/adult-gbm.skops")
    predicted = np.asarray(model.estimator.predict(frame[model.feature_names]))
    adverse_rows = {str(i) for i in np.flatnonzero(predicted != ">50K")}
    lines = _rows(text)[1:]
    assert {line[0] for line in lines} == adverse_rows
    assert report["explanations"]["reasons"]["adverse_decisions"] == len(adverse_rows)
    assert report["explanations"]["reasons"]["explained_decisions"] == 3000
    assert report["explanations"]["sample_size"] == 300
    # in row order, ranks 1.. with attributions negative and most negative first
    order = [int(line[0]) for line in lines]
    assert order == sorted(order)
    by_row: dict[str, list[list[str]]] = {}
    for line in lines:
        by_row.setdefault(line[0], []).append(line)
    for row in by_row.values():
        assert [int(r[2]) for r in row] == list(range(1, len(row) + 1))
        values = [float(r[6]) for r in row]
        assert all(v < 0 for v in values) and values == sorted(values)
    sample_lines = _rows(sample_text)[1:]
    assert sample_lines and all(line in lines for line in sample_lines)
    # the summary counts every decision's reasons
    summary = {s["feature"]: s["decisions"] for s in report["explanations"]["reasons"]["summary"]}
    counted: dict[str, int] = {}
    for line in lines:
        counted[line[3]] = counted.get(line[3], 0) + 1
    assert summary == counted


def test_every_backend_writes_the_same_reasons(tmp_path: Path, audit_home) -> None:
    """German as Parquet with 50-row row groups (six Dask partitions, finishing in any order),
    streamed in 37-row batches, and in memory: the same reasons.csv and report."""
    frame = pd.read_csv(SAMPLES / "german/german_test.csv")
    data = tmp_path / "german.parquet"
    frame.to_parquet(data, row_group_size=50)
    spec = _spec(SAMPLES / "german", tmp_path, {"rows": "adverse"}, dataset=str(data))
    memory = _run(spec, tmp_path / "m", "--engine", "memory", "--batch-rows", "64")
    stream = _run(spec, tmp_path / "s", "--engine", "stream", "--batch-rows", "37")
    dask = _run(spec, tmp_path / "d", "--engine", "dask", "--workers", "2")
    for other in (stream, dask):
        assert other[1] == memory[1]
        assert other[0]["explanations"] == memory[0]["explanations"]
    assert len(_rows(memory[1])) > 50


def test_parts_are_written_in_row_order_whatever_order_they_arrive() -> None:
    spool = ReasonsSpool()
    try:
        writer = InOrder(spool, features=2)
        for index in (2, 0, 3, 1):
            tally = ReasonsTally(10, 1, 0, np.array([1, 0]), np.array([1, 0]), 0.5, 0.5, 0)
            writer.add(index, ReasonsPart(index * 10, f"line {index}\n", 1, tally))
        spool.close()
        assert spool.path.read_text().splitlines()[1:] == [f"line {i}" for i in range(4)]
        assert writer.tally.decisions == 40 and writer.tally.counts.tolist() == [4, 0]
        assert spool.lines == 4
    finally:
        spool.cleanup()
    assert not spool.folder.exists()


@pytest.mark.parametrize("case", ["no model", "no reason codes"])
def test_adverse_reasons_need_a_model_and_reason_codes(
    case: str, tmp_path: Path, audit_home, capsys
) -> None:
    folder = SAMPLES / "german"
    if case == "no model":
        frame = pd.read_csv(folder / "german_test.csv")
        frame["decision"] = (frame["duration"] < 24).astype(int)
        data = tmp_path / "recorded.csv"
        frame.to_csv(data, index=False)
        spec = _spec(
            folder, tmp_path, {"rows": "adverse"}, dataset=str(data), predictions="decision"
        )
        doc = yaml.safe_load(spec.read_text())
        doc.pop("model")
        spec.write_text(yaml.safe_dump(doc))
        expected = "recorded decisions"
    else:
        spec = _spec(folder, tmp_path, {"rows": "adverse"})
        doc = yaml.safe_load(spec.read_text())
        doc["explain"].pop("reason_codes")
        spec.write_text(yaml.safe_dump(doc))
        expected = "needs a reason-code file"
    code = main(["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf", "--no-sign"])
    err = capsys.readouterr().err
    assert code == 2
    assert "explain.rows: adverse" in err and expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("report.json"))


def test_column_wise_lines_are_the_csv_writers_byte_for_byte() -> None:
    """reason_lines (column-wise, for millions of decisions) against write_reason_lines (the
    csv module, one DecisionReasons at a time) on awkward cells: commas, quotes, newlines,
    formula starts, missing values, numpy scalars, ties, a row without negative attribution."""
    import io

    from audit.explain.adverse import reason_lines
    from audit.explain.reasons import (
        DecisionReasons,
        Reason,
        ReasonCode,
        plain_value,
        top_adverse,
        write_reason_lines,
    )

    rng = np.random.default_rng(5)
    n = 200
    values = rng.normal(size=(n, 4)).round(2)
    values[3] = [0.1, 0.2, 0.0, 0.3]  # nothing pushed towards the adverse outcome
    values[4] = [-0.5, -0.5, -0.5, 0.1]  # ties keep column order
    inputs = pd.DataFrame(
        {
            "a": rng.choice(["x,y", 'say "hi"', "=SUM(A1)", "-3", "line\nbreak", "plain"], n),
            "b": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "c": rng.integers(-5, 5, size=n),
            "d": rng.random(n) < 0.5,
        }
    )
    codes = (
        ReasonCode("a", "R1", "Text, with comma"),
        ReasonCode("b", "R2", 'Quoted "words"'),
        ReasonCode("c", "=R3", "plain"),
        ReasonCode("d", "R4", "last"),
    )
    ids = np.array([f"id-{i}" if i % 7 else f"+{i}" for i in range(n)], dtype=object)
    errors = rng.random(n) * 1e-12
    stability = [None if i % 3 else 0.75 for i in range(n)]
    text, lines, tally = reason_lines(
        values,
        ids,
        inputs,
        errors,
        stability,
        codes=codes,
        decision="<=50K",
        sensitive=np.array([False, True, False, False]),
        k=3,
    )
    top = top_adverse(values, 3)
    decisions = [
        DecisionReasons(
            row_id=ids[i],
            decision="<=50K",
            reasons=tuple(
                Reason(
                    r,
                    codes[j].feature,
                    codes[j].code,
                    codes[j].text,
                    float(values[i, j]),
                    plain_value(inputs.iat[i, j]),
                )
                for r, j in enumerate(top[i].tolist(), start=1)
            ),
            additivity_error=float(errors[i]),
            stability=stability[i],
        )
        for i in range(n)
    ]
    expected = io.StringIO()
    assert lines == write_reason_lines(expected, decisions)
    assert text == expected.getvalue()
    assert tally.counts.tolist() == [sum(j in t for t in top) for j in range(4)]
    assert tally.first.tolist() == [sum(len(t) > 0 and t[0] == j for t in top) for j in range(4)]
    assert tally.with_sensitive == sum(1 in t.tolist() for t in top)


def test_kept_decisions_unpack_to_the_first_passs_decisions() -> None:
    """The first pass keeps each partition's decisions as bits (merged in any order); the
    reasons pass reads any row range of a partition back exactly."""
    from audit.engine.decisions import Decisions

    rng = np.random.default_rng(3)
    favourable = rng.random(1003) < 0.3
    cuts = [0, 13, 500, 501, 1003]
    parts = [Decisions.of(a, favourable[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    merged = parts[2].merge(parts[0]).merge(parts[3]).merge(parts[1])
    assert merged.rows == 1003
    for a, b in zip(cuts, cuts[1:], strict=False):
        assert np.array_equal(merged.favourable(a, b - a), favourable[a:b])
    assert np.array_equal(merged.favourable(20, 100), favourable[20:120])  # inside a part
    with pytest.raises(KeyError):
        merged.favourable(400, 200)  # crosses a partition boundary: a different partitioning
