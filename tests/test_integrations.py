"""The CI integrations, run locally step by step: GitHub workflow, composite action, GitLab job,
pre-commit hook. `audit` is invoked as `python -m audit` from this interpreter; the install steps
are the only ones not run (the package under test is installed already)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

AUDIT = f"{sys.executable} -m audit"


def _run(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    script = re.sub(r"(^|\s|;|&&)audit ", lambda m: f"{m.group(1)}{AUDIT} ", script)
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _env(folder: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["AUDIT_HOME"] = str(folder / "home")
    e["GITHUB_STEP_SUMMARY"] = str(folder / "step-summary.md")
    e["GITHUB_OUTPUT"] = str(folder / "github-output")
    e["PYTHONPATH"] = str(ROOT)
    return e


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return _env(tmp_path)


class SharedRuns:
    """One environment and one reports folder for the GitHub workflow's and the GitLab job's
    scripts, and the result of each distinct script line run there. The two documents run the
    same lines (`audit policy validate ...`, then a full Adult audit with its PDF), so each line
    runs once and both tests judge its result; a line that differs between them runs on its
    own."""

    def __init__(self, folder: Path) -> None:
        self.env = _env(folder)
        self.out = folder / "reports"
        self.results: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        script = script.replace("--output reports", f"--output {self.out}")
        if script not in self.results:
            self.results[script] = _run(script, self.env, ROOT)
        return self.results[script]


@pytest.fixture(scope="module")
def ci_runs(tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
    return SharedRuns(tmp_path_factory.mktemp("ci"))


def test_github_workflow_steps_produce_the_bundle_and_exit_as_the_policy_decides(
    ci_runs: SharedRuns,
) -> None:
    workflow = yaml.safe_load((ROOT / "docs" / "ci" / "github-workflow.yml").read_text())
    steps = [s for s in workflow["jobs"]["audit"]["steps"] if "run" in s]
    assert [s["name"] for s in steps] == ["Install audit", "Validate policies", "Audit the model"]
    out, env = ci_runs.out, ci_runs.env
    results = [ci_runs.run(step["run"]) for step in steps[1:]]  # not "Install audit"
    assert results[0].returncode == 0, results[0].stderr
    # the sample model fails the four-fifths rule: the step fails with exit 1, not a crash
    assert results[1].returncode == 1, results[1].stderr
    bundle = out / "adult-income" / "v1"
    assert {"report.json", "report.pdf", "junit.xml", "summary.md", "attestation.json"} <= {
        p.name for p in bundle.iterdir()
    }
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "FAIL" in summary and "four-fifths-sex" in summary


def test_composite_action_audit_step(env: dict[str, str], tmp_path: Path) -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "audit")
    script = (
        step["run"]
        .replace("${{ inputs.spec }}", str(ROOT / "samples" / "german" / "audit.yaml"))
        .replace("${{ inputs.output }}", str(tmp_path / "reports"))
        .replace("${{ inputs.fail-on }}", "error")
    )
    assert "${{" not in script
    result = _run(script, env, tmp_path)
    assert result.returncode == 0, result.stderr  # outputs written; the gate step decides
    outputs = dict(line.split("=", 1) for line in Path(env["GITHUB_OUTPUT"]).read_text().split())
    assert outputs["outcome"] in ("pass", "fail")
    assert outputs["exit_code"] == ("1" if outputs["outcome"] == "fail" else "0")
    assert Path(outputs["bundle"], "report.json").is_file()
    gate = next(s for s in action["runs"]["steps"] if s.get("id") == "gate")
    gate_run = gate["run"].replace("${{ steps.audit.outputs.exit_code }}", outputs["exit_code"])
    assert _run(gate_run, env, tmp_path).returncode == int(outputs["exit_code"])


def test_gitlab_job_script(ci_runs: SharedRuns) -> None:
    job = yaml.safe_load((ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text())["model-audit"]
    codes = [ci_runs.run(line).returncode for line in job["script"] if "pip install" not in line]
    assert codes == [0, 1]
    junit = list(ci_runs.out.glob("*/v*/junit.xml"))
    assert junit and job["artifacts"]["reports"]["junit"] == "reports/*/v*/junit.xml"


def test_pre_commit_hook_validates_policies(env: dict[str, str], tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    files = [
        p
        for p in sorted((ROOT / "policies").glob("*.yaml"))
        if re.search(hook["files"], f"policies/{p.name}")
    ]
    assert files and any(p.name == "rbac.yaml" for p in files)  # validated as an RBAC file
    ok = _run(f"{hook['entry']} " + " ".join(map(str, files)), env, ROOT)
    assert ok.returncode == 0, ok.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: audit/v1\nkind: Policy\nname: x\nversion: '1'\nrules: []\n")
    bad = _run(f"{hook['entry']} {broken}", env, ROOT)
    assert bad.returncode == 2 and "broken.yaml" in bad.stderr
