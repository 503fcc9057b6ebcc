"""Bounded parsers: every YAML, JSON and zip the tool reads is refused, with exit 2 and the file
named, when it hides something from a reviewer (a key given twice) or is built to exhaust the
machine (deep nesting, alias bombs, zip bombs).

Before these defences PyYAML's ``safe_load`` kept the *last* of two equal keys, so a policy a
reviewer read as ``threshold: 0.8`` ran with a later ``threshold: 0.0``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from audit.access import Rbac
from audit.cli import main
from audit.errors import InputError
from audit.explain.reasons import load_reason_codes
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
