"""The NYC LL144 pack on the DCWP worked example rebuilt as rows: the published summary table,
its impact ratios, the unknown count, and the optional 2% exclusion."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from audit.cli import main
from tests.conftest import POLICIES
from tests.test_dcwp import INTERSECTIONAL, UNKNOWN_SELECTION


def _rows() -> pd.DataFrame:
    parts = []
    for (sex, race), (applicants, selected) in INTERSECTIONAL.items():
        hired = [1] * selected + [0] * (applicants - selected)
        parts.append(pd.DataFrame({"sex": sex, "race": race, "hired": hired}))
    # the unknown category: counted, left out of the calculations (its outcome does not matter)
    parts.append(
        pd.DataFrame(
            {
                "sex": [None] * UNKNOWN_SELECTION,
                "race": None,
                "hired": [1, 0] * (UNKNOWN_SELECTION // 2),
            }
        )
    )
    frame = pd.concat(parts, ignore_index=True)
    # LL144 audits judge recorded decisions; the spec's label is the same column (no ground truth)
    frame["selected"] = frame["hired"]
    return frame


def _run(tmp_path: Path, policy: Path) -> tuple[int, dict, str]:
    csv = tmp_path / "aedt.csv"
    _rows().to_csv(csv, index=False)
    spec = tmp_path / "audit.yaml"
    spec.write_text(
        f"name: aedt\ndataset: {csv}\nlabel: hired\npositive_label: 1\n"
        f"sensitive_features: [sex, race]\npredictions: selected\npolicy: {policy}\n"
        f"output: {tmp_path / 'out'}\n"
        "data_description: DCWP worked example, 6 RCNY 5-301, historical data\n"
        "distribution_date: '2023-01-01'\n"
    )
    code = main(["run", str(spec), "--no-pdf", "--no-sign"])
    bundle = tmp_path / "out" / "aedt" / "v1"
    return (
        code,
        json.loads((bundle / "report.json").read_text()),
        (bundle / "report.html").read_text(),
    )


def test_ll144_summary_reproduces_the_published_impact_ratios(tmp_path: Path) -> None:
    code, report, html = _run(tmp_path, POLICIES / "nyc-ll144.yaml")
    assert code == 0  # the law has no pass/fail threshold: flags are warnings
    sex = report["fairness"]["sex"]["groups"]
    assert round(sex["Female"]["impact_ratio"], 3) == 0.979 and sex["Male"]["impact_ratio"] == 1.0
    inter = report["fairness"]["sex&race"]["groups"]
    flagged = {
        g for g, d in inter.items() if d["impact_ratio"] is not None and d["impact_ratio"] < 0.8
    }
    assert flagged == {"Female&Native American or Alaska Native"}
    assert round(inter["Female&Native American or Alaska Native"]["impact_ratio"], 3) == 0.789
    for feature in ("sex", "race", "sex&race"):
        assert report["fairness"][feature]["unknown"] == UNKNOWN_SELECTION
    rule = {r["id"]: r for r in report["rules"]}["ll144-selection-impact-ratio"]
    assert rule["status"] == "warn"
    assert "Summary of results (NYC Local Law 144)" in html
    assert "Individuals in the unknown category (left out of the calculations): 250" in html
    assert "0.979" in html and "0.789" in html and "DCWP worked example" in html
    assert "2023-01-01" in html


def test_ll144_two_percent_exclusion_is_reported(tmp_path: Path) -> None:
    policy = tmp_path / "ll144-2pct.yaml"
    policy.write_text(
        'apiVersion: audit/v1\nkind: Policy\nname: ll144-2pct\nversion: "1"\n'
        "extends: [nyc-ll144]\nexclude_below_share: 0.02\n"
    )
    code, report, html = _run(tmp_path, policy)
    aian_f = report["fairness"]["sex&race"]["groups"]["Female&Native American or Alaska Native"]
    assert aian_f["n"] == 17 and aian_f["excluded"] and "2%" in aian_f["excluded"]
    assert aian_f["selection_rate"] == pytest.approx(7 / 17)
    assert aian_f["impact_ratio"] is None
    rule = {r["id"]: r for r in report["rules"]}["ll144-selection-impact-ratio"]
    assert "excluded" in rule["message"]
    assert "excluded from impact ratios" in html
