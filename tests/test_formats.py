"""Output formats (junit.xml, summary.md): golden files, parsed back, hostile labels escaped."""

from __future__ import annotations

import copy
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from audit.report.formats import FORMATS, OutputFormat, bundle_location
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "report_example.json"
GOLDEN = ROOT / "tests" / "golden"
BUNDLE = "reports/adult-income/v2"
HOSTILE = "<x>&\"' |pipe| `tick` *b* _u_ [l](u) &amp;\nline2"


@pytest.fixture
def report() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text("utf-8"))


def _with_waiver_and_hostile(report: dict[str, Any]) -> dict[str, Any]:
    """The fixture with one failure waived, breaches recorded, and a hostile group label."""
    r = copy.deepcopy(report)
    race = r["rules"][1]
    race.update(
        status="waived",
        waiver={
            "reason": "remediation under way",
            "approved_by": "carol",
            "expires": "2027-01-31",
            "active": True,
        },
        breaches=[
            {"feature": "race", "group": "Amer-Indian-Eskimo", "value": 0.43306793198107},
            {"feature": "race", "group": "Black", "value": 0.6146179990460361},
        ],
    )
    sex = r["rules"][0]
    sex.update(group=HOSTILE, message=f"impact ratio of {HOSTILE} | is low")
    sex["breaches"] = [{"feature": "sex", "group": HOSTILE, "value": 0.31}]
    return r


# -- registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_name_maps_to_an_implementation(name: str, report: dict[str, Any]) -> None:
    fmt = FORMATS[name]
    assert isinstance(fmt, OutputFormat)
    assert fmt.name == name
    text = fmt.render(report)
    assert isinstance(text, str) and text.endswith("\n")


def test_formats_write_the_bundle_files_design_promises() -> None:
    assert sorted(f.filename for f in FORMATS.values()) == [
        "bom.cdx.json",
        "junit.xml",
        "model-card.md",
        "summary.md",
    ]


def test_format_renderer_writes_into_the_bundle_folder(tmp_path: Path, report: dict) -> None:
    for fmt in FORMATS.values():
        type(fmt)(reports_root="reports")(report, tmp_path)
        written = (tmp_path / fmt.filename).read_text("utf-8")
        assert written == fmt.render(report, bundle_path="reports/adult-income/v2")
    assert bundle_location(report, "out/") == "out/adult-income/v2"


# -- golden files -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_golden(name: str, report: dict[str, Any]) -> None:
    """The whole rendered text of the fixture report; AUDIT_UPDATE_GOLDEN=1 rewrites the file."""
    fmt = FORMATS[name]
    text = fmt.render(report, bundle_path=BUNDLE)
    golden = GOLDEN / fmt.filename
    if os.environ.get("AUDIT_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text("utf-8")


# -- JUnit ------------------------------------------------------------------------------------


def _junit(report: dict[str, Any], bundle_path: str | None = BUNDLE) -> ET.Element:
    return ET.fromstring(FORMATS["junit"].render(report, bundle_path=bundle_path).encode())


def _ci_reader(root: ET.Element) -> dict[str, Any]:
    """Read the file the way CI systems do: suites, cases and each case's single result."""
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    results: dict[str, str] = {}
    for case in cases:
        assert case.get("classname") and case.get("name")
        outcome = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        assert len(outcome) <= 1
        results[case.get("name", "")] = outcome[0] if outcome else "passed"
        for failure in case.findall("failure"):
            assert failure.get("message") and failure.get("type")
    counted = {k: sum(v == k for v in results.values()) for k in ("failure", "error", "skipped")}
    for element in (root, suite):
        assert int(element.get("tests", "-1")) == len(cases)
        assert int(element.get("failures", "-1")) == counted["failure"]
        assert int(element.get("errors", "-1")) == counted["error"]
        assert int(element.get("skipped", "-1")) == counted["skipped"]
    return {"suite": suite, "results": results}


def test_junit_counts_and_cases_match_the_rules(report: dict[str, Any]) -> None:
    read = _ci_reader(_junit(report))
    suite = read["suite"]
    statuses = [r["status"] for r in report["rules"]]
    assert suite.get("name") == "audit: adult-income"
    assert suite.get("timestamp") == report["created_at"]
    assert int(suite.get("failures")) == statuses.count("fail") == 2
    assert int(suite.get("skipped")) == statuses.count("skipped") == 1
    assert int(suite.get("tests")) == len(report["rules"])
    expected = {"fail": "failure", "skipped": "skipped", "pass": "passed", "warn": "passed"}
    assert read["results"] == {r["id"]: expected[r["status"]] for r in report["rules"]}
    for rule in report["rules"]:
        case = suite.find(f"testcase[@name='{rule['id']}']")
        assert case is not None
        assert case.get("classname") == f"{rule['kind']}.{rule['metric']}"
        if rule["status"] == "fail":
            failure = case.find("failure")
            assert failure.get("type") == rule["severity"]
            assert failure.get("message") == rule["message"]
            text = failure.text or ""
            assert f"{rule['value']:.6g}" in text and f"{rule['operator']} " in text
            assert f"{rule['feature']}={rule['group']}" in text
        if rule["status"] == "warn":
            assert case.find("failure") is None
            assert case.findtext("system-out", "").startswith("WARNING: " + rule["message"])
        if rule["status"] == "skipped":
            assert case.find("skipped").get("message") == rule["message"]


def test_junit_properties_carry_ids_and_digests(report: dict[str, Any]) -> None:
    props = {p.get("name"): p.get("value") for p in _junit(report).iter("property")}
    subject = report["subject"]
    assert props["report_id"] == report["report_id"]
    assert props["version"] == str(report["version"])
    assert props["outcome"] == report["outcome"]
    for part in ("model", "dataset", "policy"):
        assert props[f"{part}_sha256"] == subject[part]["sha256"]
        assert props[part] == f"{subject[part]['name']}@{subject[part]['version']}"
    assert props["bundle"] == BUNDLE
    assert "bundle" not in {p.get("name") for p in _junit(report, None).iter("property")}


def test_junit_waived_passes_with_who_and_until(report: dict[str, Any]) -> None:
    r = _with_waiver_and_hostile(report)
    read = _ci_reader(_junit(r))
    waived = r["rules"][1]
    assert read["results"][waived["id"]] == "passed"
    out = read["suite"].find(f"testcase[@name='{waived['id']}']").findtext("system-out")
    assert out.startswith("WAIVED by carol until 2027-01-31: remediation under way")
    for b in waived["breaches"]:
        assert f"race={b['group']}: {b['value']:.6g}" in out
    assert int(read["suite"].get("failures")) == 1


def test_junit_hostile_group_label_round_trips(report: dict[str, Any]) -> None:
    r = _with_waiver_and_hostile(report)
    r["subject"]["name"] = "sys<&>\"'"
    r["subject"]["model"]["name"] = "m\x07odel"  # a control character XML 1.0 cannot carry
    root = _junit(r)
    suite = _ci_reader(root)["suite"]
    assert suite.get("name") == "audit: sys<&>\"'"
    failure = suite.find("testcase[@name='four-fifths-sex']/failure")
    assert failure.get("message") == f"impact ratio of {HOSTILE} | is low"
    assert f"judged at: sex={HOSTILE}\n" in failure.text
    assert f"  sex={HOSTILE}: 0.31" in failure.text
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["model"] == "m\ufffdodel@1"


# -- Markdown ---------------------------------------------------------------------------------


def _gfm_cells(row: str) -> list[str]:
    """Split one GFM table row into cells, per the GFM spec: a backslash escapes the next
    character (so ``\\|`` is content), every other ``|`` separates cells."""
    assert row.startswith("|") and row.endswith("|"), row
    cells, current, i = [], "", 1
    while i < len(row) - 1:
        ch = row[i]
        if ch == "\\" and i + 1 < len(row) - 1:
            current += row[i : i + 2]
            i += 2
            continue
        if ch == "|":
            cells.append(current)
            current = ""
        else:
            current += ch
        i += 1
    cells.append(current)
    return [c.strip() for c in cells]


def _unescape(text: str) -> str:
    """Markdown cell text back to plain text: backslash escapes, <br> line breaks, code spans."""
    text = text.replace("<br>", "\n")
    m = re.fullmatch(r"(`+) ?(.*?) ?\1", text)
    if m:
        return m[2].replace("\\|", "|")
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def _table(md: str) -> list[list[str]]:
    rows = [line for line in md.splitlines() if line.startswith("|")]
    header, rule, *body = rows
    width = len(_gfm_cells(header))
    assert len(_gfm_cells(rule)) == width
    parsed = [_gfm_cells(row) for row in body]
    assert all(len(cells) == width for cells in parsed), parsed
    return parsed


def test_markdown_lists_rules_needing_attention(report: dict[str, Any]) -> None:
    md = FORMATS["markdown"].render(report, bundle_path=BUNDLE)
    first = md.splitlines()[0]
    assert first.startswith("## ") and "FAIL" in first and "PASS" not in first
    rows = _table(md)
    attention = [r for r in report["rules"] if r["status"] in ("fail", "warn", "waived")]
    assert [_unescape(cells[1]) for cells in rows] == [r["id"] for r in attention]
    for cells, rule in zip(rows, attention, strict=True):
        assert rule["status"].upper() in cells[0]
        assert _unescape(cells[2]) == rule["metric"]
        assert _unescape(cells[6]) == rule["message"]
    others = [r for r in report["rules"] if r not in attention]
    assert all(r["id"] not in md for r in others)
    assert "1 passed, 1 skipped" in md
    for part in ("model", "dataset", "policy"):
        assert report["subject"][part]["sha256"][:12] in md
    assert f"`{BUNDLE}/report.html`" in md
    assert BUNDLE not in FORMATS["markdown"].render(report)


def test_markdown_escapes_pipes_and_newlines_in_cells(report: dict[str, Any]) -> None:
    r = _with_waiver_and_hostile(report)
    r["rules"][2]["message"] = "a | b \\| c\nsecond line | end"
    md = FORMATS["markdown"].render(r)
    rows = _table(md)  # every row keeps the header's column count
    by_id = {_unescape(cells[1]): cells for cells in rows}
    assert _unescape(by_id["equal-opportunity-sex"][6]) == r["rules"][2]["message"]
    assert _unescape(by_id["four-fifths-sex"][3]) == f"sex={HOSTILE}"
    assert _unescape(by_id["four-fifths-sex"][6]) == r["rules"][0]["message"]
    assert "WAIVED" in by_id["four-fifths-race"][0]
    assert re.search(r"(?<!\\)<x>", md) is None  # no unescaped tag reaches the renderer


def test_markdown_shows_ansi_escapes_and_bidi_overrides_visibly(report: dict[str, Any]) -> None:
    """summary.md is appended to CI job summaries and read in terminals: a system name or a
    message with an ANSI escape or a bidi override must not repaint or reorder what is shown."""
    r = _with_waiver_and_hostile(report)
    r["subject"]["name"] = "credit\x1b[31mFAKE"
    r["rules"][2]["message"] = "ok \u202eedoc"
    md = FORMATS["markdown"].render(r)
    assert "\x1b" not in md and "\u202e" not in md
    # shown as the escapes themselves (backslash-escaped once more for Markdown)
    assert "credit\\\\x1b\\[31mFAKE" in md and "\\\\u202eedoc" in md


def test_markdown_pass_headline_in_words(report: dict[str, Any]) -> None:
    r = copy.deepcopy(report)
    r["outcome"] = "pass"
    r["rules"] = [rule for rule in r["rules"] if rule["status"] == "pass"]
    r["subject"]["model"] = None  # recorded decisions: no model
    md = FORMATS["markdown"].render(r)
    first = md.splitlines()[0]
    assert "PASS" in first and "FAIL" not in first
    assert not [line for line in md.splitlines() if line.startswith("|")]
    assert "Rules: 1 passed." in md


# -- the renderer interface -------------------------------------------------------------------


def test_bundle_renderers_in_bundle_order_write_their_files(tmp_path: Path, report: dict) -> None:
    from audit.contract import Report
    from audit.report.formats import Renderer, bundle_renderers

    names = [r.name for r in bundle_renderers(pdf=True, decisions=[])]
    assert names == ["html", "pdf", "junit", "markdown", "cyclonedx", "model-card", "reasons"]
    assert [r.name for r in bundle_renderers(pdf=False, decisions=None)] == [
        "html",
        "junit",
        "markdown",
        "cyclonedx",
        "model-card",
    ]
    typed = Report.model_validate(report)
    for renderer in bundle_renderers(pdf=False, reports_root="reports", decisions=[]):
        assert isinstance(renderer, Renderer)
        renderer(typed, tmp_path)
        for name in renderer.filenames:
            assert (tmp_path / name).is_file()
    junit = FORMATS["junit"].render(report, bundle_path="reports/adult-income/v2")
    assert (tmp_path / "junit.xml").read_text("utf-8") == junit


def test_a_catalogued_metric_becomes_an_appendix_column(
    report: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit.report.render as render
    from audit.contract import GROUP_METRICS, GroupMetric

    extra = GroupMetric("treatment_gap", "treatment gap", "tp / n", "neither", "labels")
    monkeypatch.setattr(render, "GROUP_METRICS", (*GROUP_METRICS, extra))
    html = render.render_html(report)
    appendix = html.split('id="appendix"', 1)[1]
    header = appendix.split("</thead>", 1)[0]
    assert header.index(">Accuracy<") < header.index(">Treatment gap<") < header.index(">Status<")
