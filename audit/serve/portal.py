"""The auditor portal: server-rendered pages over the same service, no JavaScript needed.

Login takes a token (``audit token issue --audience audit-serve`` or the OIDC issuer's); the
service then sets its own session cookie (HttpOnly, SameSite=Strict, 8 hours) and every form
carries the session's CSRF secret. The pages themselves are :mod:`audit.serve.views`; this
module renders them (Jinja2, autoescaped), serves the stylesheet and the one script, and sends
every portal page with a Content-Security-Policy that allows only this origin's own files.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import AccessDenied, AuditError, InputError
from .api import STATUS, service_of
from .auth import ANONYMOUS, COOKIE, SESSION_HOURS, expiry
from .service import Unauthenticated

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
#: the files under static/ the portal serves, with their media types
STATIC_FILES = {
    "portal.css": "text/css; charset=utf-8",
    "verify.js": "text/javascript; charset=utf-8",
}
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))

#: portal pages load only this origin's stylesheet and script, frame only its bundle files
#: (which carry their own sandboxing CSP), post forms only to it, and are never framed
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
#: ``same-origin`` (not the service's ``no-referrer``) so that the browser names this origin in
#: the Origin header of the portal's own form posts (with no-referrer it sends ``null``, which a
#: page on any other site can send too); no referrer ever leaves for another site
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


class NotFound(InputError):
    """A system or report version that does not exist (HTTP 404, exit 2 on the CLI)."""


def status_of(exc: AuditError) -> int:
    """The HTTP status of an error: 404 for what does not exist, else by its exit code."""
    if isinstance(exc, NotFound):
        return 404
    return STATUS.get(exc.exit_code, 400)


def page(template: str, /, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` (autoescaped) with the portal's headers."""
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(exc: AuditError, status: int | None = None, **context: Any) -> HTMLResponse:
    """The error page for ``exc``: its message and hint, never a traceback."""
    code = status or status_of(exc)
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict"}
    return page(
        "error.html",
        status=code,
        title=titles.get(code, "Error"),
        message=exc.message,
        hint=exc.hint,
        code=code,
        **context,
    )


def login_page(
    status: int = 200, error: str | None = None, notice: str | None = None, back: str = ""
) -> Response:
    """The login form; ``back`` is the portal page to return to after logging in."""
    response = page("login.html", status=status, error=error, notice=notice, back=back_to(back))
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="audit"'
    return response


def cross_site(request: Request) -> str | None:
    """The other site a browser says a POST comes from (its ``Origin`` header), or None.

    Defence in depth beside the SameSite cookie and the CSRF field, and the only defence of the
    login form itself (login CSRF: another site logging the browser in as someone else). Clients
    that send no Origin (the CLI, curl) are not browsers on another site; ``null`` (an opaque
    origin: a sandboxed frame, a page with no-referrer) is another site."""
    origin = request.headers.get("origin")
    if origin is None:
        return None
    own = f"{request.url.scheme}://{request.url.netloc}"
    return None if origin == own else origin


def back_to(target: str) -> str:
    """``target`` if it is a path on this portal, else the portal's front page: a login link
    can never send the browser to another site (``//evil.example``, ``/portal/\\evil``)."""
    ok = (
        target.startswith("/portal/")
        and "//" not in target
        and "\\" not in target
        and target.isprintable()
        and len(target) < 2000
        and not target.startswith("/portal/login")
    )
    return target if ok else "/portal/"


async def login_form(request: Request) -> Response:
    return login_page(back=str(request.query_params.get("back", "")))


async def login(request: Request) -> Response:
    service = service_of(request)
    form = await request.form(max_files=0, max_fields=4)
    token = str(form.get("token") or "").strip()
    back = str(form.get("back") or "")
    try:
        if (other := cross_site(request)) is not None:
            raise Unauthenticated(f"a login form posted from another site ({other[:200]})")
        if not token:
            raise Unauthenticated("paste a token to log in")
        auth = service.authenticator()
        actor = auth.from_bearer(token)
    except (Unauthenticated, AccessDenied) as exc:
        service.log_refused("portal:login", "portal", f"login refused: {exc.message}")
        return login_page(401, error=exc.message, back=back)
    service.log(actor, "portal:login", "portal", "allow", f"portal session opened ({actor.source})")
    # the session ends when the token it was opened with does, at the latest
    value, _csrf = auth.session_cookie(actor, until=expiry(token))
    response = RedirectResponse(back_to(back), status_code=303)
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="strict",
        secure=service.config.secure_cookies,
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    """Close the session: refused (and logged) when posted from another site, logged when done."""
    service = service_of(request)
    actor = ANONYMOUS
    if cookie := request.cookies.get(COOKIE):
        with contextlib.suppress(AccessDenied):  # an expired cookie: logged as anonymous
            actor = service.authenticator().from_cookie(cookie).actor
    if (other := cross_site(request)) is not None:
        reason = f"logout posted from another site ({other[:200]})"
        await run_in_threadpool(service.log, actor, "portal:logout", "portal", "deny", reason)
        return error_page(AccessDenied(reason, hint="use the portal's own Log out button"))
    await run_in_threadpool(
        service.log, actor, "portal:logout", "portal", "allow", "portal session closed"
    )
    response = RedirectResponse("/portal/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def static(request: Request) -> Response:
    """The portal's stylesheet and script (public: the login page needs the stylesheet)."""
    name = str(request.path_params["file"])
    if name not in STATIC_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    body = (STATIC / name).read_bytes()
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=STATIC_FILES[name], headers=headers)


def routes() -> list[Route]:
    from . import views

    return [
        Route("/portal/login", login_form, methods=["GET"]),
        Route("/portal/login", login, methods=["POST"]),
        Route("/portal/logout", logout, methods=["POST"]),
        Route("/portal/static/{file}", static, methods=["GET"]),
        *views.routes(),
    ]
