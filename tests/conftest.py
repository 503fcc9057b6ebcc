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


# --- PostgreSQL: one real server per test process, a fresh database per test ----------------


@pytest.fixture(scope="session")
def pg_server():
    from tests.pg import INSTALL_HINT, PgServer, find_bin

    bin_dir = find_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    server = PgServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a fresh, empty PostgreSQL database for this test."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """Each backend in turn: None (the store's own SQLite file), or a fresh PostgreSQL URL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_url")
