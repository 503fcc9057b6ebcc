"""Users' own report templates: the spec's `templates` folder replaces report_templates/."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pypdf
import yaml

from audit.cli import main
from audit.report import render_html, render_pdf
from audit.report.sandbox import BoundedSandbox
from tests.conftest import ROOT, SAMPLES

FIXTURE = ROOT / "tests" / "fixtures" / "report_example.json"


def test_spec_templates_folder_is_used(tmp_path: Path) -> None:
    mine = tmp_path / "my-templates"
    shutil.copytree(ROOT / "report_templates", mine)
    page = mine / "report.html.j2"
    page.write_text(page.read_text().replace("Model audit:", "ACME model review:", 1))
    data = yaml.safe_load((SAMPLES / "german" / "audit.yaml").read_text())
    for key in ("model", "dataset", "policy"):
        data[key] = str(SAMPLES / "german" / data[key])
    data["explain"]["reason_codes"] = str(SAMPLES / "german" / data["explain"]["reason_codes"])
    data["templates"] = "my-templates"  # relative to the spec's folder
    data["output"] = "out"
    spec = tmp_path / "audit.yaml"
    spec.write_text(yaml.safe_dump(data))
    assert main(["run", str(spec), "--no-pdf", "--no-sign", "--explain-sample-size", "20"]) in (
        0,
        1,
    )
    html = (tmp_path / "out" / "german-credit" / "v1" / "report.html").read_text()
    assert "ACME model review: german-credit" in html


# -- docs/templates.md is true to the renderer -------------------------------------------------

TEMPLATES_DOC = ROOT / "docs" / "templates.md"


def _doc_table_names(heading: str) -> set[str]:
    """The backquoted names in the first column of the table under ``## heading``."""
    section = TEMPLATES_DOC.read_text("utf-8").split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        cell = line.split("|")[1].strip() if line.startswith("| `") else ""
        if cell:
            names.add(cell.strip("`").split("(", 1)[0])
    return names


def test_documented_context_filters_and_functions_are_the_real_ones() -> None:
    from audit.report.render import _environment, default_template_dir, template_context

    report = json.loads(FIXTURE.read_text("utf-8"))
    assert _doc_table_names("The context") == set(template_context(report)) | {"css"}
    env = _environment(default_template_dir())
    builtin = BoundedSandbox()  # Jinja2's sandbox and the loop guard, nothing of ours
    # ours: added, or replacing a built-in of the same name (``count``)
    # (every filter is wrapped by the bounded sandbox; compare what it wraps)
    ours = {
        name
        for name, f in env.filters.items()
        if builtin.filters.get(name) is not getattr(f, "__wrapped__", f)
    }
    assert _doc_table_names("Filters") == ours
    assert _doc_table_names("Functions") == set(env.globals) - set(builtin.globals)
    assert _doc_table_names("Tests") == set(env.tests) - set(builtin.tests)


def test_documented_minimal_template_renders_html_and_pdf(tmp_path: Path) -> None:
    """The example in docs/templates.md works as a template folder of its own, uses every
    context variable, and keeps the PDF's page furniture (report id and page numbers)."""
    text = TEMPLATES_DOC.read_text("utf-8")
    example = text.split("```jinja\n", 1)[1].split("```", 1)[0]
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "report.html.j2").write_text(example, "utf-8")
    shutil.copy(ROOT / "report_templates" / "report.css", folder / "report.css")
    report = json.loads(FIXTURE.read_text("utf-8"))
    html = render_html(report, folder)
    for name in ("subject", "model", "dataset", "policy", "rules", "settings", "outcome"):
        assert re.search(r"\b" + name + r"\b", example), f"the example does not use {name}"
    assert f"Review of {report['subject']['name']}: {report['outcome'].upper()}" in html
    for rule in report["rules"]:
        assert f'<th scope="row">{rule["id"]}</th>' in html
    assert html.count("<svg") == len(report["fairness"])
    pdf = render_pdf(html, folder)
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert f"Report {report['report_id']}" in text and "Page 1 of" in text


def test_shortcut_variables_reach_a_users_template(tmp_path: Path) -> None:
    """A template may use the documented shortcuts without defining them itself."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "report.html.j2").write_text(
        "{{ outcome }}|{{ subject.name }}|{{ model.sha256 }}|{{ dataset.rows }}|"
        "{{ policy.name }}|{{ rules | length }}|{{ fields(settings) | length }}",
        "utf-8",
    )
    (folder / "report.css").write_text("", "utf-8")
    report = json.loads(FIXTURE.read_text("utf-8"))
    expected = [
        report["outcome"].lower(),
        report["subject"]["name"],
        report["subject"]["model"]["sha256"],
        str(report["subject"]["dataset"]["rows"]),
        report["subject"]["policy"]["name"],
        str(len(report["rules"])),
        str(len(report.get("settings") or {})),
    ]
    assert render_html(report, folder).split("|") == expected
