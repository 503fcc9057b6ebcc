"""`audit serve` attacked as a hostile caller would: raw HTTP against /api/v1 and /api/v1/cli,
crafted argv and uploads, forged and replayed tokens, portal forms and paths, and requests that
try to get an answer without leaving an access-log entry.

One service for the module (tests/servekit.py), with the German sample registered and no audit
run (no test here needs a report of the service's own). The test process's OS account is the
service admin; other callers get tokens (audience audit-serve).

Each test's docstring says what the attack achieved before its defence.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.servekit import GERMAN, Served, register_german, start_service, write_spec


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    s = start_service(tmp_path_factory.mktemp("attacks") / "srv")
    try:
        register_german(s)
        yield s
    finally:
        s.stop()


def job(
    served: Served,
    argv: Any,
    files: list[tuple[str, bytes]] | None = None,
    *,
    token: str | None = None,
    data: dict[str, str] | None = None,
) -> httpx.Response:
    """POST /api/v1/cli by hand: over the Unix socket (the admin), or TCP with ``token``."""
    form = {"argv": argv if isinstance(argv, str) else json.dumps(argv), **(data or {})}
    http = served.http(token) if token else served.unix()
    with http:
        return http.post(
            "/api/v1/cli", data=form, files=[("file", (n, b)) for n, b in files or []] or None
        )


def logged(served: Served, **match: Any) -> list[dict[str, Any]]:
    return [e for e in served.entries() if all(e.get(k) == v for k, v in match.items())]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def raw_reply(served: Served, request: str) -> str:
    """Send ``request`` byte for byte on the TCP listener; the reply (headers and the body its
    Content-Length announces), without sending the body the request announced."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as s:
        s.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data and (chunk := s.recv(65536)):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        size = [
            int(v)
            for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
            if k.strip().lower() == b"content-length"
        ]
        while len(body) < (size[0] if size else 0) and (chunk := s.recv(65536)):
            body += chunk
    return (head + b"\r\n\r\n" + body).decode("utf-8", "replace")


def raw_get(served: Served, target: str, headers: str = "") -> tuple[int, str]:
    """GET ``target`` exactly as written (no client normalising ``..`` or ``%2F``)."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as s:
        s.sendall(
            f"GET {target} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.decode("utf-8", "replace").partition("\r\n\r\n")
    return int(head.split()[1]), body


# --- log evasion: an answer always leaves an entry ---------------------------------------------


def test_every_refused_cli_request_is_logged(served: Served) -> None:
    """Before the fix, /api/v1/cli answered these with no access-log entry at all: argv that is
    not a JSON list (400, read before the caller was even authenticated), an upload name that
    climbs out (400), two names for one file (``1/a`` and ``1//a``: a FileExistsError, 500), a
    name the file system refuses (500), too many form fields (400), and argv naming no command
    (exit 2 from the worker, which never reached RBAC)."""
    cases: list[tuple[Any, list[tuple[str, bytes]], dict[str, str] | None, str]] = [
        ("not-a-list", [], None, "JSON list of strings"),
        (["report", "list"], [("../../evil", b"x")], None, "not a plain relative path"),
        (["report", "list"], [("1/a", b"x"), ("1//a", b"y")], None, "not a plain relative"),
        (["report", "list"], [("1/a", b"x"), ("1/a", b"y")], None, "given twice"),
        (["report", "list"], [("1/" + "a" * 300, b"x")], None, "cannot be saved"),
        (["report", "list"], [], {f"f{i}": "x" for i in range(150)}, "Too many fields"),
        (["nosuch", "thing"], [], None, "names no command"),
        ([], [], None, "names no command"),
        (["report"], [], None, "names no command"),
    ]
    for argv, files, data, why in cases:
        before = len(logged(served, decision="deny"))
        reply = job(served, argv, files, data=data)
        assert reply.status_code == 400, (argv, reply.text)
        assert why in reply.json()["error"], (argv, reply.json())
        denied = logged(served, decision="deny")
        assert len(denied) == before + 1, (argv, "no log entry")
        assert why in denied[-1]["reason"] and denied[-1]["actor"] == "root", denied[-1]


def test_an_anonymous_upload_is_refused_before_its_body_is_read(served: Served) -> None:
    """Before the fix the whole multipart body (up to 10000 files, spooled to disk) was parsed
    before the caller was authenticated: anyone reaching the port could fill the disk. Now the
    401 comes from the headers alone (logged), and an authenticated caller declaring more than
    the upload limit is refused before a byte is read (logged)."""
    huge = "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 99999999999\r\n"
    reply = raw_reply(served, f"POST /api/v1/cli HTTP/1.1\r\nHost: x\r\n{huge}\r\n")
    assert reply.split()[1] == "401", reply
    entry = logged(served, actor="anonymous", resource="cli")[-1]
    assert entry["decision"] == "deny" and "no credentials" in entry["reason"]
    token = served.token("uma", ["viewer"])
    auth = f"Authorization: Bearer {token}\r\n"
    reply = raw_reply(served, f"POST /api/v1/cli HTTP/1.1\r\nHost: x\r\n{auth}{huge}\r\n")
    assert reply.split()[1] == "400" and "request body is larger" in reply, reply
    entry = logged(served, actor="uma", resource="cli:")[-1]
    assert entry["decision"] == "deny" and "larger than" in entry["reason"]


def test_portal_paths_that_are_not_plain_names_are_logged(served: Served) -> None:
    """Before the fix the portal checked a page's system name (and a diff's versions) before
    authenticating, and answered 400 with no log entry, for anyone: a way to probe the portal
    unseen. Now the caller is authenticated (an anonymous one gets the login form, logged) and
    the refusal is logged under the path asked for."""
    token = served.token("pat", ["viewer"])
    with httpx.Client(base_url=served.url, timeout=60) as http:
        http.post("/portal/login", data={"token": token}, headers={"Origin": served.url})
        for path in ("/portal/systems/a%20b", "/portal/systems/x/diff?a=1&b=..%2F1"):
            reply = http.get(path)
            assert reply.status_code == 400, (path, reply.text)
            entry = logged(served, actor="pat")[-1]
            assert entry["decision"] == "deny" and entry["resource"].startswith("portal:/portal/")
        reply = http.post("/portal/reports/a%20b/v1/approve", data={"csrf": "x"})
        assert reply.status_code == 400
        assert logged(served, actor="pat")[-1]["action"] == "report:approve"
    reply = httpx.get(served.url + "/portal/systems/a%20b", timeout=60)
    assert reply.status_code == 401 and 'name="token"' in reply.text
    assert logged(served, actor="anonymous")[-1]["resource"] == "portal:/portal/systems/a b"


def test_api_refusals_made_before_rbac_are_logged(served: Served) -> None:
    """`endpoint` in audit/serve/api.py checks the system name (check_name of {name}) before
    authenticating, so GET /api/v1/reports/a%20b answers 400 to anyone with no log entry; and
    its CSRF refusal of a cookie session (403) is raised before the guard, unlogged too.
    Fix: authenticate with the raw path as resource first, then check the name and the CSRF
    secret, logging a refusal of either as the caller (as views.view and jobs.cli_job now do)."""
    with served.http() as http:
        reply = http.get("/api/v1/reports/a%20b")
    assert reply.status_code == 401
    assert logged(served, actor="anonymous")[-1]["resource"].endswith("a b")
    token = served.token("csr", ["viewer"])
    with httpx.Client(base_url=served.url, timeout=60) as http:
        http.post("/portal/login", data={"token": token}, headers={"Origin": served.url})
        reply = http.post("/api/v1/reports/x/v1/verify", headers={"X-CSRF-Token": "guess"})
    assert reply.status_code == 403 and "CSRF" in reply.json()["error"]
    entry = logged(served, actor="csr")[-1]
    assert entry["decision"] == "deny" and "CSRF" in entry["reason"]


def test_logout_from_another_site_is_refused_and_logged(served: Served) -> None:
    """Before the fix POST /portal/logout took any Origin (a cross-site form logged the browser
    out: logout CSRF) and left no log entry either way."""
    token = served.token("lou", ["viewer"])
    with httpx.Client(base_url=served.url, timeout=60) as http:
        http.post("/portal/login", data={"token": token}, headers={"Origin": served.url})
        evil = http.post("/portal/logout", headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403 and "another site" in evil.text
        assert "audit_session" in http.cookies  # still logged in
        entry = logged(served, action="portal:logout")[-1]
        assert entry["decision"] == "deny" and entry["actor"] == "lou"
        ok = http.post("/portal/logout", headers={"Origin": served.url})
        assert ok.status_code == 303
    entry = logged(served, action="portal:logout")[-1]
    assert entry["decision"] == "allow" and entry["actor"] == "lou"


# --- tokens ------------------------------------------------------------------------------------


def test_forged_expired_and_misdirected_tokens_are_refused(served: Served) -> None:
    """alg none, HS256 keyed with the service's public token key (algorithm confusion), a kid
    naming a file or an unknown key, an expired and a future-dated token signed with the real
    key: each is 401, logged as anonymous (caught already; not tested before)."""
    from audit.pipeline.trust import token_key

    good = served.token("tina", ["viewer"])
    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    real = token_key(served.home)
    public_raw = real.public_key().public_bytes_raw()
    now = int(time.time())

    def unsigned(head: dict[str, Any], body: dict[str, Any], key: bytes | None) -> str:
        signing = b64(json.dumps(head).encode()) + "." + b64(json.dumps(body).encode())
        sig = b"" if key is None else hmac.new(key, signing.encode(), hashlib.sha256).digest()
        return signing + "." + b64(sig)

    forged = {
        "alg none": unsigned({"alg": "none", "typ": "JWT"}, claims, None),
        "hs256 with the public key": unsigned({**header, "alg": "HS256"}, claims, public_raw),
        "kid naming a file": jwt.encode(
            claims, Ed25519PrivateKey.generate(), "EdDSA", {"kid": "../keys/token.key.pem"}
        ),
        "kid of no key": jwt.encode(claims, Ed25519PrivateKey.generate(), "EdDSA", {"kid": "x"}),
        "expired": jwt.encode(
            {**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
            real,
            "EdDSA",
            header,
        ),
        "future-dated": jwt.encode(
            {**claims, "iat": now + 3600, "nbf": now + 3600, "exp": now + 7200},
            real,
            "EdDSA",
            header,
        ),
    }
    for why, token in forged.items():
        with served.http(token) as http:
            reply = http.get("/api/v1/reports")
        assert reply.status_code == 401, (why, reply.text)
        entry = logged(served, actor="anonymous", resource="report:*")[-1]
        assert entry["reason"].startswith("unauthenticated: token refused"), (why, entry)
    with served.http(good) as http:
        assert http.get("/api/v1/reports").status_code == 200


def test_a_session_cookie_and_a_token_are_not_interchangeable(served: Served) -> None:
    """The portal's cookie (issuer audit-serve, audience audit-serve/portal, signed with the
    service's token key) is no bearer token, and a token issued for that audience by someone
    holding token:issue is no cookie: each is refused 401 (caught already, not tested before)."""
    token = served.token("kim", ["viewer"])
    with httpx.Client(base_url=served.url, timeout=60) as http:
        http.post("/portal/login", data={"token": token}, headers={"Origin": served.url})
        cookie = http.cookies["audit_session"]
    with served.http(cookie) as http:
        reply = http.get("/api/v1/reports")
    assert reply.status_code == 401 and "not trusted" in reply.json()["error"]
    done = served.cli(
        "token", "issue", "--user", "kim", "--roles", "viewer", "--audience", "audit-serve/portal"
    )
    posing = done.stdout.strip()
    with httpx.Client(base_url=served.url, timeout=60, cookies={"audit_session": posing}) as http:
        assert http.get("/api/v1/reports").status_code == 401
        assert http.get("/portal/").status_code == 401
    entry = logged(served, actor="anonymous")[-1]
    assert entry["reason"].startswith("unauthenticated: session refused")


def test_roles_come_from_the_bindings_at_each_request(served: Served) -> None:
    """A token naming a role its subject is not bound to is refused; a token and a portal
    session stop working as soon as the subject's binding is removed (the roles are decided at
    each request, never carried by the credential); caught already, not tested before."""
    from audit.pipeline.trust import token_key

    token = served.token("rob", ["viewer"])
    claims = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)
    more = {**claims, "roles": ["viewer", "approver"]}  # as `token issue --roles` would sign it
    greedy = jwt.encode(more, token_key(served.home), "EdDSA", header)
    with served.http(greedy) as http:
        reply = http.get("/api/v1/reports")
    assert reply.status_code == 403 and "not bound to service:rob" in reply.json()["error"]
    with httpx.Client(base_url=served.url, timeout=60) as portal:
        login = portal.post("/portal/login", data={"token": token}, headers={"Origin": served.url})
        assert login.status_code == 303 and portal.get("/portal/").status_code == 200
        with served.http(token) as http:
            assert http.get("/api/v1/reports").status_code == 200
            served.bind("services", "rob", [])
            assert http.get("/api/v1/reports").status_code == 403
        assert portal.get("/portal/").status_code == 403
    entry = logged(served, actor="rob", action="report:read")[-1]
    assert entry["decision"] == "deny" and "not bound to service:rob" in entry["reason"]


def test_a_portal_session_needs_its_csrf_secret_for_every_post(served: Served) -> None:
    """The cookie alone (what a cross-site form sends, were SameSite not honoured) cannot POST
    to the API or run a command: each needs the session's CSRF secret in X-CSRF-Token (caught
    already). Before the fix the refusal of /api/v1/cli (403) left no log entry."""
    token = served.token("cid", ["viewer"])
    with httpx.Client(base_url=served.url, timeout=60) as http:
        http.post("/portal/login", data={"token": token}, headers={"Origin": served.url})
        reply = http.post("/api/v1/cli", data={"argv": '["report", "list"]'})
        assert reply.status_code == 403 and "CSRF" in reply.json()["error"]
        entry = logged(served, actor="cid")[-1]
        assert entry["decision"] == "deny" and "CSRF" in entry["reason"]
        reply = http.post("/api/v1/reports/x/v1/verify", headers={"X-CSRF-Token": "guess"})
        assert reply.status_code == 403 and "CSRF" in reply.json()["error"]


# --- what a caller may name --------------------------------------------------------------------


def test_a_spec_cannot_point_at_the_services_home_or_etc(served: Served, tmp_path: Path) -> None:
    """An uploaded spec whose policy, reason codes, baseline or templates name the service's
    home or /etc, directly, through ``..`` from the upload, or as a --opt=value override: exit 4
    and nothing of the file in the answer (caught already; test_serve covers the model only)."""
    spec = write_spec(tmp_path)
    doc = json.loads(spec.read_text())
    uploads = [
        ("1/policy.yaml", (tmp_path / "policy.yaml").read_bytes()),
        ("1/reason-codes.yaml", (tmp_path / "reason-codes.yaml").read_bytes()),
    ]
    attempts: list[tuple[dict[str, Any], list[str]]] = [
        ({"policy": "../../../../.audit/rbac.yaml"}, []),
        ({"explain": {"reason_codes": "/etc/shadow", "sample_size": 10}}, []),
        ({"baseline": str(served.home / "trust.json")}, []),
        ({"templates": str(served.home)}, []),
        ({}, ["--policy=/etc/passwd"]),
    ]
    for change, extra in attempts:
        body = {**doc, **change}
        files = [*uploads, ("1/audit.yaml", json.dumps(body).encode())]
        reply = job(served, ["run", "@in/1/audit.yaml", "--no-pdf", *extra], files)
        out = reply.json()
        assert out["exit_code"] == 4, (change, extra, out)
        assert "root:" not in out["stderr"] and "bindings" not in out["stderr"]
    assert not (served.folder / "reports" / "german-credit").exists()


def test_portal_and_api_paths_cannot_climb_out(served: Served) -> None:
    """``..`` and encoded slashes in a system name or a bundle file name, sent byte for byte:
    never a file outside the reports (caught already by the routes and check_name)."""
    token = served.token("val", ["viewer"])
    auth = f"Authorization: Bearer {token}\r\n"
    for target in (
        "/api/v1/reports/..",
        "/api/v1/reports/..%2F.audit/v1",
        "/api/v1/reports/x/v1/files/..%2F..%2F.audit%2Frbac.yaml",
        "/api/v1/reports/x/v1/files/%2e%2e",
        "/api/v1/reports/%2e%2e/v1/files/report.json",
        "/portal/systems/..",
        "/portal/reports/..%2F..%2F.audit/v1",
    ):
        status, body = raw_get(served, target, auth)
        assert status in (400, 404), (target, status, body[:200])
        assert "bindings" not in body and "PRIVATE KEY" not in body


def test_policy_init_cannot_write_into_the_services_reports(served: Served) -> None:
    """`policy init --output reports/x.yaml` wrote a file into the service's reports folder
    (the worker's OUTPUT_PARAMS knows `out` and `dest`, not policy init's `output`, so the
    output was checked against the *read* roots). Fix in audit/serve/worker.py: treat
    ("policy init", "output") as an output (only into @out/), and in client.py send it as one."""
    data = (GERMAN / "german_test.csv").read_bytes()
    argv = ["policy", "init", "--dataset", "@in/1/d.csv", "--label", "risk"]
    reply = job(
        served,
        [*argv, "--sensitive", "sex", "--output", "reports/planted.yaml"],
        [("1/d.csv", data)],
    )
    assert not (served.folder / "reports" / "planted.yaml").exists()
    assert reply.json()["exit_code"] == 4


def test_explain_runs_registered_models_only(served: Served, tmp_path: Path) -> None:
    """`explain` of a spec naming an uploaded model file ran that model in the service (exit
    0): only `run` checks `_registered_only`. Fix in audit/pipeline/explain.py: after
    load_spec, ``if session.roots is not None: _registered_only(resolved)`` (from .running)."""
    spec = write_spec(tmp_path)
    doc = {**json.loads(spec.read_text()), "model": "model.skops", "dataset": "data.csv"}
    files = [
        ("1/audit.yaml", json.dumps(doc).encode()),
        ("1/model.skops", (GERMAN / "models" / "german-rf.skops").read_bytes()),
        ("1/data.csv", (GERMAN / "german_test.csv").read_bytes()),
        ("1/policy.yaml", (tmp_path / "policy.yaml").read_bytes()),
        ("1/reason-codes.yaml", (tmp_path / "reason-codes.yaml").read_bytes()),
    ]
    out = job(served, ["explain", "@in/1/audit.yaml", "--row", "0"], files).json()
    assert out["exit_code"] == 2 and "registered artifacts only" in out["stderr"], out


def test_an_uploaded_bundle_with_its_own_keyring_cannot_be_approved(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An approver builds a bundle on their own machine (their own home and keys) whose
    report_id is ``../../../../<anywhere>``, uploads it as german-credit/v1 with their own public
    keyring (`approve BUNDLE --keyring RING`): the service verified it against that keyring,
    logged ``report:approve allow`` on report:german-credit/v1 and wrote the approval envelope
    to home/approvals/<report_id>.json, i.e. to a file of the caller's choosing anywhere the
    service account may create one. Fix: through the service, approve names only a bundle in
    the service's reports and takes no --keyring (audit/serve/worker.py); and the approval file
    name must be a checked name (audit/pipeline/approval.py: check_name(report.report_id))."""
    from audit.cli.app import main

    home = tmp_path / "home"
    monkeypatch.setenv("AUDIT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "planted"
    escape = "../" * len(served.home.joinpath("approvals").parts) + str(target).lstrip("/")

    class Chosen:
        def __str__(self) -> str:
            return escape

    import audit.pipeline.publishing as publishing

    # the attacker's own copy of audit, on their own machine: any report_id they like
    monkeypatch.setattr(publishing, "uuid", SimpleNamespace(uuid4=Chosen))
    model = GERMAN / "models" / "german-rf.skops"
    assert main(["registry", "add-model", str(model), "--name", "german", "--version", "1"]) == 0
    data = ["--name", "german-test", "--version", "1"]
    assert main(["registry", "add-dataset", str(GERMAN / "german_test.csv"), *data]) == 0
    spec = write_spec(tmp_path / "client")
    doc = json.loads(spec.read_text())
    del doc["explain"]
    spec.write_text(json.dumps(doc))
    assert main(["run", str(spec), "--no-pdf", "--output", str(tmp_path / "reports")]) == 0
    assert main(["keys", "export", "--out", str(tmp_path / "ring.json")]) == 0
    monkeypatch.undo()
    bundle = tmp_path / "reports" / "german-credit" / "v1"
    files = [
        (f"1/german-credit/v1/{p.relative_to(bundle).as_posix()}", p.read_bytes())
        for p in sorted(bundle.rglob("*"))
        if p.is_file()
    ]
    files.append(("2/ring.json", (tmp_path / "ring.json").read_bytes()))
    approver = served.token("ann", ["approver"])
    argv = ["approve", "@in/1/german-credit/v1", "--keyring", "@in/2/ring.json"]
    out = job(served, argv, files, token=approver).json()
    planted = target.with_suffix(".json").exists()
    assert not planted and out["exit_code"] == 4, out


def test_a_usage_error_through_the_service_is_logged(served: Served) -> None:
    """Before: `report list --bogus` was refused by click inside the worker before any guard
    ran, so the caller got exit 2 and the log had no entry of it."""
    token = served.token("uma", ["viewer"])
    done = served.cli("report", "list", "--bogus", token=token, tcp=True, check=2)
    assert "no such option" in done.stderr.lower()
    entry = logged(served, actor="uma")[-1]
    assert entry["decision"] == "deny" and entry["resource"] == "cli:report list"
    assert "no permission was checked" in entry["reason"]


def test_a_portal_session_ends_with_its_token(served: Served) -> None:
    """Before: the cookie lived 8 hours whatever the login token's lifetime; now it expires
    with the token it was opened with."""
    token = served.token("tia", ["viewer"])
    short = served.cli(
        "token",
        "issue",
        "--user",
        "tia",
        "--roles",
        "viewer",
        "--audience",
        "audit-serve",
        "--expires",
        "90s",
    ).stdout.strip()
    with served.http() as http:
        login = http.post("/portal/login", data={"token": short}, headers={"Origin": served.url})
    assert login.status_code == 303
    cookie = login.cookies["audit_session"]
    exp = jwt.decode(cookie, options={"verify_signature": False})["exp"]
    assert exp == jwt.decode(short, options={"verify_signature": False})["exp"]
    assert token  # the long token still works for the API


def test_an_endpoint_model_is_never_called_by_the_service(served: Served, tmp_path: Path) -> None:
    """SSRF: a spec naming ``model: endpoint+http://...`` would make the service POST the
    registered data to any address a caller names. Through the service an endpoint model is
    refused (exit 2) before anything is sent: the listening server below sees no connection."""
    import http.server
    import threading

    hits: list[str] = []

    class Listener(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = write_spec(tmp_path)
        url = f"endpoint+http://127.0.0.1:{server.server_address[1]}/invocations"
        doc = {**json.loads(spec.read_text()), "model": url}
        files = [
            ("1/audit.yaml", json.dumps(doc).encode()),
            ("1/policy.yaml", (tmp_path / "policy.yaml").read_bytes()),
            ("1/reason-codes.yaml", (tmp_path / "reason-codes.yaml").read_bytes()),
        ]
        out = job(served, ["run", "@in/1/audit.yaml", "--no-pdf"], files).json()
    finally:
        server.shutdown()
        server.server_close()
    assert out["exit_code"] == 2, out
    assert "calls no model endpoint" in out["stderr"] and "Traceback" not in out["stderr"]
    assert hits == []
