"""Approvals and the deployment gate, end to end through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from audit.access import current_actor
from audit.cli import main
from tests.conftest import ROOT, SAMPLES
from tests.helpers import ACCURACY_POLICY

LENIENT = ACCURACY_POLICY


def _bind(home: Path, roles: list[str]) -> None:
    data = yaml.safe_load((ROOT / "policies" / "rbac.yaml").read_text())
    data["bindings"]["users"] = {current_actor().user: roles}
    data["bindings"]["services"] = {"ci-bot": ["ci"]}
    (home / "rbac.yaml").write_text(yaml.safe_dump(data))


def test_gate_refuses_until_approved_and_tracks_model_and_policy(
    audit_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "lenient.yaml"
    policy.write_text(LENIENT.format(threshold=0.5))
    reports = tmp_path / "reports"
    assert main(["keys", "init", "--name", "Release signer"]) == 0
    assert (
        main(
            [
                "registry",
                "add-model",
                "--name",
                "german-rf",
                "--version",
                "1",
                str(SAMPLES / "german" / "models" / "german-rf.skops"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "registry",
                "add-model",
                "--name",
                "adult-gbm",
                "--version",
                "1",
                str(SAMPLES / "adult" / "models" / "adult-gbm.skops"),
            ]
        )
        == 0
    )
    run = [
        "run",
        str(SAMPLES / "german" / "audit.yaml"),
        "--model",
        "german-rf@1",
        "--policy",
        str(policy),
        "--output",
        str(reports),
        "--no-pdf",  # approvals and the gate read report.json and the signatures, not the PDF
        "--explain-sample-size",
        "20",
    ]
    assert main(run) == 0
    bundle = reports / "german-credit" / "v1"
    gate = ["gate", "--model", "german-rf@1", "--policy", str(policy), "--output", str(reports)]
    capsys.readouterr()

    assert main(gate) == 1
    assert "gate closed (not approved)" in capsys.readouterr().err

    assert main(["approve", str(bundle)]) == 4  # admin may run audits, not approve them
    assert "may not 'report:approve'" in capsys.readouterr().err
    _bind(audit_home, ["admin"])
    assert main(["token", "issue", "--user", "ci-bot", "--roles", "ci", "--expires", "1h"]) == 0
    token = capsys.readouterr().out.strip()
    _bind(audit_home, ["approver"])
    # holding the approver role now does not let the person who ran v1 approve it
    assert main(["approve", str(bundle)]) == 4
    assert "separation of duties" in capsys.readouterr().err
    assert main(run) == 4  # an approver may not run the audit it approves
    # the CI pipeline runs the audit under its own token; the approver approves that one
    monkeypatch.setenv("AUDIT_TOKEN", token)
    assert main(run) == 0
    monkeypatch.delenv("AUDIT_TOKEN")
    bundle = reports / "german-credit" / "v2"
    assert main(["approve", str(bundle), "--note", "release 1.4"]) == 0

    capsys.readouterr()
    assert main(gate) == 0
    assert "gate open" in capsys.readouterr().out

    # CI runs the audit again (same model, policy and data) and the re-run passes but is not
    # approved: the gate stays open on the approved v2 (it closed on any re-run before)
    monkeypatch.setenv("AUDIT_TOKEN", token)
    assert main(run) == 0
    monkeypatch.delenv("AUDIT_TOKEN")
    capsys.readouterr()
    assert main(gate) == 0
    out = capsys.readouterr().out
    assert "gate open" in out and "german-credit/v2 (v2)" in out

    # an approved report of another model digest does not open the gate for this one
    assert (
        main(["gate", "--model", "adult-gbm@1", "--policy", str(policy), "--output", str(reports)])
        == 1
    )
    assert "gate closed (none)" in capsys.readouterr().err

    # the policy changed since the approved audit
    policy.write_text(LENIENT.format(threshold=0.6))
    assert main(gate) == 1
    assert "gate closed (policy changed)" in capsys.readouterr().err

    # a newer, failing audit of the same model under the current policy closes the gate
    _bind(audit_home, ["engineer"])
    policy.write_text(LENIENT.format(threshold=0.99))
    assert main(run) == 1
    capsys.readouterr()
    assert main(gate[:4] + [str(policy), "--output", str(reports)]) == 1
    assert "gate closed (failed)" in capsys.readouterr().err


def test_failed_report_cannot_be_approved(
    audit_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "strict.yaml"
    policy.write_text(LENIENT.format(threshold=0.99))
    assert (
        main(
            [
                "run",
                str(SAMPLES / "german" / "audit.yaml"),
                "--policy",
                str(policy),
                "--output",
                str(tmp_path / "r"),
                "--no-pdf",
                "--explain-sample-size",
                "20",
            ]
        )
        == 1
    )
    _bind(audit_home, ["approver"])
    capsys.readouterr()
    assert main(["approve", str(tmp_path / "r" / "german-credit" / "v1")]) == 2
    assert "a failed report cannot be approved" in capsys.readouterr().err
