"""The auditor portal: server-rendered pages over the same service, no JavaScript needed.

Login takes a token (``audit token issue --audience audit-serve`` or the OIDC issuer's); the
service then sets its own session cookie (HttpOnly, SameSite=Strict, 8 hours) and every form
carries the session's CSRF secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import AccessDenied
from .api import service_of
from .auth import COOKIE, SESSION_HOURS
from .service import Unauthenticated

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context), status_code=status)


async def login_form(request: Request) -> Response:
    return page("login.html", error=None)


async def login(request: Request) -> Response:
    service = service_of(request)
    form = await request.form(max_files=0, max_fields=4)
    token = str(form.get("token") or "").strip()
    try:
        if not token:
            raise Unauthenticated("paste a token to log in")
        auth = service.authenticator()
        actor = auth.from_bearer(token)
    except (Unauthenticated, AccessDenied) as exc:
        service.log_refused("portal:login", "portal", f"login refused: {exc.message}")
        return page("login.html", status=401, error=exc.message)
    service.log(actor, "portal:login", "portal", "allow", f"portal session opened ({actor.source})")
    value, _csrf = auth.session_cookie(actor)
    response = RedirectResponse("/portal/", status_code=303)
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
    response = RedirectResponse("/portal/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def routes() -> list[Route]:
    return [
        Route("/portal/login", login_form, methods=["GET"]),
        Route("/portal/login", login, methods=["POST"]),
        Route("/portal/logout", logout, methods=["POST"]),
    ]
