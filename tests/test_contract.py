"""The typed report contract: schema generated from it, round trips, the metric catalogue."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import textwrap
from typing import Any

import pydantic
import pytest

from audit.contract import CATALOGUE, GROUP_METRICS, Report, ReportFormatError, report_schema
from audit.contract.fairness import GroupFairness, field_name
from audit.report.diff import diff_reports
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "report-german.json"
FIXTURE = ROOT / "tests" / "fixtures" / "report_example.json"
SHIPPED = ROOT / "audit" / "schemas" / "report.schema.json"


def _unmasked(document: dict[str, Any]) -> dict[str, Any]:
    """The golden report with its masked (run-specific) fields filled in."""
    fill = {
        "report_id": "8f0e7c1a-0000-4000-8000-000000000000",
        "previous": None,
        "changes": None,
        "created_at": "2026-12-02T00:00:00Z",
        "actor": {"user": "alice", "uid": 1000, "source": "os"},
        "environment": {"python": "3.11.7", "libraries": {"shap": "0.51.0"}},
    }
    return {k: fill[k] if v == "<masked>" else v for k, v in document.items()}


def test_shipped_schema_is_the_generated_one() -> None:
    published = json.loads(SHIPPED.read_text("utf-8"))
    assert published == report_schema(), (
        "regenerate: python -m audit.contract > audit/schemas/report.schema.json"
    )


@pytest.mark.parametrize("path", [GOLDEN, FIXTURE], ids=["golden", "fixture"])
def test_report_json_round_trips_byte_for_byte(path: Any) -> None:
    """Parsed into the typed report and dumped again, a report.json keeps every key and every
    value's type (an int threshold stays 30, a float 0.8); one the tool wrote (the golden) also
    keeps its key order. The hand-written fixture orders keys its own way."""
    document = _unmasked(json.loads(path.read_text("utf-8")))
    report = Report.model_validate(document)
    sort = path == FIXTURE
    assert json.dumps(report.to_json(), sort_keys=sort) == json.dumps(document, sort_keys=sort)
    assert Report.from_bytes(report.to_bytes()) == report


def test_report_is_frozen_and_rejects_unknown_keys() -> None:
    document = _unmasked(json.loads(GOLDEN.read_text("utf-8")))
    report = Report.model_validate(document)
    with pytest.raises(pydantic.ValidationError):
        report.outcome = "pass"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        report.rules[0].status = "pass"  # type: ignore[misc]
    bad = copy.deepcopy(document)
    bad["fairness"]["sex"]["groups"]["male"]["tpr_typo"] = 0.5
    with pytest.raises(ReportFormatError, match=r"fairness\.sex\.groups\.male\.tpr_typo"):
        Report.from_bytes(json.dumps(bad))


def test_every_catalogued_metric_is_a_group_field_and_in_the_schema() -> None:
    fields = {f.alias or name for name, f in GroupFairness.model_fields.items()}
    schema_fields = set(report_schema()["$defs"]["GroupFairness"]["properties"])
    for metric in GROUP_METRICS:
        assert metric.name in fields and metric.name in schema_fields
        assert metric.direction in ("higher", "lower", "neither")
        assert metric.needs in ("decisions", "labels", "scores")
        assert metric.label and metric.formula


POLICY = """\
apiVersion: audit/v1
kind: Policy
name: every-metric
version: "1.0"
rules:
"""


def test_policies_accept_exactly_the_catalogued_metrics(tmp_path: Any) -> None:
    """A fairness rule may judge every catalogued metric marked ``judged``, and nothing else."""
    from audit.errors import InputError
    from audit.policy import load_policy

    judged = [m.name for m in GROUP_METRICS if m.judged]
    rules = "".join(
        f"  - {{id: r-{i}, kind: fairness, metric: {name!r}, operator: '>=', threshold: 0.5}}\n"
        for i, name in enumerate(judged)
    )
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY + rules, encoding="utf-8")
    assert [r.metric for r in load_policy(path).rules] == judged
    for name in [m.name for m in GROUP_METRICS if not m.judged] + ["tpr_typo"]:
        path.write_text(
            POLICY + f"  - {{id: x, kind: fairness, metric: {name}, operator: '>=', "
            "threshold: 0.5}\n",
            encoding="utf-8",
        )
        with pytest.raises(InputError, match=name):
            load_policy(path)


@pytest.mark.parametrize("metric", [m.name for m in GROUP_METRICS])
def test_diff_reports_a_change_in_every_catalogued_metric(metric: str) -> None:
    """One group's value of one metric moved: the diff names that group and that metric."""
    document = _unmasked(json.loads(GOLDEN.read_text("utf-8")))
    old = Report.model_validate(document)
    changed = copy.deepcopy(document)
    group = changed["fairness"]["sex"]["groups"]["female"]
    before = group.get(metric)
    group[metric] = 0.123456 if before != 0.123456 else 0.654321
    new = Report.model_validate(changed)
    diff = diff_reports(old, new)
    assert [(c.feature, c.group) for c in diff.fairness] == [("sex", "female")]
    assert [(f.field, f.old, f.new) for f in diff.fairness[0].fields] == [
        (metric, before, group[metric])
    ]
    assert f"fairness sex=female: {metric} " in diff.lines()[0]


def test_field_names_of_keyword_metrics() -> None:
    assert field_name("for") == "for_" and CATALOGUE["for"].label == "false omission rate"


#: docs/architecture.md, "add a metric": the one entry appended to the catalogue.
NEW_METRIC = """
GROUP_METRICS = GROUP_METRICS + (
    GroupMetric(
        "selected_negatives", "selected negatives", "fp / n", "lower", "labels",
        cells=((FP,), None),
    ),
)
CATALOGUE["selected_negatives"] = GROUP_METRICS[-1]
"""

RECIPE = textwrap.dedent(
    """
    import json
    import numpy as np, pandas as pd
    from audit.contract import report_schema
    from audit.fairness import compute_fairness

    y_true = np.array([1, 0, 0, 1, 0, 0, 1, 0])
    y_pred = np.array([1, 1, 0, 1, 1, 0, 0, 0])
    groups = pd.DataFrame({"g": list("aaaabbbb")})
    section = compute_fairness(y_true, y_pred, groups, n_bootstrap=50).to_report()["g"]
    schema = report_schema()["$defs"]["GroupFairness"]["properties"]

    # a real report with the new metric: diff two versions, render the HTML appendix table
    import copy, sys
    from audit.contract import Report
    from audit.report import render_html
    from audit.report.diff import diff_reports

    golden = json.loads(open(sys.argv[1], encoding="utf-8").read())
    golden.update(report_id="r1", previous=None, changes=None, created_at="2026-12-02T00:00:00Z",
                  actor={"user": "a", "source": "os"}, environment={"python": "3", "libraries": {}})
    for g in golden["fairness"]["sex"]["groups"].values():
        g["selected_negatives"] = 0.125
    old = Report.model_validate(golden)
    changed = copy.deepcopy(golden)
    changed["fairness"]["sex"]["groups"]["female"]["selected_negatives"] = 0.5
    lines = diff_reports(old, Report.model_validate(changed)).lines()
    html = render_html(old)
    print(json.dumps({
        "in_schema": "selected_negatives" in schema,
        "a": section.groups["a"].metric("selected_negatives"),
        "b": section.groups["b"].metric("selected_negatives"),
        "tested": "selected_negatives" in section.groups["b"].tests,
        "interval": "selected_negatives" in section.groups["b"].ci,
        "diff": lines,
        "in_html": "Selected negatives" in html,
    }))
    """
)


def test_recipe_add_a_metric_reaches_engine_and_schema(tmp_path: Any) -> None:
    """Following docs/architecture.md on a copy of the package: a metric defined once in the
    catalogue (with its cells) is computed for every group, tested, given an interval, declared
    in the report schema, compared by the diff and shown as a column of the HTML table."""
    shutil.copytree(ROOT / "audit", tmp_path / "audit")
    catalogue = tmp_path / "audit" / "contract" / "metrics.py"
    text = catalogue.read_text("utf-8")
    anchor = "CATALOGUE: dict[str, GroupMetric] = {m.name: m for m in GROUP_METRICS}\n"
    assert anchor in text
    catalogue.write_text(text.replace(anchor, anchor + NEW_METRIC), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", RECIPE, str(GOLDEN)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    # hand count: group a has fp = 1 of n = 4 (row 2), group b fp = 1 of 4 (row 5)
    assert got == {
        "in_schema": True,
        "a": 0.25,
        "b": 0.25,
        "tested": True,
        "interval": True,
        "diff": ["fairness sex=female: selected_negatives 0.125 -> 0.5 (+0.375)"],
        "in_html": True,
    }
