"""`audit explain`: reasons for named rows, in words, matching the bundle's reasons.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from audit.cli import main
from tests.conftest import SAMPLES

SPEC = SAMPLES / "german" / "audit.yaml"


def test_explain_named_rows_matches_reasons_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(
        [
            "run",
            str(SPEC),
            "--output",
            str(tmp_path),
            "--no-pdf",
            "--no-sign",
            "--explain-sample-size",
            "300",
        ]
    ) in (0, 1)
    with (tmp_path / "german-credit" / "v1" / "reasons.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows, "the German model denies some applicants"
    per_row: dict[str, list[dict]] = {}
    for r in rows:
        per_row.setdefault(r["row_id"], []).append(r)
    assert all(1 <= len(v) <= 4 for v in per_row.values())
    assert all(r["reason"] and r["code"] for r in rows)  # in words, through the reason codes
    row_id = next(iter(per_row))
    capsys.readouterr()
    assert main(["explain", str(SPEC), "--row", row_id, "--format", "json"]) == 0
    (out,) = json.loads(capsys.readouterr().out)
    assert [r["feature"] for r in out["reasons"]] == [r["feature"] for r in per_row[row_id]]
    for ours, theirs in zip(out["reasons"], per_row[row_id], strict=True):
        assert ours["attribution"] == pytest.approx(float(theirs["attribution"]), abs=1e-9)


def test_explain_needs_reason_codes_and_known_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(SPEC), "--row", "100000"]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "codes.yaml"
    bad.write_text("sex: {code: P1, text: Sex}\n")
    assert main(["explain", str(SPEC), "--row", "1", "--reason-codes", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "codes.yaml" in err
