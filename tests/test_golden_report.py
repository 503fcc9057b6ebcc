"""Golden report.json: the German sample audit, with ids, times, actor and library versions
masked and numbers rounded to 6 decimals (so a patch release of numpy does not break it while a
changed metric, key or order does). Regenerate with AUDIT_UPDATE_GOLDEN=1."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from audit.cli import main
from tests.conftest import ROOT, SAMPLES

GOLDEN = ROOT / "tests" / "golden" / "report-german.json"
MASKED = {"report_id", "created_at", "actor", "environment", "previous", "changes"}


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
