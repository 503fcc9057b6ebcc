"""`audit serve` over real sockets: who is calling (peer credentials, tokens, OIDC), RBAC and the
log on every request, the CLI as a client, confinement of what a caller may name, and the same
report through the service as locally.

Every attack is made the way a caller could make it: a raw HTTP request, a token from another
audience, a forged or re-signed token, a process of another OS account with a spoofed $USER.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.cli.app import main
from tests.servekit import (
    GERMAN,
    ROOT,
    Served,
    clean_env,
    register_german,
    start_service,
    write_spec,
)

VOLATILE = {"report_id", "version", "previous", "created_at", "changes", "trend", "environment"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("service")
    s = start_service(folder / "srv")
    try:
        register_german(s)
        spec = write_spec(folder / "client")
        done = s.cli("run", str(spec), "--no-pdf")
        assert "outcome: PASS" in done.stdout
        s.spec = spec  # type: ignore[attr-defined]
        yield s
    finally:
        s.stop()


def last(served: Served, **match: Any) -> dict[str, Any]:
    """The latest log entry whose fields equal ``match``."""
    found = [e for e in served.entries() if all(e.get(k) == v for k, v in match.items())]
    assert found, f"no log entry with {match}"
    return found[-1]


# --- who is calling ----------------------------------------------------------------------------


def test_unauthenticated_requests_are_refused_401_and_logged(served: Served) -> None:
    with served.http() as http:
        reply = http.get("/api/v1/reports")
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")
    assert "no credentials" in reply.json()["error"]
    entry = last(served, actor="anonymous", resource="report:*")
    assert entry["decision"] == "deny" and entry["reason"].startswith("unauthenticated")
    # a malformed Authorization header is no better
    with served.http() as http:
        reply = http.get("/api/v1/reports", headers={"Authorization": "Basic cm9vdDo="})
    assert reply.status_code == 401


def test_the_peer_is_who_the_kernel_says(served: Served) -> None:
    """A process of OS account `nobody` that sets USER=root and sends headers naming root is
    still `nobody`: it has no role, so it is refused, and the log names nobody (uid 65534)."""
    status, body = request_as(65534, served.socket, "/api/v1/reports")
    assert status == 403, body
    assert "nobody may not 'report:read'" in body
    entry = last(served, actor="nobody", action="report:read")
    assert entry["decision"] == "deny" and entry["uid"] == 65534 and entry["actor_source"] == "os"
    # the same command from the admin's own account is allowed, and logged as that account
    assert served.cli("report", "list").returncode == 0
    entry = last(served, action="report:read", decision="allow")
    assert entry["uid"] == os.getuid()


def request_as(uid: int, sock: Path, path: str) -> tuple[int, str]:
    """GET ``path`` over the Unix socket from a child process running as ``uid``, with every
    header a client could use to claim to be root."""
    import socket as socketlib

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to uid, then speak HTTP by hand
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.environ.update(USER="root", LOGNAME="root")
            with socketlib.socket(socketlib.AF_UNIX) as s:
                s.connect(str(sock))
                s.sendall(
                    f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Remote-User: root\r\n"
                    "X-Forwarded-User: root\r\nConnection: close\r\n\r\n".encode()
                )
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            os.write(write, data)
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def test_viewer_cannot_approve_403_logged_approver_can(served: Served) -> None:
    viewer = served.token("vera", ["viewer"])
    approver = served.token("ann", ["approver"])
    where = "/api/v1/reports/german-credit/v1/approve"
    with served.http(viewer) as http:
        assert http.get("/api/v1/reports").status_code == 200
        refused = http.post(where)
    assert refused.status_code == 403
    assert "may not 'report:approve'" in refused.json()["error"]
    entry = last(served, actor="vera", action="report:approve")
    assert entry["decision"] == "deny" and entry["actor_source"] == "token"
    # through the CLI the viewer gets exit 4 as well
    done = served.cli("approve", "reports/german-credit/v1", token=viewer, tcp=True, check=4)
    assert "access denied" in done.stderr
    with served.http(approver) as http:
        ok = http.post(where)
    assert ok.status_code == 200, ok.text
    assert ok.json()["approver"] == "service:ann"
    entry = last(served, actor="ann", action="report:approve", decision="allow")
    assert entry["resource"] == "report:german-credit/v1"
    # the gate now opens for this model under this policy, through the service
    spec_dir = served.spec.parent  # type: ignore[attr-defined]
    done = served.cli("gate", "--model", "german@1", "--policy", str(spec_dir / "policy.yaml"))
    assert "gate open" in done.stdout


def test_a_token_for_another_audience_or_user_is_refused(served: Served) -> None:
    cli_token = served.token("carl", ["viewer"], audience="audit")
    with served.http(cli_token) as http:
        reply = http.get("/api/v1/reports")
    assert reply.status_code == 401
    assert "not meant for this audience" in reply.json()["error"]
    assert last(served, actor="anonymous")["reason"].startswith("unauthenticated: token refused")
    # re-signing a token for another subject with a key the service does not trust fails ...
    good = served.token("dora", ["viewer"])
    claims = jwt.decode(good, options={"verify_signature": False})
    header = jwt.get_unverified_header(good)
    forged = jwt.encode({**claims, "sub": "ann"}, Ed25519PrivateKey.generate(), "EdDSA", header)
    # ... and so does keeping the signature while changing the subject
    head, _, sig = good.split(".")
    payload = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "ann"}).encode())
    spliced = f"{head}.{payload.decode().rstrip('=')}.{sig}"
    for bad in (forged, spliced, "not-a-token"):
        with served.http(bad) as http:
            assert http.get("/api/v1/reports").status_code == 401
    # a token may narrow its subject's roles, never add one: dora is bound to viewer only
    narrowed = served.token("dora", ["viewer"])
    served.bind("services", "dora", ["viewer"])
    claims = jwt.decode(narrowed, options={"verify_signature": False})
    with served.http(narrowed) as http:
        assert http.post("/api/v1/reports/german-credit/v1/verify").status_code == 403


# --- the CLI as a client -----------------------------------------------------------------------


def test_the_same_audit_gives_the_same_report_locally(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the service's spec locally on the same artifacts: report.json is the same apart from
    ids, times, the environment and who ran it."""
    home = tmp_path / "home"
    monkeypatch.setenv("AUDIT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    model = GERMAN / "models" / "german-rf.skops"
    args = ["registry", "add-model", str(model), "--name", "german", "--version", "1"]
    assert main([*args, "--owner", "credit-risk team"]) == 0
    data = ["--name", "german-test", "--version", "1"]
    assert main(["registry", "add-dataset", str(GERMAN / "german_test.csv"), *data]) == 0
    spec = write_spec(tmp_path / "client")
    assert main(["run", str(spec), "--no-pdf", "--output", str(tmp_path / "reports")]) == 0
    local = json.loads((tmp_path / "reports" / "german-credit" / "v1" / "report.json").read_text())
    remote = json.loads(
        (served.folder / "reports" / "german-credit" / "v1" / "report.json").read_text()
    )

    def stable(report: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in report.items() if k not in VOLATILE | {"actor"}}
        for key in ("model", "dataset"):
            out["subject"][key] = {
                k: v
                for k, v in out["subject"][key].items()
                if k not in {"registered_at", "registered_by"}
            }
        return out

    assert stable(local) == stable(remote)
    assert remote["actor"]["user"] == "root" or remote["actor"]["uid"] == os.getuid()


def test_the_client_uploads_and_fetches_files(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "log.jsonl"
    served.cli("log", "export", str(out))
    lines = out.read_text().splitlines()
    assert lines and json.loads(lines[0])
    done = served.cli("log", "verify")
    assert "ok" in done.stdout.lower()
    zipped = tmp_path / "v1.zip"
    served.cli("report", "export", "reports/german-credit/v1", str(zipped))
    assert zipped.read_bytes()[:2] == b"PK"


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *[os.sys.executable, "-m", "audit"],
            "--server",
            f"unix:{tmp_path}/none.sock",
            "report",
            "list",
        ],  # type: ignore[attr-defined]
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "cannot reach the audit service" in done.stderr
    assert "Traceback" not in done.stderr


# --- what a caller may name --------------------------------------------------------------------


def _job(served: Served, argv: list[str], files: dict[str, bytes] | None = None) -> httpx.Response:
    with served.unix() as http:
        return http.post(
            "/api/v1/cli",
            data={"argv": json.dumps(argv)},
            files=[("file", (n, b)) for n, b in (files or {}).items()] or None,
        )


def test_a_caller_cannot_name_the_services_files(served: Served) -> None:
    key = str(served.home / "keys" / "token.key.pem")
    for argv in (
        ["registry", "add-model", key, "--name", "stolen", "--version", "1"],
        ["verify", "/etc"],
        ["log", "export", "/tmp/leak.jsonl"],
        ["report", "list", "--output", str(served.home)],
        # an export may write only into the request's outputs, never into the reports
        ["report", "export", "reports/german-credit/v1", "reports/fake-system"],
    ):
        reply = _job(served, argv)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["exit_code"] == 4, (argv, body)
        assert "outside what a command may read" in body["stderr"] or "audit home" in body["stderr"]
    assert not Path("/tmp/leak.jsonl").exists()
    entry = last(served, action="registry:write", decision="deny")
    assert "outside" in entry["reason"] or "audit home" in entry["reason"]
    # the service signs with its own keys: --keys / --passphrase-file are refused
    spec = served.spec.read_bytes()  # type: ignore[attr-defined]
    body = _job(
        served, ["run", "@in/1/audit.yaml", "--keys", "/tmp"], {"1/audit.yaml": spec}
    ).json()
    assert body["exit_code"] == 4 and "--keys is not accepted" in body["stderr"]
    # a Dask scheduler of the caller's choosing would be sent the registered data
    argv = ["run", "@in/1/audit.yaml", "--engine", "dask", "--scheduler", "tcp://evil:8786"]
    body = _job(served, argv, {"1/audit.yaml": spec}).json()
    assert body["exit_code"] == 4 and "--scheduler is not accepted" in body["stderr"]
    # upload names cannot climb out of the job folder
    reply = _job(served, ["report", "list"], {"../../evil.yaml": b"x"})
    assert reply.status_code == 400 and "not a plain relative path" in reply.json()["error"]


def test_audits_through_the_service_use_registered_artifacts_only(
    served: Served, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path)
    doc = json.loads(spec.read_text())
    doc["model"] = str(GERMAN / "models" / "german-rf.skops")
    spec.write_text(json.dumps(doc))
    done = served.cli("run", str(spec), check=2)
    assert "registered artifacts only" in done.stderr
    assert "Traceback" not in done.stderr


# --- OIDC and HTTPS ----------------------------------------------------------------------------


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_oidc_tokens_of_the_pinned_issuer_over_https(tmp_path: Path) -> None:
    issuer = "https://login.example.org/tenant"
    idp = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(idp.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"}]}))
    cert, key = _self_signed(tmp_path)
    s = start_service(
        tmp_path / "srv",
        extra=(
            "--oidc-issuer",
            issuer,
            "--oidc-jwks",
            str(jwks),
            "--oidc-audience",
            "audit-portal",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ),
        scheme="https",
        ca=cert,
    )
    try:
        s.bind("oidc", "ann@example.org", ["viewer"])
        now = datetime.now(UTC)
        claims = {
            "iss": issuer,
            "aud": "audit-portal",
            "sub": "ann@example.org",
            "iat": now,
            "exp": now + timedelta(minutes=10),
        }

        def get(token: str) -> httpx.Response:
            with s.http() as http:
                return http.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"})

        good = jwt.encode(claims, idp, "RS256", {"kid": "idp-1"})
        assert get(good).status_code == 200
        entry = last(s, actor="ann@example.org", action="report:read")
        assert entry["actor_source"] == "oidc" and entry["decision"] == "allow"
        other_idp = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = idp.public_key().public_bytes(
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["x"]).Encoding.PEM,
            __import__(
                "cryptography.hazmat.primitives.serialization", fromlist=["x"]
            ).PublicFormat.SubjectPublicKeyInfo,
        )
        refused = {
            "wrong issuer": jwt.encode(
                {**claims, "iss": "https://evil.example"}, idp, "RS256", {"kid": "idp-1"}
            ),
            "wrong audience": jwt.encode(
                {**claims, "aud": "other-app"}, idp, "RS256", {"kid": "idp-1"}
            ),
            "other key": jwt.encode(claims, other_idp, "RS256", {"kid": "idp-1"}),
            "expired": jwt.encode(
                {**claims, "exp": now - timedelta(hours=1)}, idp, "RS256", {"kid": "idp-1"}
            ),
            "hmac with the public key": _hs256(claims, public_pem),
        }
        for why, token in refused.items():
            assert get(token).status_code == 401, why
        refused_token = refused["wrong audience"]
        # the portal takes the same OIDC token at login; its cookie is Secure over TLS
        with s.http() as http:
            login = http.post("/portal/login", data={"token": good}, headers={"Origin": s.url})
            assert login.status_code == 303, login.text
            cookie = login.headers["set-cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
            page = http.get("/portal/")
            assert page.status_code == 200 and "ann@example.org" in page.text
            refused = http.post(
                "/portal/login", data={"token": refused_token}, headers={"Origin": s.url}
            )
            assert refused.status_code == 401
        # the CLI over HTTPS trusts the service's certificate through $AUDIT_SERVER_CA
        done = s.cli("report", "list", token=good, tcp=True, env={"AUDIT_SERVER_CA": str(cert)})
        assert "no report bundles" in done.stdout
    finally:
        s.stop()


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 token keyed with the issuer's public key (the algorithm-confusion attack),
    built by hand because PyJWT refuses to make one."""
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    body = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    signing = (
        b64(json.dumps({"alg": "HS256", "kid": "idp-1"}).encode())
        + "."
        + b64(json.dumps(body).encode())
    )
    sig = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64(sig)


def test_plain_http_off_loopback_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [os.sys.executable, "-m", "audit", "serve", "--dir", str(tmp_path), "--host", "0.0.0.0"],  # type: ignore[attr-defined]
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 2
    assert "in the clear" in done.stderr


# --- PostgreSQL ----------------------------------------------------------------------------------


def test_the_service_on_postgresql(served: Served, pg_url: str, tmp_path: Path) -> None:
    """The whole flow with the registry and log in a real PostgreSQL: nothing of either is
    written under the home, the log verifies, and the report equals the SQLite service's."""
    s = start_service(tmp_path / "srv", database=pg_url)
    try:
        register_german(s)
        spec = write_spec(tmp_path / "client")
        s.cli("run", str(spec), "--no-pdf")
        approver = s.token("ann", ["approver"])
        s.cli("approve", "reports/german-credit/v1", token=approver, tcp=True)
        gate = s.cli("gate", "--model", "german@1", "--policy", str(spec.parent / "policy.yaml"))
        assert "gate open" in gate.stdout
        assert "ok" in s.cli("log", "verify").stdout.lower()
        assert not (s.home / "access.db").exists() and not (s.home / "registry.db").exists()
        entry = last(s, actor="ann", action="report:approve")
        assert entry["decision"] == "allow"
    finally:
        s.stop()
    mine = json.loads((s.folder / "reports/german-credit/v1/report.json").read_text())
    theirs = json.loads((served.folder / "reports/german-credit/v1/report.json").read_text())
    assert {k: v for k, v in mine.items() if k not in VOLATILE | {"subject", "actor"}} == {
        k: v for k, v in theirs.items() if k not in VOLATILE | {"subject", "actor"}
    }


def test_bad_start_options_exit_2_naming_them_and_touch_nothing(tmp_path: Path) -> None:
    """A missing socket folder and unloadable TLS files were internal errors (exit 5, a
    FileNotFoundError); a broken OIDC key set was found only after the home was initialised."""
    (tmp_path / "jwks.json").write_text('{"keys": [')
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    cases = {
        "the folder": ["--socket", str(tmp_path / "nodir" / "a.sock")],
        "PEM certificate chain": [
            "--host",
            "127.0.0.1",
            "--tls-cert",
            str(tmp_path / "junk.pem"),
            "--tls-key",
            str(tmp_path / "junk.pem"),
        ],
        "key set": [
            "--socket",
            str(tmp_path / "a.sock"),
            "--oidc-issuer",
            "https://idp.example",
            "--oidc-jwks",
            str(tmp_path / "jwks.json"),
            "--oidc-audience",
            "audit",
        ],
    }
    for words, args in cases.items():
        folder = tmp_path / "srv"
        done = subprocess.run(
            [os.sys.executable, "-m", "audit", "serve", "--dir", str(folder), *args],  # type: ignore[attr-defined]
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
        assert done.returncode == 2, (words, done.stderr)
        assert words in done.stderr and "hint:" in done.stderr and "Traceback" not in done.stderr
        assert not folder.exists(), words
