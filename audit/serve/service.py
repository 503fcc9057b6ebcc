"""The running service: its folder, who it trusts, and one :class:`Session` per request.

The service process is the only one that reads the home (registry, keys, rbac.yaml, access log);
callers reach it through :mod:`audit.serve.api` and :mod:`audit.serve.portal`. Every request is
authenticated (:mod:`audit.serve.auth`), then authorised by RBAC and logged through the same
:meth:`Session.guard` the CLI uses, with the authenticated caller as the actor.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any, Literal

from ..access import Actor
from ..errors import AccessDenied, AuditError
from ..pipeline.session import Session
from .auth import ANONYMOUS, COOKIE, Authenticated, Authenticator
from .config import ServeConfig


class Unauthenticated(AuditError):
    """No credentials, or credentials that do not verify (HTTP 401)."""

    exit_code = 4


class Service:
    """Everything a request handler needs from the service."""

    def __init__(self, config: ServeConfig, notify: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.notify = notify or (lambda message: None)
        self._lock = threading.Lock()
        self._auth: Authenticator | None = None
        self._auth_stamp: tuple[int, int] | None = None
        self.job_slots = asyncio.Semaphore(config.jobs)
        # opens (and on first start initialises) the home: RBAC, log, trust configuration; a
        # database that cannot be reached stops the start before any folder is made
        own = Session(
            config.home, {}, cwd=config.folder, notify=self.notify, database=config.database
        )
        own.trust()
        own.close()
        for folder in (config.reports, config.job_root):
            folder.mkdir(exist_ok=True)
        os.chmod(config.job_root, 0o700)
        self.authenticator()

    def session(self, actor: Actor) -> Session:
        """A session acting as ``actor`` on the service's home (one per request)."""
        return Session(
            self.config.home,
            {},
            cwd=self.config.folder,
            actor=actor,
            database=self.config.database,
        )

    def authenticator(self) -> Authenticator:
        """The authenticator, rebuilt when the trust configuration changes (a rotated key)."""
        from ..pipeline.trust import token_key
        from ..signing.trust import TRUST_FILE

        st = os.stat(self.config.home / TRUST_FILE)
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._auth is None or stamp != self._auth_stamp:
                session = Session(
                    self.config.home, {}, cwd=self.config.folder, database=self.config.database
                )
                keys = session.trust().keyring.public("token")
                session.access.log.close()
                self._auth = Authenticator(
                    audience=self.config.audience,
                    token_keys=keys,
                    session_key=token_key(self.config.home),
                    oidc=self.config.oidc,
                )
                self._auth_stamp = stamp
            return self._auth

    def authenticate(self, scope: Any, headers: Any, cookies: Any) -> Authenticated:
        """The caller of one request (Unauthenticated: no or bad credentials)."""
        auth = self.authenticator()
        header = headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated(
                    "the Authorization header is not 'Bearer <token>'",
                    hint=f"send a token from `audit token issue --audience {self.config.audience}`",
                )
            try:
                actor = auth.from_bearer(token.strip())
            except AccessDenied as exc:
                raise Unauthenticated(exc.message, hint=exc.hint) from None
            return Authenticated(actor, "oidc" if actor.source == "oidc" else "token")
        peer = scope.get("audit.peer")
        if peer is not None:
            from .auth import peer_actor

            return Authenticated(peer_actor(int(peer[1])), "peer")
        cookie = cookies.get(COOKIE)
        if cookie:
            try:
                return auth.from_cookie(cookie)
            except AccessDenied as exc:
                raise Unauthenticated(exc.message, hint=exc.hint) from None
        raise Unauthenticated(
            "no credentials: connect through the service's Unix socket, or send a bearer token",
            hint=f"audit token issue --audience {self.config.audience} (then "
            "AUDIT_TOKEN=... audit --server URL ...)",
        )

    def log_refused(self, action: str, resource: str, reason: str) -> None:
        """Log a request refused before any actor could be established (401)."""
        self.log(ANONYMOUS, action, resource, "deny", reason)

    def log(
        self,
        actor: Actor,
        action: str,
        resource: str,
        decision: Literal["allow", "deny"],
        reason: str,
    ) -> None:
        """Append one entry that no RBAC decision made (a refused login, an opened session)."""
        session = self.session(actor)
        ctx = session.access
        try:
            ctx.log.append(
                actor=actor,
                action=action,
                resource=resource,
                decision=decision,
                reason=reason,
                rbac_sha256=ctx.rbac.sha256,
            )
        finally:
            ctx.log.close()
