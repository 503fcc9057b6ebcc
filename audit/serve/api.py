"""The service's JSON API, ``/api/v1``: each endpoint names the CLI command whose permission it
needs, and :func:`endpoint` authenticates, authorises (RBAC, logged) and maps errors.

| method, path                                   | command (RBAC action)          |
| ---------------------------------------------- | ------------------------------ |
| GET  /api/v1/reports                           | report list (report:read)      |
| GET  /api/v1/reports/{name}                    | report list (report:read)      |
| GET  /api/v1/reports/{name}/v{n}               | report show (report:read)      |
| GET  /api/v1/reports/{name}/v{n}/files/{file}  | report show (report:read)      |
| POST /api/v1/reports/{name}/v{n}/verify        | verify (report:verify)         |
| POST /api/v1/reports/{name}/v{n}/approve       | approve (report:approve)       |
| GET  /api/v1/log                               | log show (log:read)            |
| POST /api/v1/cli                               | the forwarded command's own    |
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..access import COMMAND_ACTIONS, Actor, LogFilter
from ..errors import AccessDenied, AuditError, InputError
from ..names import check_name
from ..pipeline.session import Session
from .auth import Authenticated, csrf_ok
from .service import Service, Unauthenticated

#: HTTP status for each exit code an AuditError carries
STATUS = {2: 400, 3: 409, 4: 403, 5: 500}
#: bundle files the API and portal serve, with their media types
BUNDLE_FILES = {
    "report.json": "application/json",
    "report.html": "text/html; charset=utf-8",
    "report.pdf": "application/pdf",
    "summary.md": "text/markdown; charset=utf-8",
    "junit.xml": "application/xml",
    "bom.cdx.json": "application/vnd.cyclonedx+json",
    "model-card.md": "text/markdown; charset=utf-8",
    "reasons.csv": "text/csv; charset=utf-8",
    "attestation.json": "application/json",
}

Handler = Callable[[Request, Session, Actor], Response]


def error_response(exc: AuditError, status: int | None = None) -> JSONResponse:
    code = status or STATUS.get(exc.exit_code, 400)
    headers = {"WWW-Authenticate": 'Bearer realm="audit"'} if code == 401 else None
    body = {"error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code}
    return JSONResponse(body, status_code=code, headers=headers)


def service_of(request: Request) -> Service:
    return request.app.state.service


def caller(request: Request, action: str, resource: str) -> Authenticated:
    """The authenticated caller; an unauthenticated request is logged (deny) and refused."""
    service = service_of(request)
    try:
        found = service.authenticate(request.scope, request.headers, request.cookies)
    except Unauthenticated as exc:
        service.log_refused(action, resource, f"unauthenticated: {exc.message}")
        raise
    request.state.caller = found
    return found


def endpoint(
    command: str, resource: Callable[[Request], str], *, guard: bool = True
) -> Callable[[Handler], Any]:
    """Wrap ``handler``: authenticate, check CSRF for cookie sessions, ``guard(command)``
    (``guard=False``: the library call the handler makes guards ``command`` itself)."""

    def wrap(handler: Handler) -> Any:
        @functools.wraps(handler)
        def run(request: Request) -> Response:
            action = COMMAND_ACTIONS[command]
            try:
                try:
                    where = resource(request)
                    bad: AuditError | None = None
                except AuditError as exc:  # refused below, once the caller is known (and logged)
                    where, bad = f"path:{request.url.path}", exc
                found = caller(request, action, where)
                try:
                    if bad is not None:
                        raise bad
                    if found.via == "cookie" and request.method != "GET":
                        given = request.headers.get("x-csrf-token")
                        if not csrf_ok(found.csrf, given):
                            raise AccessDenied("CSRF check failed", hint="reload the page")
                except AuditError as exc:
                    service_of(request).log(found.actor, action, where, "deny", exc.message)
                    raise
                session = service_of(request).session(found.actor)
                try:
                    actor = session.guard(command, where) if guard else found.actor
                    return handler(request, session, actor)
                finally:
                    session.close()
            except Unauthenticated as exc:
                return error_response(exc, 401)
            except AuditError as exc:
                return error_response(exc)

        return run

    return wrap


def _name(request: Request) -> str:
    name = str(request.path_params.get("name", ""))
    check_name(name, "system name", hint="use a name as GET /api/v1/reports lists it")
    return name


def _report(request: Request) -> str:
    return f"report:{_name(request)}/v{request.path_params['version']}"


def bundle_folder(session: Session, name: str, version: int) -> Path:
    folder = session.cwd / "reports" / name / f"v{version}"
    if not (folder / "report.json").is_file():
        raise InputError(f"no report {name} v{version}", hint="GET /api/v1/reports lists them")
    return folder


#: rows of bundles already read, by report.json's (path, inode, size, mtime): bundles are
#: written once and never modified, so a changed file is read again
_ROWS: dict[tuple[str, int, int, int], dict[str, Any]] = {}


def version_rows(session: Session, name: str) -> list[dict[str, Any]]:
    """Each version of ``name`` with its outcome (unreadable ones say so)."""
    from ..bundles import BundleStore

    store = BundleStore(session.cwd / "reports")
    rows: list[dict[str, Any]] = []
    for v in store.versions(name):
        path = store.root / name / f"v{v}" / "report.json"
        try:
            st = path.lstat()
            key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        if key is not None and key in _ROWS:
            rows.append(_ROWS[key])
            continue
        try:
            r = store.open(name, v).report
        except AuditError as exc:
            rows.append({"version": v, "outcome": "unreadable", "error": exc.message})
            continue
        row = {
            "version": v,
            "outcome": r.outcome,
            "report_id": r.report_id,
            "created_at": r.created_at,
            "failed": r.summary.failed,
            "warned": r.summary.warned,
            "model_sha256": None if r.subject.model is None else r.subject.model.sha256,
        }
        if key is not None:
            _ROWS[key] = row
        rows.append(row)
    return rows


@endpoint("report list", lambda r: "report:*")
def list_reports(request: Request, session: Session, actor: Actor) -> Response:
    from ..bundles import BundleStore

    systems = BundleStore(session.cwd / "reports").systems()
    return JSONResponse(
        {"systems": [{"name": s, "versions": version_rows(session, s)} for s in systems]}
    )


@endpoint("report list", lambda r: f"report:{_name(r)}")
def list_versions(request: Request, session: Session, actor: Actor) -> Response:
    name = _name(request)
    return JSONResponse({"name": name, "versions": version_rows(session, name)})


@endpoint("report show", _report)
def bundle_file(request: Request, session: Session, actor: Actor) -> Response:
    name, version = _name(request), int(request.path_params["version"])
    file = str(request.path_params.get("file", "report.json"))
    if file not in BUNDLE_FILES:
        raise InputError(f"a bundle has no file {file!r}", hint=", ".join(BUNDLE_FILES))
    path = bundle_folder(session, name, version) / file
    if not path.is_file() or path.is_symlink():
        raise InputError(f"report {name} v{version} has no {file}")
    return FileResponse(path, media_type=BUNDLE_FILES[file], headers=SAFE_HEADERS)


@endpoint("verify", _report)
def verify(request: Request, session: Session, actor: Actor) -> Response:
    from ..pipeline.anchoring import verify_published

    folder = bundle_folder(session, _name(request), int(request.path_params["version"]))
    result = verify_published(session, folder, rollback_check=False)
    return JSONResponse(
        {"ok": result.ok, "problems": list(result.problems), "keyid": result.keyid},
        status_code=200,
    )


@endpoint("approve", _report, guard=False)
def approve(request: Request, session: Session, actor: Actor) -> Response:
    """Approve through the library call, which guards ``approve`` itself (one logged decision)."""
    from ..pipeline import approve as approve_bundle

    folder = session.cwd / "reports" / _name(request) / f"v{request.path_params['version']}"
    note = str(request.query_params.get("note", ""))[:2000]
    done = approve_bundle(session, folder, note=note)
    return JSONResponse({"approved": True, "approver": done.approver, "record": done.record.name})


@endpoint("log show", lambda r: "log")
def log_entries(request: Request, session: Session, actor: Actor) -> Response:
    q = request.query_params
    where = LogFilter(actor=q.get("actor"), action=q.get("action"), resource=q.get("resource"))
    try:
        limit = min(max(int(q.get("limit", "1000")), 1), 10000)
    except ValueError:
        raise InputError("limit must be a number of entries (1 to 10000)") from None
    entries = list(session.access.log.entries(where))[-limit:]
    return JSONResponse({"entries": [json.loads(e.body()) | {"hash": e.hash} for e in entries]})


#: served bundle files are evidence, never active content in the service's origin
SAFE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "font-src data:; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def routes() -> list[Route]:
    """The API's read, verify and approve routes (``POST /api/v1/cli`` is :mod:`.jobs`)."""
    return [
        Route("/api/v1/reports", list_reports),
        Route("/api/v1/reports/{name}", list_versions),
        Route("/api/v1/reports/{name}/v{version:int}", bundle_file),
        Route("/api/v1/reports/{name}/v{version:int}/files/{file}", bundle_file),
        Route("/api/v1/reports/{name}/v{version:int}/verify", verify, methods=["POST"]),
        Route("/api/v1/reports/{name}/v{version:int}/approve", approve, methods=["POST"]),
        Route("/api/v1/log", log_entries),
    ]
