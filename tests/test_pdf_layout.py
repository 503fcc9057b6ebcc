"""The PDF as a reader sees it: pages rendered to pixels (pypdfium2), so a broken layout fails —
a blank page, or anything drawn into the outer margin (a table or chart running off the page)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from audit.report import render_html, render_pdf
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "report_example.json"


def _pages(pdf: bytes) -> list[np.ndarray]:
    doc = pdfium.PdfDocument(pdf)
    out = []
    for i in range(len(doc)):
        rgb = doc[i].render(scale=0.5).to_numpy()[..., :3].astype(float)
        out.append(rgb.mean(axis=2) < 200)  # "ink": anything clearly darker than paper
    return out


def _check(pdf: bytes) -> None:
    pages = _pages(pdf)
    assert len(pages) > 1
    for number, ink in enumerate(pages, 1):
        h, w = ink.shape
        body = ink[int(0.06 * h) : int(0.94 * h)]  # between the running header and footer
        assert body.mean() > 0.002, f"page {number} is blank"
        margin = max(2, int(0.03 * w))
        assert not ink[:, :margin].any(), f"page {number}: something is drawn in the left margin"
        assert not ink[:, -margin:].any(), f"page {number}: something runs off the right edge"


def test_fixture_report_pages_are_laid_out() -> None:
    pdf = render_pdf(render_html(json.loads(FIXTURE.read_text())))
    _check(pdf)
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
    _check(render_pdf(render_html(report)))


@pytest.mark.parametrize(
    ("inject", "problem"),
    [
        ('<div style="break-after: page"></div>', "blank"),
        (
            '<table style="width: 260mm; border: 2px solid #000"><tr><td>x</td></tr></table>',
            "right edge",
        ),
    ],
)
def test_the_layout_check_can_fail(inject: str, problem: str) -> None:
    """The check itself catches a blank page and a table running off the page."""
    html = render_html(json.loads(FIXTURE.read_text()))
    assert "<body>" in html
    with pytest.raises(AssertionError, match=problem):
        _check(render_pdf(html.replace("<body>", "<body>" + inject, 1)))
