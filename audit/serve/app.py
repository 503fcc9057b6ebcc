"""The ASGI application and the listeners ``audit serve`` runs it on (uvicorn).

Listeners: a Unix socket (callers identified by the kernel's peer credentials) and/or TCP
(HTTPS with ``--tls-cert/--tls-key``; plain HTTP only on a loopback address, since bearer tokens
would otherwise cross the network in the clear).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import InputError
from .config import ServeConfig
from .service import Service

#: sent with every response: no framing by other sites, no sniffing, no referrer leaks
SECURITY_HEADERS = {
    b"x-frame-options": b"SAMEORIGIN",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS.items() if k not in have]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(config: ServeConfig, notify: Callable[[str], None] | None = None) -> Starlette:
    """The service's app: the JSON API and the auditor portal over one :class:`Service`."""
    from starlette.routing import Route

    from . import api, jobs, portal

    service = Service(config, notify)
    app = Starlette(
        routes=[
            *api.routes(),
            Route("/api/v1/cli", jobs.cli_job, methods=["POST"]),
            *portal.routes(),
        ],
        middleware=[Middleware(SecurityHeaders)],
    )
    app.state.service = service
    return app


@dataclass(frozen=True)
class Listeners:
    socket: Path | None = None
    host: str | None = None
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def check(self) -> None:
        if self.socket is None and self.host is None:
            raise InputError(
                "audit serve needs a listener", hint="pass --socket PATH and/or --host H --port P"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InputError("--tls-cert and --tls-key go together")
        if self.host is not None and self.tls_cert is None and not _loopback(self.host):
            raise InputError(
                f"--host {self.host} without TLS would send tokens in the clear",
                hint="pass --tls-cert and --tls-key, or listen on 127.0.0.1",
            )
        if self.socket is not None and not self.socket.parent.is_dir():
            raise InputError(
                f"--socket {self.socket}: the folder {self.socket.parent} does not exist",
                hint="create it (owned by the service account), or give another path",
            )
        if self.tls_cert is not None and self.tls_key is not None:
            import ssl

            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                    self.tls_cert, self.tls_key
                )
            except (OSError, ssl.SSLError) as exc:
                raise InputError(
                    f"--tls-cert {self.tls_cert} / --tls-key {self.tls_key}: cannot load them "
                    f"as a PEM certificate chain and its private key ({exc})",
                    hint="give the server certificate (chain) and its unencrypted key, PEM",
                ) from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(app: Any, listeners: Listeners, *, log_level: str = "warning") -> None:
    """Run ``app`` on every listener until interrupted."""
    import uvicorn

    from .auth import PeerCredProtocol

    listeners.check()
    configs = []
    if listeners.socket is not None:
        if listeners.socket.exists() or listeners.socket.is_symlink():
            listeners.socket.unlink()
        configs.append(
            uvicorn.Config(
                app,
                uds=str(listeners.socket),
                http=PeerCredProtocol,
                log_level=log_level,
                lifespan="off",
                access_log=False,
            )
        )
    if listeners.host is not None:
        configs.append(
            uvicorn.Config(
                app,
                host=listeners.host,
                port=listeners.port,
                http=PeerCredProtocol,
                log_level=log_level,
                lifespan="off",
                access_log=False,
                ssl_certfile=None if listeners.tls_cert is None else str(listeners.tls_cert),
                ssl_keyfile=None if listeners.tls_key is None else str(listeners.tls_key),
            )
        )
    servers = [uvicorn.Server(c) for c in configs]

    async def main() -> None:
        await asyncio.gather(*(s.serve() for s in servers))

    try:
        asyncio.run(main())
    finally:
        if listeners.socket is not None and os.path.exists(listeners.socket):
            os.unlink(listeners.socket)
