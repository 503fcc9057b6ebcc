"""Untrusted text reaching the terminal is shown with its control, ANSI and bidi characters
escaped: a resource name cannot forge a line of ``audit log show``, a column name cannot repaint
the terminal from an error message.

Before :func:`audit.textsafe.printable`, ``log show`` printed a resource name containing ``\\n``
as two lines, the second one a forged ``allow`` entry, and error messages passed ``\\x1b[...``
straight to the terminal.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
import yaml

from audit.cli import main
from audit.textsafe import csv_cell, printable
from tests.conftest import POLICIES, SAMPLES


@pytest.mark.parametrize(
    "text, shown",
    [
        ("plain é 中文 ünïcode", "plain é 中文 ünïcode"),
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x00\x07\x7f\x85\x9b", "\\x00\\x07\\x7f\\x85\\x9b"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        ("\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d", None),
        ("\u200e\u200f\u061c\u200b\u2028\ufeff", None),
    ],
)
def test_printable_escapes_exactly_the_unsafe_characters(text: str, shown: str | None) -> None:
    out = printable(text)
    if shown is not None:
        assert out == shown
    assert out.isprintable() and "\x1b" not in out


def test_keep_newlines_keeps_only_newlines() -> None:
    assert printable("a\nb\x1b\r", keep="\n") == "a\nb\\x1b\\r"


def test_log_show_cannot_be_forged_by_a_resource_name(
    audit_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = "p\n     9 2026-12-01T00:00:00Z mallory          ALLOW report:approve   report:x"
    policy = tmp_path / forged
    policy.write_text((POLICIES / "four-fifths.yaml").read_text(encoding="utf-8"))
    assert main(["policy", "validate", str(policy)]) == 0
    capsys.readouterr()
    assert main(["log", "show", "--action", "policy:*"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1, out  # one entry, one line
    assert "p\\n     9 2026-12-01T00:00:00Z mallory" in lines[0]
    assert not any(line.lstrip().startswith("9 ") for line in lines)


def test_ansi_and_bidi_in_a_column_name_are_escaped_in_the_cli_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.csv"
    data.write_text("id,sex,\x1b[2J\x1b[31mage\u202e,y\n1,m,3,1\n2,f,4,0\n", encoding="utf-8")
    spec = tmp_path / "audit.yaml"
    spec.write_text(
        "name: t\npredictions: y\ndataset: d.csv\nlabel: y\npositive_label: 1\n"
        f"sensitive_features: [gender]\npolicy: {POLICIES / 'four-fifths.yaml'}\n",
        encoding="utf-8",
    )
    assert main(["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "column 'gender' is missing" in err
    assert "\\x1b[2J\\x1b[31mage\\u202e" in err
    assert "\x1b" not in err and "\u202e" not in err


# --- CSV formula neutralisation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, written",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("@SUM(1)", "'@SUM(1)"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-1+1", "'-1+1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-0.123", "-0.123"),  # a plain number stays a number
        ("-3", "-3"),
        ("+1e-05", "+1e-05"),
        ("plain", "plain"),
        (-0.5, -0.5),
        (None, None),
    ],
)
def test_csv_cell(value: object, written: object) -> None:
    assert csv_cell(value) == written


def test_reasons_csv_neutralises_formulas_from_data_and_reason_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: reasons.csv held ``=HYPERLINK("http://x")`` verbatim, a live formula in Excel."""
    german = SAMPLES / "german"
    frame = pd.read_csv(german / "german_test.csv")
    frame.insert(0, "app", [f"a{i}" for i in range(len(frame))])
    attacks = ['=HYPERLINK("http://x")', "@SUM(1)", "-2+3", "+cmd"]
    frame["app"] = attacks * (len(frame) // len(attacks)) + attacks[: len(frame) % len(attacks)]
    frame["app"] = frame["app"] + [f"|{i}" for i in range(len(frame))]  # ids stay unique
    frame.to_csv(tmp_path / "data.csv", index=False)
    codes = yaml.safe_load((POLICIES / "reason-codes" / "german.yaml").read_text("utf-8"))
    codes["reasons"] = {k: {**v, "text": "=" + v["text"]} for k, v in codes["reasons"].items()}
    (tmp_path / "codes.yaml").write_text(yaml.safe_dump(codes), encoding="utf-8")
    spec = yaml.safe_load((german / "audit.yaml").read_text("utf-8"))
    spec.update(
        model=str(german / "models" / "german-rf.skops"),
        dataset="data.csv",
        id_column="app",
        policy=str(POLICIES / "baseline-credit.yaml"),
        explain={"reason_codes": "codes.yaml", "sample_size": 100},
    )
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["run", str(tmp_path / "audit.yaml"), "--output", str(out), "--no-pdf", "--no-sign"]
    assert main(argv) in (0, 1), capsys.readouterr().err
    with (out / "german-credit" / "v1" / "reasons.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for r in rows:
        assert r["row_id"][:2] in ("'=", "'@", "'-", "'+"), r["row_id"]
        assert r["reason"].startswith("'="), r["reason"]
        float(r["attribution"])  # the tool's own numbers stay numeric ...
        assert r["attribution"].startswith("-")  # ... negative, and not prefixed
    assert any(r["row_id"].startswith("'=HYPERLINK(") for r in rows)


def test_policy_validate_escapes_the_file_name_it_echoes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``policy validate`` prints its own diagnostics (not through the CLI's error handler)."""
    bad = tmp_path / "p\x1b]0;owned\x07.yaml"
    bad.write_text("a: 1\na: 2\n", encoding="utf-8")
    assert main(["policy", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "p\\x1b]0;owned\\x07.yaml:2: duplicate key 'a' (first at line 1)" in err
    assert "\x1b" not in err and "\x07" not in err
