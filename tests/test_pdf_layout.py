"""The PDF as a reader sees it: pages rendered to pixels (pypdfium2), so a broken layout fails —
a blank page, a page left mostly empty in the middle of a section (a block pushed to the next
page), or anything drawn into the outer margin (a table or chart running off the page)."""

from __future__ import annotations

import copy
import html as htmllib
import json
import re
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from audit.report import render_html, render_pdf
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "report_example.json"


# A page may end early only where the next page starts a section (sections start on a new page).
# A page whose ink stops above this share of its height, with the same section going on overleaf,
# means a block was pushed to the next page and left the space behind it empty.
MIN_FILL_WITHIN_SECTION = 0.3


def _section_headings(html: str) -> list[str]:
    """The text of the headings that start a new page: the h2 elements with a "-heading" id."""
    found = re.findall(r'<h2 id="[a-z0-9-]+-heading">(.*?)</h2>', html, flags=re.S)
    return [htmllib.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found]


def _starts_section(page: pdfium.PdfPage, headings: list[str]) -> bool:
    """Whether one of ``headings`` is printed in the top fifth of ``page``."""
    height = page.get_size()[1]
    text = page.get_textpage()
    for heading in headings:
        search = text.search(heading, match_case=True)
        hit = search.get_next()
        while hit:
            top = text.get_charbox(hit[0])[3]  # PDF y grows upwards
            if top > 0.8 * height:
                return True
            hit = search.get_next()
    return False


def _check(pdf: bytes, html: str) -> None:
    doc = pdfium.PdfDocument(pdf)
    headings = _section_headings(html)
    assert len(doc) > 1 and headings
    for number in range(1, len(doc) + 1):
        page = doc[number - 1]
        ink = page.render(scale=0.5).to_numpy()[..., :3].astype(float).mean(axis=2) < 200
        h, w = ink.shape
        body = ink[int(0.06 * h) : int(0.94 * h)]  # between the running header and footer
        assert body.mean() > 0.002, f"page {number} is blank"
        margin = max(2, int(0.03 * w))
        assert not ink[:, :margin].any(), f"page {number}: something is drawn in the left margin"
        assert not ink[:, -margin:].any(), f"page {number}: something runs off the right edge"
        if number < len(doc) and not _starts_section(doc[number], headings):
            inked_rows = np.flatnonzero(body.any(axis=1))
            fill = (inked_rows[-1] + 1) / body.shape[0]
            assert fill >= MIN_FILL_WITHIN_SECTION, (
                f"page {number} is mostly empty ({fill:.0%} filled) although its section goes on "
                f"on page {number + 1}"
            )


def _render(report: dict) -> tuple[bytes, str]:
    html = render_html(report)
    return render_pdf(html), html


def test_fixture_report_pages_are_laid_out() -> None:
    pdf, html = _render(json.loads(FIXTURE.read_text()))
    _check(pdf, html)
    doc = pdfium.PdfDocument(pdf)
    last = doc[len(doc) - 1].get_textpage().get_text_range()
    assert "Appendix: full per-group tables" in last


def test_long_labels_and_many_groups_stay_on_the_page(tmp_path: Path) -> None:
    report = json.loads(FIXTURE.read_text())
    feature = copy.deepcopy(next(iter(report["fairness"].values())))
    template = next(iter(feature["groups"].values()))
    feature["groups"] = {
        f"a rather long category name number {i:02d} that must wrap": dict(template)
        for i in range(45)
    }
    report["fairness"]["long"] = feature
    report["rules"][0]["message"] = "word " * 200
    _check(*_render(report))


@pytest.mark.parametrize(
    ("inject", "problem"),
    [
        ('<div style="break-after: page"></div>', "blank"),
        (
            '<p style="margin-bottom: 20mm">' + "a few lines of text " * 40 + "</p>"
            '<div style="height: 250mm; break-inside: avoid; border: 1px solid"></div>',
            "mostly empty",
        ),
        (
            '<table style="width: 260mm; border: 2px solid #000"><tr><td>x</td></tr></table>',
            "right edge",
        ),
    ],
)
def test_the_layout_check_can_fail(inject: str, problem: str) -> None:
    """The check itself catches a blank page, a block pushed overleaf leaving a page nearly empty,
    and a table running off the page."""
    html = render_html(json.loads(FIXTURE.read_text()))
    assert "<body>" in html
    injected = html.replace("<body>", "<body>" + inject, 1)
    pdf = render_pdf(injected)
    with pytest.raises(AssertionError, match=problem):
        _check(pdf, injected)


def test_tables_split_across_pages_repeat_their_header() -> None:
    """A table longer than a page continues on the next with its header row repeated: on each
    page the 60-group table of one feature continues onto, a header ("Group") comes before the
    first group row."""
    report = json.loads(FIXTURE.read_text())
    feature = copy.deepcopy(next(iter(report["fairness"].values())))
    template = next(iter(feature["groups"].values()))
    feature["groups"] = {f"region {i:02d}": dict(template) for i in range(60)}
    report["fairness"]["region"] = feature
    pdf, _ = _render(report)
    doc = pdfium.PdfDocument(pdf)
    texts = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    start = next(i for i, t in enumerate(texts) if "Groups of region" in t)
    end = next(i for i, t in enumerate(texts) if "Between-group summary for region" in t)
    assert end > start, "the table never split, so nothing was checked"
    for i in range(start + 1, end + 1):
        first_row = texts[i].find("region ")
        assert first_row >= 0
        assert "Group" in texts[i][:first_row], (
            f"page {i + 1}: the table goes on without its header"
        )
