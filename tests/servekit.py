"""A real `audit serve` for tests: a subprocess on a Unix socket and a loopback TCP port, and
the CLI as its client (subprocesses too), so every request crosses a real socket.

The test process's OS account (root in CI) is the service's admin: the first start binds it,
as `audit serve` does for whoever starts it. Other callers get roles through :meth:`bind`
(an administrator editing rbac.yaml) and tokens through :meth:`token` (issued by the admin
through the service, audience ``audit-serve``).
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
AUDIT = [sys.executable, "-m", "audit"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a client or server: no AUDIT_* from the test process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_")}
    env.update(extra)
    return env


@dataclass
class Served:
    folder: Path
    socket: Path
    port: int
    proc: subprocess.Popen[bytes]
    database: str | None = None
    log: Path = field(default=Path())
    scheme: str = "http"
    ca: Path | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def home(self) -> Path:
        return self.folder / ".audit"

    def cli(
        self,
        *args: str,
        token: str | None = None,
        tcp: bool = False,
        cwd: Path | None = None,
        check: int | None = 0,
        user: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``audit --server ... ARGS`` as a subprocess (as OS account ``user`` if given)."""
        server = self.url if tcp else f"unix:{self.socket}"
        extra = {"AUDIT_TOKEN": token} if token else {}
        cmd = [*AUDIT, "--server", server, *args]
        if user is not None:
            cmd = ["runuser", "-u", user, "--", *cmd]
        done = subprocess.run(
            cmd,
            cwd=cwd or ROOT,
            env={**clean_env(**extra), **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check is not None and done.returncode != check:
            raise AssertionError(
                f"audit {' '.join(args)} exited {done.returncode}, not {check}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def http(self, token: str | None = None) -> httpx.Client:
        """An HTTP client on the TCP listener (bearer ``token`` if given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        verify: Any = ssl.create_default_context(cafile=str(self.ca)) if self.ca else True
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, verify=verify)

    def unix(self) -> httpx.Client:
        """An HTTP client on the Unix socket (this process's uid as the peer)."""
        transport = httpx.HTTPTransport(uds=str(self.socket))
        return httpx.Client(transport=transport, base_url="http://audit-serve", timeout=120)

    def bind(self, namespace: str, name: str, roles: list[str]) -> None:
        """Bind ``name`` to ``roles`` in rbac.yaml (``users``, ``groups``, ``services``, ``oidc``),
        as the administrator who owns the service folder does."""
        path = self.home / "rbac.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["bindings"].setdefault(namespace, {})
        doc["bindings"][namespace] = {**(doc["bindings"][namespace] or {}), name: roles}
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    def token(self, user: str, roles: list[str], audience: str = "audit-serve") -> str:
        """A token for service identity ``user``, bound to ``roles`` first, issued by the admin."""
        self.bind("services", user, roles)
        done = self.cli(
            "token", "issue", "--user", user, "--roles", ",".join(roles), "--audience", audience
        )
        return done.stdout.strip()

    def entries(self) -> list[dict[str, Any]]:
        """Every access-log entry, read through the API as the admin (peer credentials)."""
        with self.unix() as http:
            reply = http.get("/api/v1/log", params={"limit": "10000"})
        reply.raise_for_status()
        return list(reply.json()["entries"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_service(
    folder: Path,
    *,
    database: str | None = None,
    jobs: int = 4,
    extra: tuple[str, ...] = (),
    scheme: str = "http",
    ca: Path | None = None,
) -> Served:
    """Start ``audit serve`` on ``folder`` and wait until both listeners answer."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    # a short path any local account can reach (the kernel limits socket paths to 108 bytes)
    sock_dir = Path(tempfile.mkdtemp(prefix="audit-sock-"))
    os.chmod(sock_dir, 0o755)
    sock = sock_dir / "audit.sock"
    port = free_port()
    log = folder / "serve.log"
    cmd = [*AUDIT, "serve", "--dir", str(folder), "--socket", str(sock), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--jobs", str(jobs), *extra]
    if database:
        cmd += ["--database", database]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=clean_env())
    served = Served(folder, sock, port, proc, database, log, scheme, ca)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"audit serve exited {proc.returncode}:\n{log.read_text()}")
            try:
                with served.http() as http:
                    http.get("/portal/login")
                with served.unix() as http:
                    http.get("/portal/login")
                return served
            except httpx.TransportError:
                time.sleep(0.2)
    except BaseException:
        served.stop()
        raise
    served.stop()
    raise AssertionError(f"audit serve did not answer within 60 s:\n{log.read_text()}")


GERMAN = SAMPLES / "german"

#: a policy the German sample passes (so that a report can be approved): performance floors and
#: the four-fifths rule on sex, which the random forest meets
PASSING_POLICY = """\
apiVersion: audit/v1
kind: Policy
name: serve-tests
version: "1.0"
description: Performance floors and the four-fifths rule on sex.
min_group_size: 30
rules:
  - id: accuracy-floor
    kind: performance
    metric: accuracy
    operator: ">="
    threshold: 0.6
    severity: error
    description: Overall accuracy is at least 0.6.
  - id: four-fifths-sex
    kind: fairness
    metric: impact_ratio
    feature: sex
    operator: ">="
    threshold: 0.8
    severity: error
    description: Selection rates by sex within four-fifths.
"""


def write_spec(
    folder: Path, *, model: str = "german@1", name: str = "german-credit", seed: int = 0
) -> Path:
    """An audit spec of the German credit sample on registered artifacts, with its policy and
    reason codes beside it (what a client uploads)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(PASSING_POLICY, encoding="utf-8")
    codes = (ROOT / "policies" / "reason-codes" / "german.yaml").read_bytes()
    (folder / "reason-codes.yaml").write_bytes(codes)
    spec = {
        "name": name,
        "model": model,
        "dataset": "german-test@1",
        "label": "risk",
        "positive_label": 1,
        "sensitive_features": ["sex", "age_group"],
        "policy": "policy.yaml",
        "output": "reports",
        "seed": seed,
        "explain": {"reason_codes": "reason-codes.yaml", "sample_size": 100},
    }
    path = folder / "audit.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def register_german(served: Served) -> None:
    """Register the German sample's model and data through the service (as the admin)."""
    served.cli(
        "registry",
        "add-model",
        str(GERMAN / "models" / "german-rf.skops"),
        "--name",
        "german",
        "--version",
        "1",
        "--owner",
        "credit-risk team",
    )
    served.cli(
        "registry",
        "add-dataset",
        str(GERMAN / "german_test.csv"),
        "--name",
        "german-test",
        "--version",
        "1",
    )


def register_recorded(served: Served, folder: Path) -> Path:
    """Recorded decisions (no model): the German test set with a `decision` column (the label
    with every seventh decision flipped), registered as german-decisions@1; the audit spec."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(GERMAN / "german_test.csv")
    flip = frame.index % 7 == 0
    frame["decision"] = frame["risk"].where(~flip, 1 - frame["risk"])
    data = folder / "german-decisions.csv"
    frame.to_csv(data, index=False)
    served.cli("registry", "add-dataset", str(data), "--name", "german-decisions", "--version", "1")
    spec = write_spec(folder, name="german-recorded")
    doc = json.loads(spec.read_text())
    del doc["model"], doc["explain"]
    doc.pop("reference_dataset", None)
    doc.update(dataset="german-decisions@1", predictions="decision")
    spec.write_text(json.dumps(doc), encoding="utf-8")
    return spec
