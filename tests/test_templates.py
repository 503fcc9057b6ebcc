"""Users' own report templates: the spec's `templates` folder replaces report_templates/."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from audit.cli import main
from tests.conftest import ROOT, SAMPLES


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
