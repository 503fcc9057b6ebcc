from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw new examples on every developer run (that is how they find bugs); the CI
# gate (.ci/run sets HYPOTHESIS_PROFILE=ci) replays a fixed, derandomized set, so a merge is never
# blocked by an example no one has seen locally. A failure found locally prints its example:
# fix the bug and add that example as a plain test.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Under pytest-xdist each worker is a process of its own; OpenMP (scikit-learn's gradient
# boosting, LightGBM, XGBoost) and BLAS would each start a thread per core in every worker, so
# with `-n 2` on two cores four busy threads share two cores, and OpenMP's spin-waiting makes
# that about twice as slow as one thread per worker (measured: an Adult explanation 10 s vs 5 s
# with two at once). Give each worker its share of the cores; audits run as subprocesses inherit
# it. The numbers do not change: these libraries give the same results for any thread count.
# Set here, at import, before any of them is loaded; a value the caller set is kept.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, str(max(1, (os.cpu_count() or 1) // _WORKERS)))

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


@pytest.fixture(scope="module", autouse=True)
def _home_per_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Each test file audits in a home of its own (bootstrapped as above): versions and rollback
    checks come from the home's log, so a file must not see the versions another file that ran
    earlier in the same xdist worker published under the same system name."""
    from audit.access import AccessLog, bootstrap_rbac

    home = tmp_path_factory.mktemp("home")
    with AccessLog(home / "access.db") as log:
        bootstrap_rbac(home, log)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIT_HOME", str(home))
        yield home


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
