"""Golden report.json: the German sample audit, with ids, times, actor and library versions
masked and numbers rounded to 6 decimals (so a patch release of numpy does not break it while a
changed metric, key or order does). Regenerate with AUDIT_UPDATE_GOLDEN=1."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from audit.cli import main
from tests.conftest import ROOT, SAMPLES

GOLDEN = ROOT / "tests" / "golden" / "report-german.json"
MASKED = {"report_id", "created_at", "actor", "environment", "previous", "changes", "trend"}


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6) + 0.0
    if isinstance(value, dict):
        return {k: ("<masked>" if k in MASKED else _normalise(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def test_report_json_matches_golden(tmp_path: Path) -> None:
    assert main(
        [
            "run",
            str(SAMPLES / "german" / "audit.yaml"),
            "--output",
            str(tmp_path),
            "--no-pdf",
            "--no-sign",
        ]
    ) in (0, 1)
    report = json.loads((tmp_path / "german-credit" / "v1" / "report.json").read_text())
    report["subject"]["policy"].pop("path", None)
    got = _normalise(report)
    if os.environ.get("AUDIT_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert list(got) == list(expected), "top-level key order changed"
    assert got == expected
    # equal dicts can still differ in key order; the file's text shows order at every level
    assert json.dumps(got, indent=2, ensure_ascii=False) + "\n" == GOLDEN.read_text(), (
        "key order changed inside the report"
    )


def test_a_report_breaking_the_schema_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Validation on write: a report that breaks the published schema (here a rule status the
    schema does not allow) stops the run with the internal-error exit code, and no bundle, not
    even a half-written one, is left behind. The same run unpatched writes v1."""
    import audit.pipeline.publishing as bundle

    real = bundle.build_report

    def broken(*args: Any, **kwargs: Any) -> Any:
        # model_copy skips validation: the writer's own check on write must catch it
        report = real(*args, **kwargs)
        bad = report.rules[0].model_copy(update={"status": "probably fine"})
        return report.model_copy(update={"rules": [bad, *report.rules[1:]]})

    args = ["run", str(SAMPLES / "german" / "audit.yaml"), "--output", str(tmp_path)]
    args += ["--no-pdf", "--no-sign", "--explain-sample-size", "20"]
    monkeypatch.setattr(bundle, "build_report", broken)
    assert main(args) == 5
    assert "probably fine" in capsys.readouterr().err
    leftovers = [p.name for p in (tmp_path / "german-credit").iterdir() if p.name != ".lock"]
    assert leftovers == []
    monkeypatch.setattr(bundle, "build_report", real)
    assert main(args) in (0, 1)
    assert (tmp_path / "german-credit" / "v1" / "report.json").is_file()
