"""Tests for the HTML and PDF report renderers.

The HTML is parsed with the standard library's ``html.parser`` and its numbers are checked
against values recomputed here from each group's confusion counts (not against the rates stored
in the fixture). The PDF is read back with pypdf. The URL-fetcher restriction is tested by
attacking it: a template that points at /etc/passwd in every way WeasyPrint fetches resources,
with a control run on WeasyPrint's default fetcher proving the attack would otherwise succeed.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import struct
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pypdf
import pytest

from audit.errors import InputError
from audit.report.pdf import ResourceRefused, render_pdf, template_folder_fetcher
from audit.report.render import default_template_dir, render_html
from tests.helpers import as_json

# WeasyPrint warns at import when the system lacks libharfbuzz-subset (an optional library
# today); that is about the machine, not about this code.
pytestmark = pytest.mark.filterwarnings(
    "ignore:HarfBuzz-Subset will be required:DeprecationWarning"
)

FIXTURE = Path(__file__).parent / "fixtures" / "report_example.json"
PASSWD = Path("/etc/passwd")
PASSWD_MARK = b"root:x:0:0"


# -- a tiny DOM over html.parser ---------------------------------------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str, cls: str | None = None) -> list[Node]:
        return [n for n in self.iter() if n.tag == tag and (cls is None or cls in n.classes)]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root
        self.all_attrs: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        self.all_attrs.extend((tag, k, v) for k, v in attrs)
        if tag not in _VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))
        self.all_attrs.extend((tag, k, v) for k, v in attrs)

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> _TreeBuilder:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder


def squash(text: str) -> str:
    return " ".join(text.split())


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def html(report: dict[str, Any]) -> str:
    return render_html(report)


@pytest.fixture(scope="module")
def dom(html: str) -> Node:
    return parse(html).root


@pytest.fixture(scope="module")
def pdf_bytes(html: str) -> bytes:
    return render_pdf(html)


@pytest.fixture(scope="module")
def pdf_pages(pdf_bytes: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    return [page.extract_text() for page in reader.pages]


def pdf_text(pages: list[str]) -> str:
    """All page text, with words that wrapped at a hyphen or underscore joined again."""
    text = "\n".join(pages)
    return re.sub(r"([-_&])\s*\n\s*", r"\1", text)


def expected_rates(g: dict[str, int]) -> dict[str, float | None]:
    """Group rates recomputed from confusion counts; None where the denominator is zero."""
    tp, fp, fn, tn = g["tp"], g["fp"], g["fn"], g["tn"]
    n = tp + fp + fn + tn

    def div(a: int, b: int) -> float | None:
        return a / b if b else None

    return {
        "n": n,
        "selection_rate": div(tp + fp, n),
        "base_rate": div(tp + fn, n),
        "tpr": div(tp, tp + fn),
        "fpr": div(fp, fp + tn),
        "fnr": div(fn, tp + fn),
        "ppv": div(tp, tp + fp),
    }


def value_of(td: Node) -> str:
    """A group-table rate cell's value (its first line; the interval is a second span)."""
    spans = td.find_all("span", "value")
    return squash(spans[0].text()) if spans else squash(td.text())


def interval_of(td: Node) -> str | None:
    spans = td.find_all("span", "ci")
    return squash(spans[0].text()) if spans else None


def shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# -- HTML structure ----------------------------------------------------------------------------


def test_sections_in_order(dom: Node, report: dict[str, Any]) -> None:
    headings = [squash(n.text()) for n in dom.iter() if n.tag in ("h1", "h2")]
    expected = [
        f"Model audit: {report['subject']['name']}",
        "Rules",
        "Fairness evidence",
        "Explanations",
        "Performance",
        "Data",
        "Drift against the reference data",
        "Methodology",
        "Provenance",
        "Appendix: full per-group tables",
    ]
    positions = [headings.index(h) for h in expected]
    assert positions == sorted(positions), headings
    assert [n.tag for n in dom.iter() if n.tag == "h1"] == ["h1"]
    h3 = {squash(n.text()) for n in dom.find_all("h3")}
    for feature in report["fairness"]:
        assert any(h.startswith(feature) for h in h3), (feature, h3)


def test_rule_table_keeps_policy_order_and_marks_status(dom: Node, report: dict[str, Any]) -> None:
    table = dom.find_all("table", "rules")[0]
    rows = table.find_all("tr", "rule")
    assert [squash(r.find_all("th")[0].text()) for r in rows] == [r["id"] for r in report["rules"]]
    symbols = {"pass": "\u2713", "fail": "\u2717", "warn": "!", "skipped": "\u2013"}
    for row, rule in zip(rows, report["rules"], strict=True):
        assert f"rule-{rule['status']}" in row.classes
        status = squash(row.find_all("td", "status-cell")[0].text())
        assert status == f"{symbols[rule['status']]} {rule['status'].upper()}"
        cells = [squash(c.text()) for c in row.find_all("td")]
        assert rule["message"] in cells
        value = "n/a" if rule["value"] is None else f"{rule['value']:.3f}"
        assert cells[3].startswith(value)
    headers = [squash(th.text()) for th in table.find_all("thead")[0].find_all("th")]
    assert headers[:5] == ["Rule", "Severity", "Metric", "Feature / group", "Value"]
    assert all(th.attrs.get("scope") == "col" for th in table.find_all("thead")[0].find_all("th"))


def test_summary_outcome_badge_and_identifiers(dom: Node, report: dict[str, Any]) -> None:
    badge = dom.find_all("div", "badge")[0]
    assert squash(badge.text()) == "\u2717 FAIL"
    assert "badge-fail" in badge.classes
    summary = squash(dom.find_all("section", "summary")[0].text())
    model = report["subject"]["model"]
    assert report["report_id"] in summary
    assert f"{model['name']}@{model['version']}" in summary
    assert model["sha256"][:12] in summary
    assert "16,281 rows" in summary
    failed = sum(r["status"] == "fail" for r in report["rules"])
    assert f"{failed} failed" in summary


def test_group_tables_match_counts(dom: Node, report: dict[str, Any]) -> None:
    tables = dom.find_all("table", "groups")
    assert len(tables) == len(report["fairness"])
    for table, (feature, evidence) in zip(tables, report["fairness"].items(), strict=True):
        rows = table.find_all("tbody")[0].find_all("tr")
        assert len(rows) == len(evidence["groups"])
        ref = evidence["reference_group"]
        ref_rate = expected_rates(evidence["groups"][ref])["selection_rate"]
        for row, (group, counts) in zip(rows, evidence["groups"].items(), strict=True):
            label = squash(row.find_all("th")[0].text())
            want = expected_rates(counts)
            cells = [value_of(td) for td in row.find_all("td")]
            assert label == (f"{group} (reference)" if group == ref else group), feature
            assert cells[0] == f"{want['n']:,}"
            total = sum(g["n"] for g in evidence["groups"].values())
            assert cells[1] == f"{100 * want['n'] / total:.1f} %"
            keys = ["selection_rate", "tpr", "fpr", "ppv"]
            assert cells[2:6] == [shown(want[k]) for k in keys], (feature, group)
            impact = want["selection_rate"] / ref_rate
            assert cells[6].endswith(f"{impact:.3f}")
            assert cells[6].startswith("\u25bc") == (impact < 0.8)


def test_null_rates_render_as_na(report: dict[str, Any]) -> None:
    # The fixture must exercise undefined rates, or this renderer path goes untested.
    nulls = [
        (f, g, k)
        for f, ev in report["fairness"].items()
        for g, stats in ev["groups"].items()
        for k, v in stats.items()
        if v is None
    ]
    assert nulls, "fixture has no undefined rate"


def test_selection_rate_chart_geometry(dom: Node, report: dict[str, Any]) -> None:
    figures = [f for f in dom.find_all("figure") if f.find_all("rect", "bar")]
    charts = figures[: len(report["fairness"])]
    for figure, (feature, evidence) in zip(charts, report["fairness"].items(), strict=True):
        svg = figure.find_all("svg")[0]
        assert feature in squash(svg.find_all("title")[0].text())
        bars = svg.find_all("rect", "bar")
        rates = {g: expected_rates(c)["selection_rate"] for g, c in evidence["groups"].items()}
        assert len(bars) == len(rates)
        x0 = float(bars[0].attrs["x"] or 0)
        widths = {
            squash(b.find_all("title")[0].text()).rsplit(":", 1)[0]: float(b.attrs["width"] or 0)
            for b in bars
        }
        ref = evidence["reference_group"]
        for group, rate in rates.items():
            assert widths[group] / widths[ref] == pytest.approx(rate / rates[ref], abs=2e-3)
        line = svg.find_all("line", "reference")[0]
        line_x = float(line.attrs["x1"] or 0)
        assert (line_x - x0) / widths[ref] == pytest.approx(0.8, abs=2e-3)


def test_importance_chart_and_table(dom: Node, report: dict[str, Any]) -> None:
    section = next(s for s in dom.find_all("section") if s.attrs.get("id") == "explanations")
    bars = section.find_all("rect", "bar")
    ranked = sorted(report["explanations"]["global"], key=lambda r: -r["mean_abs_shap"])
    names = [squash(b.find_all("title")[0].text()).split(":")[0] for b in bars]
    assert names == [r["feature"] for r in ranked]
    top = float(bars[0].attrs["width"] or 0)
    for bar, row in zip(bars, ranked, strict=True):
        ratio = row["mean_abs_shap"] / ranked[0]["mean_abs_shap"]
        assert float(bar.attrs["width"] or 0) / top == pytest.approx(ratio, abs=2e-3)
    text = squash(section.text())
    total = sum(r["mean_abs_shap"] for r in report["explanations"]["global"])
    assert f"{report['explanations']['global'][0]['mean_abs_shap'] / total * 100:.1f}" in text
    assert "shap.TreeExplainer" in text and "log-odds of >50K" in text
    assert "1,000 of 16,281 rows, seed 0" in text


def test_performance_counts(dom: Node, report: dict[str, Any]) -> None:
    section = next(s for s in dom.find_all("section") if s.attrs.get("id") == "performance")
    text = squash(section.text())
    perf = report["performance"]
    assert f"TP {perf['tp']:,}" in text and f"TN {perf['tn']:,}" in text
    tp, fp, fn, tn = perf["tp"], perf["fp"], perf["fn"], perf["tn"]
    assert f"{(tp + tn) / (tp + fp + fn + tn):.3f}" in text  # accuracy
    assert f"{tp / (tp + fp):.3f}" in text  # precision


def test_provenance_has_full_digests(dom: Node, report: dict[str, Any]) -> None:
    section = next(s for s in dom.find_all("section") if s.attrs.get("id") == "provenance")
    digests = [squash(n.text()) for n in section.find_all("span", "digest")]
    for part in ("model", "dataset", "policy"):
        assert f"sha256:{report['subject'][part]['sha256']}" in digests
    assert report["previous"] in digests
    rows = {
        squash(tr.find_all("th")[0].text()): squash(tr.find_all("td")[0].text())
        for tr in section.find_all("tr")
    }
    libraries = [squash(n.text()) for n in section.find_all("span", "library")]
    assert libraries == [
        f"{name} {version}" for name, version in report["environment"]["libraries"].items()
    ]
    assert rows["Reference data"].endswith(f"sha256:{report['subject']['reference']['sha256']}")


def test_html_is_self_contained(html: str) -> None:
    tree = parse(html)
    lowered = html.lower()
    for needle in ("http://", "https://", "file:", "@import", "<script", "@font-face"):
        assert needle not in lowered, needle
    assert not tree.root.find_all("script")
    assert not tree.root.find_all("link")
    for tag, attr, value in tree.all_attrs:
        if attr in ("src", "href", "data", "xlink:href", "srcset", "poster"):
            assert (value or "").startswith(("data:", "#")), (tag, attr, value)
        assert not attr.startswith("on"), (tag, attr)
    for style in tree.root.find_all("style"):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]*)", style.text()):
            assert url.startswith("data:"), url


def test_html_is_deterministic(report: dict[str, Any], html: str) -> None:
    assert render_html(copy.deepcopy(report)) == html


def test_labels_are_escaped(report: dict[str, Any]) -> None:
    evil = "<script>alert(1)</script>"
    hostile = copy.deepcopy(report)
    groups = hostile["fairness"]["sex"]["groups"]
    groups[evil] = groups.pop("Female")
    hostile["rules"][0]["message"] = '<img src=x onerror="alert(1)">'
    hostile["subject"]["name"] = "</title><script>alert(2)</script>"
    out = render_html(hostile)
    tree = parse(out)
    assert not tree.root.find_all("script")
    assert not [n for n in tree.root.find_all("img")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    labels = [squash(th.text()) for th in tree.root.find_all("table", "groups")[0].find_all("th")]
    assert evil in labels  # shown as text, in the table and the chart
    svg_text = " ".join(squash(t.text()) for t in tree.root.find_all("text", "label"))
    assert evil in svg_text


# -- robustness --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sparse_report(report: dict[str, Any]) -> dict[str, Any]:
    sparse = copy.deepcopy(report)
    sparse["previous"] = None
    sparse["rules"] = []
    sparse["summary"] = {
        "rules": 0,
        "passed": 0,
        "failed": 0,
        "warned": 0,
        "waived": 0,
        "skipped": 0,
    }
    sparse["outcome"] = "pass"
    sparse["explanations"] = {
        "status": "skipped",
        "reason": "the audit uses recorded predictions; there is no model to explain",
    }
    race = sparse["fairness"]["race"]
    race["groups"]["Other"].update(tpr=None, fpr=None, ppv=None, impact_ratio=None)
    race["equalized_odds_difference"] = None
    return sparse


def test_sparse_report_renders(sparse_report: dict[str, Any]) -> None:
    out = render_html(sparse_report)
    dom = parse(out).root
    text = squash(dom.text())
    assert sparse_report["explanations"]["reason"] in text
    assert "No rules were evaluated" in text
    assert "first version" in text
    assert squash(dom.find_all("div", "badge")[0].text()) == "\u2713 PASS"
    assert not dom.find_all("table", "rules")
    race_table = dom.find_all("table", "groups")[1]
    other = next(r for r in race_table.find_all("tr") if "Other" in r.text())
    cells = [value_of(td) for td in other.find_all("td")]
    assert [cells[i] for i in (3, 4, 5, 6)] == ["n/a"] * 4  # tpr, fpr, ppv, impact ratio


def test_sparse_report_pdf(sparse_report: dict[str, Any]) -> None:
    pdf = render_pdf(render_html(sparse_report))
    text = pdf_text([p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages])
    assert "PASS" in text
    assert "there is no model to explain" in squash(text)


def test_missing_field_names_it(report: dict[str, Any]) -> None:
    broken = copy.deepcopy(report)
    del broken["subject"]["dataset"]["sha256"]
    with pytest.raises(InputError, match=r"subject\.dataset\.sha256"):
        render_html(broken)


def test_missing_template_folder(report: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="report.html.j2"):
        render_html(report, tmp_path)


def test_default_template_dir_is_the_repo_folder() -> None:
    folder = default_template_dir()
    assert folder == Path(__file__).resolve().parents[1] / "report_templates"
    assert (folder / "report.html.j2").is_file() and (folder / "report.css").is_file()


# -- PDF ---------------------------------------------------------------------------------------


def test_pdf_contains_outcome_rules_and_id(pdf_pages: list[str], report: dict[str, Any]) -> None:
    assert len(pdf_pages) > 1
    first = pdf_text(pdf_pages[:1])
    # The whole summary, rule table included, is on the first page.
    assert "FAIL" in first
    for rule in report["rules"]:
        assert rule["id"] in first, rule["id"]
    for number, page in enumerate(pdf_pages, start=1):
        assert report["report_id"] in page, number
        assert f"Page {number} of {len(pdf_pages)}" in page


def test_pdf_sections_start_new_pages(pdf_pages: list[str]) -> None:
    toc = next(i for i, p in enumerate(pdf_pages) if "Contents" in p)
    assert toc == 1  # the table of contents follows the summary page
    starts = {
        name: next(i for i, p in enumerate(pdf_pages) if name in p.splitlines() and i != toc)
        for name in (
            "Fairness evidence",
            "Explanations",
            "Performance",
            "Methodology",
            "Provenance",
        )
    }
    assert 0 not in starts.values()
    # the contents give each section's page number (1-based)
    for name, index in starts.items():
        line = next(ln for ln in pdf_pages[toc].splitlines() if name in ln)
        assert line.rstrip().endswith(str(index + 1)), (name, line)
    assert len(set(starts.values())) == len(starts)


def test_pdf_metadata(pdf_bytes: bytes, report: dict[str, Any]) -> None:
    meta = pypdf.PdfReader(io.BytesIO(pdf_bytes)).metadata
    assert meta is not None
    assert meta["/CreationDate"] == "D:20261122061000Z"  # from created_at 2026-11-22T06:10:00Z
    assert meta["/ModDate"] == "D:20261122061000Z"
    assert report["subject"]["name"] in meta["/Title"]


def test_pdf_is_deterministic(html: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without libharfbuzz-subset WeasyPrint subsets fonts with fontTools, which stamps each
    # subset's 'head' table with the current time unless SOURCE_DATE_EPOCH is set; everything
    # else in the PDF (dates, ids) is fixed by the renderer itself.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795327800")
    assert render_pdf(html) == render_pdf(html)


# -- URL fetcher: only data: URLs and files inside the template folder -------------------------


def _png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def all_pdf_bytes(pdf: bytes) -> bytes:
    """The raw PDF plus every stream in it decompressed, to search for leaked content."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n", pdf):
        try:
            parts.append(zlib.decompressobj().decompress(pdf[match.end() :]))
        except zlib.error:
            continue
    return b"\n".join(parts)


def test_fetcher_allows_only_data_and_template_files(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    root.mkdir()
    (root / "logo.png").write_bytes(_png())
    (tmp_path / "secret.txt").write_text("top secret")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    fetcher = template_folder_fetcher(root)

    response = fetcher.fetch((root / "logo.png").as_uri())
    assert response.read() == _png()
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    refused = [
        PASSWD.as_uri(),
        (tmp_path / "secret.txt").as_uri(),
        root.as_uri() + "/../secret.txt",
        root.as_uri() + "/%2e%2e/secret.txt",
        (root / "link.txt").as_uri(),
        root.as_uri(),  # a directory
        "http://127.0.0.1:9/logo.png",
        "https://example.com/x.css",
        "ftp://example.com/x",
        "file://otherhost" + str(root / "logo.png"),
    ]
    for url in refused:
        with pytest.raises(ResourceRefused):
            fetcher.fetch(url)


_ATTACK_HTML = """
<img src="file:///etc/passwd" alt="a">
<img src="../../../../../../../../etc/passwd" alt="b">
<link rel="stylesheet" href="file:///etc/passwd">
<link rel="stylesheet" href="../../../../../../../../etc/passwd">
<link rel="attachment" href="file:///etc/passwd">
<a rel="attachment" href="file:///etc/passwd">passwd</a>
<a rel="attachment" href="leak.txt">leak</a>
<object data="file:///etc/passwd" type="text/plain"></object>
<embed src="file:///etc/passwd" type="text/plain">
<svg width="20" height="20"><image href="file:///etc/passwd" width="10" height="10"/></svg>
<style>@import url("file:///etc/passwd"); .x { background: url(file:///etc/passwd) }</style>
<img src="logo.png" alt="allowed logo">
"""


@pytest.fixture(scope="module")
def malicious_templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if PASSWD_MARK not in PASSWD.read_bytes():
        pytest.skip("/etc/passwd has no root entry to detect")
    folder = tmp_path_factory.mktemp("evil") / "templates"
    shutil.copytree(default_template_dir(), folder)
    template = folder / "report.html.j2"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("</body>", _ATTACK_HTML + "</body>"), encoding="utf-8")
    css = folder / "report.css"
    css.write_text(
        '@import url("file:///etc/passwd");\n@import url("../../../../../../etc/passwd");\n'
        + css.read_text(encoding="utf-8")
        + "\nbody { background-image: url(file:///etc/passwd); }\n",
        encoding="utf-8",
    )
    (folder / "leak.txt").symlink_to(PASSWD)
    (folder / "logo.png").write_bytes(_png())
    return folder


def test_malicious_template_cannot_embed_local_files(
    malicious_templates: Path, report: dict[str, Any]
) -> None:
    html = render_html(report, malicious_templates)
    assert "file:///etc/passwd" in html  # the attack is really in the page
    pdf = render_pdf(html, malicious_templates)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert PASSWD_MARK not in all_pdf_bytes(pdf)
    assert "root:x:0:0" not in "".join(p.extract_text() for p in reader.pages)
    assert not reader.attachments
    # The fetcher is not simply refusing everything: the logo inside the folder is embedded.
    assert b"/Subtype /Image" in all_pdf_bytes(pdf)


def test_attack_succeeds_with_weasyprint_default_fetcher(
    malicious_templates: Path, report: dict[str, Any]
) -> None:
    """Control: without the restricted fetcher the same HTML leaks /etc/passwd into the PDF,
    so the test above would notice if the restriction stopped working."""
    import weasyprint

    html = render_html(report, malicious_templates)
    pdf = weasyprint.HTML(string=html, base_url=str(malicious_templates)).write_pdf()
    assert PASSWD_MARK in all_pdf_bytes(pdf)


def test_sandbox_refuses_template_code_execution(report: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(default_template_dir(), folder)
    (folder / "report.html.j2").write_text(
        "{{ cycler.__init__.__globals__.os.popen('cat /etc/passwd').read() }}", encoding="utf-8"
    )
    with pytest.raises(InputError, match="sandbox|does not have"):
        render_html(report, folder)


def test_stylesheet_cannot_close_style_element(report: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(default_template_dir(), folder)
    (folder / "report.css").write_text("body{}</style><script>alert(1)</script>")
    with pytest.raises(InputError, match="</style"):
        render_html(report, folder)


def test_large_intersection_chart_keeps_reference_and_lowest_groups(
    report: dict[str, Any],
) -> None:
    big = copy.deepcopy(report)
    groups = big["fairness"]["sex&race"]["groups"]
    template = groups["Male & White"]
    for i in range(45):
        tp, fp = 3 * i, 2 * i
        groups[f"country-{i} & occupation-{i}"] = dict(template, tp=tp, fp=fp, fn=50, tn=400 - tp)
    for stats in groups.values():
        stats.update(expected_rates(stats))
    dom = parse(render_html(big)).root
    table = dom.find_all("table", "groups")[2]
    assert len(table.find_all("tbody")[0].find_all("tr")) == len(groups)  # the table has all
    svg = [s for s in dom.find_all("svg") if "sex&race" in s.find_all("title")[0].text()][0]
    shown_groups = [
        squash(b.find_all("title")[0].text()).rsplit(":", 1)[0] for b in svg.find_all("rect", "bar")
    ]
    others = sorted(
        (g for g in groups if g != "Male & White"), key=lambda g: groups[g]["selection_rate"]
    )
    assert len(shown_groups) == 30
    assert set(shown_groups) == {"Male & White", *others[:29]}
    assert "lowest of 55 groups" in squash(svg.text())


# -- fairness evidence with intervals, tests, small and excluded groups (issue 3) ---------------


@pytest.fixture(scope="module")
def evidence_report(report: dict[str, Any]) -> dict[str, Any]:
    """The fixture with its fairness section replaced by the engine's full output: intervals,
    tests, a group too small to measure, a group excluded under 2% of the data, and scores."""
    import numpy as np
    import pandas as pd

    from audit.fairness import compute_fairness

    rng = np.random.default_rng(0)
    sizes = {"Asian": 300, "Black": 250, "White": 400, "Tiny": 3, "Rare": 12}
    race = np.repeat(list(sizes), list(sizes.values()))
    sex = rng.choice(["Female", "Male"], len(race))
    scores = rng.random(len(race)) * np.where(race == "White", 1.0, 0.8)
    y_true = rng.random(len(race)) < scores
    y_pred = scores > 0.5
    fairness = as_json(
        compute_fairness(
            y_true,
            y_pred,
            pd.DataFrame({"sex": sex, "race": race}),
            scores=scores,
            min_group_size=5,
            exclude_below_share=0.02,
            n_bootstrap=200,
        ).to_report()
    )
    out = copy.deepcopy(report)
    out["fairness"] = fairness
    ir = fairness["race"]["groups"]["Black"]["impact_ratio"]
    out["rules"] = [
        {
            "id": "four-fifths-race",
            "kind": "fairness",
            "metric": "impact_ratio",
            "feature": "race",
            "severity": "error",
            "status": "fail",
            "value": ir,
            "threshold": 0.99,
            "operator": ">=",
            "group": "Black",
            "ci": fairness["race"]["groups"]["Black"]["ci"]["impact_ratio"],
            "message": "impact ratio of Black is below 0.99",
            "breaches": [{"feature": "race", "group": "Black", "value": ir}],
        }
    ]
    return out


@pytest.fixture(scope="module")
def evidence_dom(evidence_report: dict[str, Any]) -> Node:
    return parse(render_html(evidence_report)).root


def test_interval_tables_show_each_group_interval_test_and_status(
    evidence_dom: Node, evidence_report: dict[str, Any]
) -> None:
    tables = evidence_dom.find_all("table", "groups")
    assert len(tables) == len(evidence_report["fairness"])
    for table, ev in zip(tables, evidence_report["fairness"].values(), strict=True):
        assert f"{ev['n_bootstrap']} bootstrap resamples" in squash(table.text())
        rows = table.find_all("tbody")[0].find_all("tr")
        reference = ev["reference_group"]
        labels = [squash(r.find_all("th")[0].text()).removesuffix(" (reference)") for r in rows]
        assert labels == list(ev["groups"])
        assert len(table.find_all("span", "ci")) == 5 * len(rows)  # an interval under each rate
        for row, (name, g) in zip(rows, ev["groups"].items(), strict=True):
            tds = row.find_all("td")
            cells = [squash(td.text()) for td in tds]
            assert ("reference" in row.classes) == (name == reference)
            metrics = ["selection_rate", "tpr", "fpr", "ppv", "impact_ratio"]
            for td, metric in zip(tds[2:7], metrics, strict=True):
                ci = g["ci"][metric]
                want = "n/a" if ci is None else f"{ci[0]:.3f}\u2013{ci[1]:.3f}"
                assert interval_of(td) == want, metric
            test = g["tests"]["selection_rate"]
            p_cell = cells[-2]
            if test is None:
                assert p_cell == "\u2013"
            else:
                p = test["p_value"]
                assert p_cell.startswith("< 0.001" if p < 0.001 else f"{p:.3f}")
                assert f"({test['method']})" in p_cell
            status = cells[-1]
            if g["status"] == "insufficient_data":
                assert status.startswith(f"insufficient data (n = {g['n']})")
            elif g["excluded"]:
                assert status.startswith(f"excluded from comparisons: {g['excluded']}")
            else:
                assert status.startswith("ok")
    race_rows = tables[1].find_all("tbody")[0].find_all("tr")
    by_group = {
        squash(r.find_all("th")[0].text()).removesuffix(" (reference)"): r for r in race_rows
    }
    assert "breach" in by_group["Black"].classes
    assert "breaches four-fifths-race" in squash(by_group["Black"].text())
    assert "insufficient" in by_group["Tiny"].classes
    assert "Rare" in evidence_report["fairness"]["race"]["excluded_groups"]
    assert "under the 2% threshold" in squash(by_group["Rare"].text())


def test_insufficient_group_shows_no_rate(evidence_dom: Node) -> None:
    table = evidence_dom.find_all("table", "groups")[1]
    row = next(
        r
        for r in table.find_all("tbody")[0].find_all("tr")
        if squash(r.find_all("th")[0].text()) == "Tiny"
    )
    tds = row.find_all("td")
    assert squash(tds[0].text()) == "3"
    assert {value_of(td) for td in tds[2:7]} == {"n/a"}  # no rate and
    assert {interval_of(td) for td in tds[2:7]} == {"n/a"}  # no interval for 3 rows
    assert squash(tds[-1].text()).startswith("insufficient data (n = 3)")


def test_between_group_summary_has_intervals(
    evidence_dom: Node, evidence_report: dict[str, Any]
) -> None:
    table = evidence_dom.find_all("table", "differences")[1]
    text = squash(table.text())
    selection = evidence_report["fairness"]["race"]["disparities"]["selection_rate"]
    low, high = selection["ci_difference"]
    assert f"difference {selection['difference']:.3f} [{low:.3f}\u2013{high:.3f}]" in text
    assert " vs ".join(selection["worst_pair"]) in text
    assert "Rare" in text and "most favoured" in text


def test_rate_charts_draw_intervals_to_scale(
    evidence_dom: Node, evidence_report: dict[str, Any]
) -> None:
    svgs = evidence_dom.find_all("svg")
    for feature, ev in evidence_report["fairness"].items():
        for metric, name in [
            ("selection_rate", "Selection rate"),
            ("tpr", "TPR"),
            ("fpr", "FPR"),
            ("ppv", "PPV"),
            ("scoring_rate", "scoring rate"),
        ]:
            svg = next(
                s
                for s in svgs
                if squash(s.find_all("title")[0].text()).lower()
                == f"{name} by group: {feature}".lower()
            )
            bars = {
                squash(b.find_all("title")[0].text()).rsplit(":", 1)[0]: b
                for b in svg.find_all("rect", "bar")
            }
            whiskers = {
                squash(w.find_all("title")[0].text()).rsplit(": interval", 1)[0]: w
                for w in svg.find_all("g", "ci")
            }
            shown_groups = {g for g, s in ev["groups"].items() if s[metric] is not None}
            assert set(bars) == shown_groups, (feature, metric)
            x0 = float(next(iter(bars.values())).attrs["x"] or 0)
            unit = None
            for group, bar in bars.items():
                value = ev["groups"][group][metric]
                if value > 0:
                    unit = float(bar.attrs["width"] or 0) / value
                    break
            assert unit
            for group, stats in ev["groups"].items():
                ci = stats["ci"].get(metric)
                if ci is None:
                    assert group not in whiskers
                    continue
                line = whiskers[group].find_all("line")[0]
                assert (float(line.attrs["x1"] or 0) - x0) == pytest.approx(ci[0] * unit, abs=0.02)
                assert (float(line.attrs["x2"] or 0) - x0) == pytest.approx(ci[1] * unit, abs=0.02)


def test_evidence_report_pdf_renders(evidence_report: dict[str, Any]) -> None:
    pdf = render_pdf(render_html(evidence_report))
    text = squash(pdf_text([p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]))
    assert "insufficient data (n = 3)" in text, text[text.find("Tiny") :][:300]
    assert "breaches four-fifths-race" in text
    assert "TPR by group: race" in text or "TPR = TP / (TP + FN)" in text


# -- explanation charts ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explained_report(report: dict[str, Any]) -> dict[str, Any]:
    """The fixture report with a fresh explanation of the sample Adult model (reasons, groups)."""
    import pandas as pd

    from audit.explain import explain_model, load_reason_codes
    from audit.loaders import load_model

    root = Path(__file__).resolve().parents[1]
    model = load_model(root / "samples/adult/models/adult-gbm.skops")
    frame = pd.read_csv(root / "samples/adult/adult_test.csv", nrows=2000)
    ex = explain_model(
        model.estimator,
        frame[model.feature_names],
        positive_label=">50K",
        sensitive_features=["sex", "race"],
        groups=frame[["sex", "race"]],
        reason_codes=load_reason_codes(root / "policies/reason-codes/adult.yaml"),
        sample_size=150,
        stability_replicas=1,
        stability_rows=20,
    )
    full = copy.deepcopy(report)
    full["explanations"] = json.loads(json.dumps(as_json(ex.to_report()), allow_nan=False))
    return full


def _charts(html: str) -> list[Node]:
    section = next(
        s for s in parse(html).root.find_all("section") if s.attrs.get("id") == "explanations"
    )
    return section.find_all("svg")


def _fits(svg: Node) -> None:
    """No label or legend runs off the chart: every text's estimated extent is inside the box."""
    width = float((svg.attrs["viewbox"] or "").split()[2])  # html.parser lowercases names
    for text in svg.find_all("text"):
        x = float(text.attrs["x"] or 0)
        size = float(text.attrs.get("font-size") or 11)
        extent = len(text.text()) * size * 0.6  # DejaVu Sans averages ~0.58 em per character
        anchor = text.attrs.get("text-anchor")
        left = x - extent if anchor == "end" else x - extent / 2 if anchor == "middle" else x
        right = x if anchor == "end" else x + extent / 2 if anchor == "middle" else x + extent
        assert left >= -1 and right <= width + 1, text.text()


def test_explanation_charts_render_and_fit(explained_report: dict[str, Any]) -> None:
    html = render_html(explained_report)
    charts = _charts(html)
    titles = [c.find_all("title")[0].text() for c in charts]
    assert titles[0] == "Global feature importance with intervals"
    assert "SHAP value distribution per feature" in titles
    assert {"Feature importance by sex group", "Feature importance by race group"} <= set(titles)
    assert sum(t.startswith("Decision for row") for t in titles) == 3
    for svg in charts:
        _fits(svg)
    text = squash(parse(html).root.text())
    summary = explained_report["explanations"]["reasons"]["summary"]
    assert summary[0]["text"] in text and "reasons.csv" in text


def test_importance_whiskers_are_the_intervals(explained_report: dict[str, Any]) -> None:
    svg = _charts(render_html(explained_report))[0]
    bars = svg.find_all("rect", "importance-bar")
    whiskers = svg.find_all("line", "ci")
    rows = explained_report["explanations"]["global"]
    x0 = float(bars[0].attrs["x"] or 0)
    scale = float(bars[0].attrs["width"] or 0) / rows[0]["mean_abs_shap"]
    for bar, whisker, row in zip(bars, whiskers, rows, strict=True):
        assert float(bar.attrs["width"] or 0) == pytest.approx(
            row["mean_abs_shap"] * scale, abs=1e-3
        )
        lo, hi = row["ci"]
        assert float(whisker.attrs["x1"] or 0) == pytest.approx(x0 + lo * scale, abs=1e-3)
        assert float(whisker.attrs["x2"] or 0) == pytest.approx(x0 + hi * scale, abs=1e-3)


def test_waterfall_steps_add_up_to_the_model_output(explained_report: dict[str, Any]) -> None:
    charts = [
        c
        for c in _charts(render_html(explained_report))
        if c.find_all("title")[0].text().startswith("Decision for row")
    ]
    examples = explained_report["explanations"]["reasons"]["examples"]
    for svg, example in zip(charts, examples, strict=True):
        steps = svg.find_all("rect", "step")
        position = example["base_value"]
        for step in steps:
            assert float(step.attrs["data-start"] or 0) == pytest.approx(position, abs=1e-9)
            position = float(step.attrs["data-end"] or 0)
        assert position == pytest.approx(example["model_output"], abs=1e-6)
        expected = sum(c["attribution"] for c in example["contributions"])
        assert position - example["base_value"] == pytest.approx(expected, abs=1e-9)


def test_fixture_is_a_report_the_tool_could_write(report: dict[str, Any]) -> None:
    """The rendering tests run on this fixture: it must satisfy the published schema, or they
    would be testing documents the tool never writes."""
    from audit.report import validate_report

    validate_report(report)
    assert report["data"] and report["drift"] and report["subject"]["reference"]


def test_methodology_names_methods_sizes_seeds_intervals_and_tests(
    evidence_dom: Node, evidence_report: dict[str, Any]
) -> None:
    report, dom = evidence_report, evidence_dom
    section = next(s for s in dom.find_all("section") if s.attrs.get("id") == "methodology")
    text = squash(section.text())
    ex = report["explanations"]
    ev = next(iter(report["fairness"].values()))
    assert ex["explainer"] in text and ex["output_space"] in text
    assert f"{ex['sample_size']:,} of {ex['population_rows']:,} rows (seed {ex['seed']})" in text
    level = round(ev["confidence"] * 100)
    assert f"{level}% intervals that hold their coverage" in text
    # every interval method the report names is explained here
    methods = {m for e in report["fairness"].values() for g in e["groups"].values()
               for m in (g.get("ci_method") or {}).values()}  # fmt: skip
    assert "jeffreys" in methods and "Jeffreys intervals for every rate" in text
    assert any("most-favoured" in m for m in methods) and "candidate reference" in text
    assert f"percentile bootstrap from {ev['n_bootstrap']:,} resamples" in text
    # the counts of test methods are the report's, counted here independently
    tests = [
        g["tests"]["selection_rate"]["method"]
        for e in report["fairness"].values()
        for g in e["groups"].values()
        if (g.get("tests") or {}).get("selection_rate")
    ]
    assert f"({tests.count('fisher')} group comparisons here)" in text
    assert f"z-test ({len(tests) - tests.count('fisher')})" in text
    drift = report["drift"]["method"]
    assert drift["numeric_test"] in text and drift["categorical_test"] in text
    assert f"{report['settings']['seed']}: every random step" in text


def test_no_python_reprs_in_the_text(html: str) -> None:
    """None, nan, True/False are Python's words, not a reader's: unset values say "not set",
    undefined rates "n/a"."""
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", html, flags=re.S)
    for word in ("None", "nan", "NaN", "True", "False", "inf"):
        assert not re.search(rf"\b{word}\b", text), word
