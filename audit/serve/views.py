"""The portal's pages, each authorised like the CLI command it mirrors.

| page                                          | command (RBAC action)          |
| --------------------------------------------- | ------------------------------ |
| GET  /portal/                                 | report list (report:read)      |
| GET  /portal/systems/{name}                   | report list (report:read)      |
| GET  /portal/systems/{name}/diff?a=N&b=M      | report diff (report:read)      |
| GET  /portal/reports/{name}/v{n}              | report show (+ verify, if the  |
|                                               | caller's roles allow it)       |
| GET  /portal/reports/{name}/v{n}/history      | log show (log:read)            |
| POST /portal/reports/{name}/v{n}/approve      | approve (report:approve)       |

:func:`view` authenticates (a request without credentials gets the login form with 401, and
the refusal is logged), then ``session.guard(command, resource)`` decides and logs exactly as the
CLI does. What a page merely *offers* (the server-side verification, the Approve button, the
history link) is decided with the RBAC policy without logging, and only what is then done is
guarded and logged. Errors render :func:`portal.error_page` with 400/403/404/409. Bundle files
are served by the API (``/api/v1/reports/{name}/v{n}/files/{file}``, sandboxed by its CSP).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..access import COMMAND_ACTIONS, Actor, Entry, LogFilter
from ..access.identity import LABEL_PREFIX
from ..errors import AccessDenied, AuditError, InputError
from ..names import check_name
from ..pipeline.session import Session
from .api import BUNDLE_FILES, caller, service_of, version_rows
from .auth import Authenticated, csrf_ok
from .portal import NotFound, cross_site, error_page, login_page, page
from .service import Unauthenticated

APPROVE_ACTION = "report:approve"


@dataclass(frozen=True)
class Viewer:
    """One page request: the caller, the session acting as them, and their CSRF secret."""

    request: Request
    session: Session
    actor: Actor
    auth: Authenticated

    def may(self, command: str, resource: str) -> bool:
        """Would RBAC allow ``command`` on ``resource``? (decided, not logged: nothing is done)"""
        action = COMMAND_ACTIONS[command]
        return bool(self.session.access.rbac.decide(self.actor, action, resource).allowed)

    def render(self, template: str, **context: Any) -> Response:
        return page(template, user=self.actor.label, csrf=self.auth.csrf, **context)


def view(command: str, resource: Callable[[Request], str]) -> Callable[..., Any]:
    """Wrap a page: authenticate, ``guard(command, resource)``, render errors as pages."""

    def wrap(handler: Callable[[Viewer], Response]) -> Callable[[Request], Response]:
        @functools.wraps(handler)
        def run(request: Request) -> Response:
            action = COMMAND_ACTIONS[command]
            where, bad = checked(request, resource)
            try:
                found = caller(request, action, where)
            except Unauthenticated:
                back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return login_page(401, notice="Log in to see this page.", back=back)
            except AuditError as exc:
                return error_page(exc)
            if bad is not None:
                refuse(request, found, action, bad)
                return error_page(bad, user=found.actor.label)
            session = service_of(request).session(found.actor)
            try:
                actor = session.guard(command, where)
                return handler(Viewer(request, session, actor, found))
            except AuditError as exc:
                return error_page(exc, user=found.actor.label)
            finally:
                session.close()

        return run

    return wrap


def requested(request: Request) -> str:
    """What a request asked for, as the log names it before its path is checked (a name that is
    not plain is refused, and that refusal logged, only once the caller is known)."""
    return "portal:" + ascii(request.url.path)[1:-1][:300]


def checked(request: Request, resource: Callable[[Request], str]) -> tuple[str, AuditError | None]:
    """The resource a request names, or (when its path or query is not plain) the path asked
    for and the error to answer once the caller is known and the refusal logged."""
    try:
        return resource(request), None
    except AuditError as exc:
        return requested(request), exc


def refuse(request: Request, found: Authenticated, action: str, exc: AuditError) -> None:
    """Log a request refused for its path or query (a name that is not plain, no version)."""
    reason = f"refused: {exc.message}"[:1000]
    service_of(request).log(found.actor, action, requested(request), "deny", reason)


# --- resources and bundles -------------------------------------------------------------------


def _name(request: Request) -> str:
    name = str(request.path_params.get("name", ""))
    return check_name(name, "system name", hint="pick a system from the list at /portal/")


def _version(request: Request) -> int:
    return int(request.path_params["version"])


def _report(request: Request) -> str:
    return f"report:{_name(request)}/v{_version(request)}"


def _query_version(request: Request, field: str) -> int:
    raw = request.query_params.get(field, "")
    if not raw.isdigit() or not 0 < int(raw) < 10**9:
        raise InputError(
            f"query field {field!r} is {raw!r}, not a version number",
            hint="pick two versions in the form on the system's page",
        )
    return int(raw)


def _diff_resource(request: Request) -> str:
    name = _name(request)
    a, b = _query_version(request, "a"), _query_version(request, "b")
    return f"report:{name}/v{a},report:{name}/v{b}"


def _bundle(session: Session, name: str, version: int) -> Any:
    from ..bundles import Bundle

    folder = session.cwd / "reports" / name / f"v{version}"
    if not (folder / "report.json").is_file():
        raise NotFound(f"there is no report {name} v{version}", hint="see /portal/ for the list")
    return Bundle.open(folder)


@dataclass(frozen=True)
class Approval:
    by: str
    at: str
    report_id: str | None


def approvals(session: Session) -> dict[str, list[Approval]]:
    """Recorded approvals by report resource, from the access log (the entries the approval
    itself writes, which carry the signed record's digest; not the guard's decisions)."""
    from ..pipeline.approval import publisher

    found: dict[str, list[Approval]] = {}
    for e in session.access.log.entries_with_action(APPROVE_ACTION):  # pre-filtered: fast
        if e.decision == "allow" and e.details and "approval_sha256" in e.details:
            seen = Approval(publisher(e), e.time, e.details.get("report_id"))
            found.setdefault(e.resource, []).append(seen)
    return found


def _versions(session: Session, name: str, approved: dict[str, list[Approval]]) -> list[Any]:
    """version_rows (cached by the API: copied, never changed) with each one's approvals."""
    return [
        {
            **row,
            "approvals": [
                a
                for a in approved.get(f"report:{name}/v{row['version']}", [])
                if a.report_id == row.get("report_id")
            ],
        }
        for row in version_rows(session, name)
    ]


# --- pages -----------------------------------------------------------------------------------


@view("report list", lambda r: "report:*")
def systems(v: Viewer) -> Response:
    from ..bundles import BundleStore

    approved = approvals(v.session)
    store = BundleStore(v.session.cwd / "reports")
    found = [{"name": s, "versions": _versions(v.session, s, approved)} for s in store.systems()]
    return v.render("systems.html", systems=found)


@view("report list", lambda r: f"report:{_name(r)}")
def system(v: Viewer) -> Response:
    name = _name(v.request)
    rows = _versions(v.session, name, approvals(v.session))
    if not rows:
        raise NotFound(f"there is no audited system {name!r}", hint="see /portal/ for the list")
    return v.render("system.html", name=name, versions=rows)


@view("report diff", _diff_resource)
def diff(v: Viewer) -> Response:
    from ..report.diff import diff_reports

    name = _name(v.request)
    a, b = _query_version(v.request, "a"), _query_version(v.request, "b")
    old, new = _bundle(v.session, name, a).report, _bundle(v.session, name, b).report
    d = diff_reports(old, new)
    sections = [
        ("Outcome", [d.outcome.text()] if d.outcome else []),
        ("Model, data and policy", [c.text() for c in d.inputs]),
        ("Run settings", [c.text() for c in d.settings]),
        ("Rules", [c.text() for c in d.rules]),
        ("Fairness", [c.text() for c in d.fairness]),
        ("Performance", [c.text() for c in d.performance]),
        ("Explanations (mean |SHAP| per feature)", [c.text() for c in d.explanations]),
        ("Drift", [c.text() for c in d.drift]),
        ("Data profile", [c.text() for c in d.data]),
    ]
    return v.render(
        "diff.html",
        name=name,
        a=a,
        b=b,
        old=old,
        new=new,
        sections=sections,
        empty=d.is_empty,
        choices=[row["version"] for row in version_rows(v.session, name)],
    )


@view("report show", _report)
def report(v: Viewer) -> Response:
    from ..digest import raw_public_key
    from ..pipeline.anchoring import verify_published
    from ..signing.dsse import b64encode

    name, version, where = _name(v.request), _version(v.request), _report(v.request)
    bundle = _bundle(v.session, name, version)
    r = bundle.report
    verification = None
    may_verify = v.may("verify", where)
    if may_verify:
        v.session.guard("verify", where)
        verification = verify_published(v.session, bundle.path, rollback_check=False)
    keys = v.session.trust().keyring.public("bundle")
    approved = [a for a in approvals(v.session).get(where, []) if a.report_id == r.report_id]
    return v.render(
        "report.html",
        name=name,
        version=version,
        r=r,
        files=[f for f in BUNDLE_FILES if _plain(bundle.path / f)],
        base=f"/api/v1/reports/{name}/v{version}/files/",
        verification=verification,
        may_verify=may_verify,
        bundle_keys={kid: b64encode(raw_public_key(k)) for kid, k in keys.items()},
        approvals=approved,
        may_approve=v.may("approve", where),
        may_history=v.may("log show", where),
    )


def _plain(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


@view("log show", _report)
def history(v: Viewer) -> Response:
    name, version, where = _name(v.request), _version(v.request), _report(v.request)
    log = v.session.access.log
    entries = [
        e
        for e in log.entries(LogFilter(resource=f"*{where}*"))
        if where in e.resource.split(",")  # not v10 for v1
    ]
    artifacts = []
    folder = v.session.cwd / "reports" / name / f"v{version}"
    if (folder / "report.json").is_file():
        subject = _bundle(v.session, name, version).report.subject
        inputs: list[tuple[Literal["model", "dataset"], Any]] = [
            ("model", subject.model),
            ("dataset", subject.dataset),
        ]
        for kind, a in inputs:
            if a is None or a.source != "registry" or a.version is None:
                continue
            ref = f"{kind}:{a.name}@{a.version}"
            if v.may("registry show", ref):
                v.session.guard("registry show", ref)
                try:
                    artifacts.append(v.session.registry().get(kind, a.name, a.version))
                except InputError:
                    continue  # no longer registered: the log above still says what happened
    elif not entries:
        raise NotFound(f"there is no report {name} v{version}", hint="see /portal/ for the list")
    return v.render(
        "history.html",
        name=name,
        version=version,
        count=len(entries),
        rows=history_rows(entries),
        artifacts=artifacts,
    )


@dataclass(frozen=True)
class HistoryRow:
    """Consecutive log entries alike but for their time (one page view reads several files)."""

    first: Entry
    last: Entry
    count: int

    @property
    def actor(self) -> str:
        return LABEL_PREFIX.get(self.first.actor_source, "") + self.first.actor


def history_rows(entries: list[Entry]) -> list[HistoryRow]:
    def key(e: Entry) -> tuple[str, ...]:
        return (e.actor_source, e.actor, e.action, e.decision, e.reason)

    rows: list[HistoryRow] = []
    for e in entries:
        if rows and key(rows[-1].last) == key(e) and not e.details:
            rows[-1] = HistoryRow(rows[-1].first, e, rows[-1].count + 1)
        else:
            rows.append(HistoryRow(e, e, 1))
    return rows


async def approve(request: Request) -> Response:
    """POST from the report page's form: CSRF checked (a refusal is logged), then the library's
    approve, which guards ``approve`` itself (one logged decision) and verifies the bundle."""
    where, bad = checked(request, _report)
    try:
        found = caller(request, APPROVE_ACTION, where)
    except Unauthenticated:
        back = request.url.path.removesuffix("/approve")  # the report page
        return login_page(401, notice="Log in to approve a report.", back=back)
    except AuditError as exc:
        return error_page(exc)
    if bad is not None:
        await run_in_threadpool(refuse, request, found, APPROVE_ACTION, bad)
        return error_page(bad, user=found.actor.label)
    form = await request.form(max_files=0, max_fields=4)
    csrf, note = str(form.get("csrf") or ""), str(form.get("note") or "")[:2000]
    return await run_in_threadpool(_approve, request, found, where, csrf, note)


def _approve(request: Request, found: Authenticated, where: str, csrf: str, note: str) -> Response:
    from ..pipeline import approve as approve_bundle

    service = service_of(request)
    try:
        other = cross_site(request)
        if other is not None or (found.via == "cookie" and not csrf_ok(found.csrf, csrf)):
            reason = (
                "CSRF check failed: the form did not carry this session's secret"
                if other is None
                else f"CSRF check failed: posted from another site ({other[:200]})"
            )
            service.log(found.actor, APPROVE_ACTION, where, "deny", reason)
            raise AccessDenied(reason, hint="open the report page again and use its form")
        name, version = _name(request), _version(request)
        session = service.session(found.actor)
        try:
            _bundle(session, name, version)
            approve_bundle(session, session.cwd / "reports" / name / f"v{version}", note=note)
        finally:
            session.close()
    except AuditError as exc:
        return error_page(exc, user=found.actor.label)
    return RedirectResponse(f"/portal/reports/{name}/v{version}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/portal/", systems, methods=["GET"]),
        Route("/portal/systems/{name}", system, methods=["GET"]),
        Route("/portal/systems/{name}/diff", diff, methods=["GET"]),
        Route("/portal/reports/{name}/v{version:int}", report, methods=["GET"]),
        Route("/portal/reports/{name}/v{version:int}/history", history, methods=["GET"]),
        Route("/portal/reports/{name}/v{version:int}/approve", approve, methods=["POST"]),
    ]
