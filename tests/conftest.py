from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw new examples on every developer run (that is how they find bugs); the CI
# gate (.ci/run sets HYPOTHESIS_PROFILE=ci) replays a fixed, derandomized set, so a merge is never
# blocked by an example no one has seen locally. A failure found locally prints its example:
# fix the bug and add that example as a plain test.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
POLICIES = ROOT / "policies"


def pytest_configure(config: pytest.Config) -> None:
    """Keep tests away from the developer's own registry and signing keys (.audit/)."""
    home = Path(tempfile.mkdtemp(prefix="audit-home-"))
    os.environ["AUDIT_HOME"] = str(home)
    os.environ.pop("GITHUB_STEP_SUMMARY", None)
    os.environ.pop("AUDIT_TOKEN", None)
    # as after `audit rbac init`: the OS account running the tests is admin
    from audit.access import AccessLog, bootstrap_rbac

    bootstrap_rbac(home, AccessLog(home / "access.db"))


@pytest.fixture
def audit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private registry for the test (AUDIT_HOME), and a private working directory."""
    home = tmp_path / "home"
    monkeypatch.setenv("AUDIT_HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home
