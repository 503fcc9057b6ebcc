"""Untrusted text reaching the terminal is shown with its control, ANSI and bidi characters
escaped: a resource name cannot forge a line of ``audit log show``, a column name cannot repaint
the terminal from an error message.

Before :func:`audit.textsafe.printable`, ``log show`` printed a resource name containing ``\\n``
as two lines, the second one a forged ``allow`` entry, and error messages passed ``\\x1b[...``
straight to the terminal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.cli import main
from audit.textsafe import printable
from tests.conftest import POLICIES


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
    assert printable("a\nb\x1b\r", keep_newlines=True) == "a\nb\\x1b\\r"


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
