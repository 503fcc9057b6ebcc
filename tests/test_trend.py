"""Trend across versions: the report's trend section, the ``trend`` rule and ``audit report trend``.

Three real audits of the German credit model publish v1..v3 into one reports folder. Between
them the test flips the labels of rows the model predicts correctly (15, then 30 of them, found
with the model itself), so the accuracy falls version after version by an amount known in
advance; each version's accuracy is checked against sklearn on the data that version audited.
The ``trend`` rule following the accuracy rule is not assessable at v1 and v2 and fails at v3;
the report's trend section and the CLI's JSON carry exactly the published values; an edited
older report.json shows as no longer linked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import skops.io as sio
from sklearn.metrics import accuracy_score

from audit.cli.app import main
from audit.contract import Report
from audit.policy.trend import worsening_steps
from tests.helpers import light_spec

ROOT = Path(__file__).resolve().parent.parent
GERMAN = ROOT / "samples" / "german"
POLICY = """\
apiVersion: audit/v1
kind: Policy
name: monitored
version: "1"
rules:
  - id: accuracy-floor
    kind: performance
    metric: accuracy
    operator: ">="
    threshold: 0.5
  - id: accuracy-trend
    kind: trend
    rule: accuracy-floor
    versions: 3
"""


@pytest.mark.parametrize(
    "values, operator, steps",
    [
        ([0.9, 0.8, 0.7], ">=", 2),
        ([0.9, 0.8, 0.85], ">=", 0),
        ([0.7, 0.9, 0.8, 0.7], ">=", 2),
        ([0.1, 0.2, 0.3], "<=", 2),
        ([0.1, 0.2, 0.2], "<=", 0),  # no change is not worse
        ([0.9, None, 0.7, 0.6], ">", 1),  # a missing value breaks the run
        ([0.5], ">=", 0),
    ],
)
def test_worsening_steps_by_hand(values: list[Any], operator: str, steps: int) -> None:
    assert worsening_steps(values, operator) == steps


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("trend")
    (tmp / "policy.yaml").write_text(POLICY, "utf-8")
    model = sio.load(GERMAN / "models" / "german-rf.skops", trusted=["sklearn.tree._tree.Tree"])
    data = pd.read_csv(GERMAN / "german_test.csv")
    features = list(model.feature_names_in_)
    right = (model.predict(data[features]) == data["risk"]).to_numpy().nonzero()[0]
    out = tmp / "reports"
    expected = []
    for version, flipped in enumerate((0, 15, 30), start=1):
        frame = data.copy()
        rows = right[:flipped]
        frame.loc[rows, "risk"] = 1 - frame.loc[rows, "risk"]
        csv = tmp / f"german-v{version}.csv"
        frame.to_csv(csv, index=False)
        expected.append(accuracy_score(frame["risk"], model.predict(frame[features])))
        spec = light_spec(
            GERMAN, tmp / f"s{version}", dataset=str(csv), policy=str(tmp / "policy.yaml")
        )
        assert main(["run", str(spec), "--output", str(out), "--no-pdf"]) in (0, 1)
    folder = out / "german-credit"
    reports = [
        Report.from_bytes((folder / f"v{v}" / "report.json").read_bytes()) for v in (1, 2, 3)
    ]
    return {"out": out, "folder": folder, "reports": reports, "expected": expected}


def test_each_version_measured_what_sklearn_measures(published: dict[str, Any]) -> None:
    values = [r.performance.accuracy for r in published["reports"]]
    assert values == pytest.approx(published["expected"], abs=1e-12)
    assert values[0] > values[1] > values[2]


def test_the_trend_rule_fails_on_a_sustained_fall(published: dict[str, Any]) -> None:
    v1, v2, v3 = published["reports"]
    for report in (v1, v2):
        finding = report.rule("accuracy-trend")
        assert finding is not None and finding.status == "skipped"
        assert "a trend needs all of them" in finding.message
    finding = v3.rule("accuracy-trend")
    assert finding is not None and finding.status == "fail" and finding.value == 2
    assert "fell in each of the last 2 versions" in finding.message
    # the rule it follows still passes: the trend is what fails
    floor = v3.rule("accuracy-floor")
    assert floor is not None and floor.status == "pass"
    assert v3.outcome == "fail"


def test_the_trend_section_carries_the_published_values(published: dict[str, Any]) -> None:
    v1, v2, v3 = published["reports"]
    assert v1.trend is None
    trend = v3.trend
    assert trend is not None and trend.versions == [1, 2]
    series = {s.rule: s for s in trend.series}["accuracy-floor"]
    assert [p.version for p in series.points] == [1, 2, None]
    assert [p.value for p in series.points] == [
        v1.performance.accuracy,
        v2.performance.accuracy,
        v3.performance.accuracy,
    ]
    assert [p.report_id for p in series.points[:2]] == [v1.report_id, v2.report_id]
    assert [p.linked for p in series.points] == [True, None, None]
    assert series.worsening_steps == 2
    assert series.change == pytest.approx(v3.performance.accuracy - v1.performance.accuracy)


def test_the_report_charts_the_trend(published: dict[str, Any]) -> None:
    html = (published["folder"] / "v3" / "report.html").read_text("utf-8")
    section = html[html.index('<section id="trend"') :]
    section = section[: section.index("</section>")]
    assert section.count('class="chart trend-chart"') >= 1
    assert "accuracy-floor: accuracy from v1 to this audit" in section
    assert 'href="#trend"' in html


def test_the_cli_prints_the_trend_and_sees_an_edited_version(
    published: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    out, folder = published["out"], published["folder"]
    capsys.readouterr()
    assert main(["report", "trend", "german-credit", "--output", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    series = {s["rule"]: s for s in doc["series"]}["accuracy-floor"]
    assert [p["value"] for p in series["points"]] == [
        r.performance.accuracy for r in published["reports"]
    ]
    assert [p["linked"] for p in series["points"]] == [True, True, None]
    assert main(["report", "trend", "german-credit", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "accuracy-floor: accuracy" in text and "worse in each of the last 2 step(s)" in text
    # edit v1's report.json after v2 pinned its digest: the trend shows it
    target = folder / "v1" / "report.json"
    target.parent.chmod(0o755)
    target.chmod(0o644)
    target.write_bytes(target.read_bytes().replace(b'"pass"', b'"pass" ', 1))
    assert main(["report", "trend", "german-credit", "--output", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    series = {s["rule"]: s for s in doc["series"]}["accuracy-floor"]
    assert series["points"][0]["linked"] is False
    assert main(["report", "trend", "german-credit", "--output", str(out)]) == 0
    assert "EDITED after v2 was published" in capsys.readouterr().out


def test_a_trend_rule_must_follow_a_rule_of_the_policy(tmp_path: Path) -> None:
    from audit.errors import InputError
    from audit.policy import load_policy

    path = tmp_path / "p.yaml"
    path.write_text(POLICY.replace("rule: accuracy-floor", "rule: accuracy-flor"), "utf-8")
    with pytest.raises(InputError) as info:
        load_policy(path)
    assert "no rule 'accuracy-flor' to follow (did you mean 'accuracy-floor'?)" in str(info.value)


def test_one_version_is_no_trend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "trend", "nothing-here", "--output", str(tmp_path)]) == 2
    assert "a trend needs two" in capsys.readouterr().err
