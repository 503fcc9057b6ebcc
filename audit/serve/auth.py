"""Who is calling: the kernel's peer credentials of a Unix socket, a signed token, an OIDC token,
or the portal's session cookie — never a header the caller chooses.

- **Unix socket**: :class:`PeerCredProtocol` reads ``SO_PEERCRED`` when the connection is made
  and puts ``(pid, uid, gid)`` into each request's scope under ``audit.peer``. The caller is the
  OS account of that uid, with that account's groups: who the kernel says, whatever the request
  claims.
- **Bearer token** (``Authorization: Bearer ...``): an ``audit token issue`` token whose audience
  is the service's (``audit-serve`` by default; a CLI token, audience ``audit``, is refused), or an
  OIDC token from the one pinned issuer, checked against that issuer's key set file.
- **Portal cookie**: after a login with one of those tokens, the service sets an HttpOnly,
  SameSite=Strict cookie holding its own short-lived token (signed by the service's token key,
  audience ``<audience>/portal``) and a CSRF secret that every form must echo.

Anything else is anonymous: refused with 401, and the refusal is logged.
"""

from __future__ import annotations

import grp
import hmac
import json
import os
import pwd
import socket
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..access import Actor, actor_from_token
from ..errors import AccessDenied, InputError
from .config import OidcConfig

ANONYMOUS = Actor(user="anonymous", uid=-1, source="anonymous")
COOKIE = "audit_session"
SESSION_HOURS = 8
#: asymmetric algorithms an OIDC issuer may sign with (never HS*, never none)
OIDC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


class PeerCredProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus the kernel's credentials of a Unix-socket peer."""

    def connection_made(self, transport: Any) -> None:  # noqa: D401 - uvicorn's hook
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family == socket.AF_UNIX:
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            self.app = _WithPeer(self.app, struct.unpack("3i", raw))
        super().connection_made(transport)


class _WithPeer:
    def __init__(self, app: Any, creds: tuple[int, int, int]) -> None:
        self.app = app
        self.creds = creds

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "audit.peer": self.creds}
        await self.app(scope, receive, send)


def peer_actor(uid: int) -> Actor:
    """The OS account of ``uid`` with its groups (from the password and group databases)."""
    try:
        entry = pwd.getpwuid(uid)
        name, gid = entry.pw_name, entry.pw_gid
        gids = os.getgrouplist(name, gid)
    except KeyError:
        return Actor(user=f"uid:{uid}", uid=uid, source="os")
    groups = []
    for g in dict.fromkeys(gids):
        try:
            groups.append(grp.getgrgid(g).gr_name)
        except KeyError:
            groups.append(f"gid:{g}")
    return Actor(user=name, uid=uid, source="os", groups=tuple(groups))


@dataclass(frozen=True)
class Authenticated:
    """The caller, how they proved it, and (cookie sessions) the CSRF secret forms must echo."""

    actor: Actor
    via: str  # "peer", "token", "oidc", "cookie"
    csrf: str | None = None


class Authenticator:
    """Checks a request's credentials against the service's trust roots.

    ``token_keys`` are the trust configuration's token keys (public), ``session_key`` the
    service's token key (signs portal cookies).
    """

    def __init__(
        self,
        *,
        audience: str,
        token_keys: Mapping[str, Any],
        session_key: Ed25519PrivateKey,
        oidc: OidcConfig | None = None,
    ) -> None:
        self.audience = audience
        self.token_keys = dict(token_keys)
        self.session_key = session_key
        self.oidc = oidc
        self._oidc_keys = load_jwks(oidc) if oidc is not None else None

    # --- bearer tokens -----------------------------------------------------------------------

    def from_bearer(self, token: str) -> Actor:
        """The actor a bearer token names (AccessDenied saying why it is refused)."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise AccessDenied(f"token refused: it is not a JSON Web Token ({exc})") from None
        issuer = unverified.get("iss")
        if self.oidc is not None and issuer == self.oidc.issuer:
            return self._from_oidc(token)
        if issuer != "audit":
            raise AccessDenied(
                f"token refused: its issuer {issuer!r} is not trusted by this service",
                hint="use a token from `audit token issue --audience "
                f"{self.audience}` or from the configured OIDC issuer",
            )
        return actor_from_token(token, self.token_keys, audience=self.audience)

    def _from_oidc(self, token: str) -> Actor:
        assert self.oidc is not None and self._oidc_keys is not None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AccessDenied(f"OIDC token refused: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in OIDC_ALGORITHMS:
            raise AccessDenied(
                f"OIDC token refused: algorithm {alg!r} is not an accepted asymmetric one"
            )
        key = self._oidc_keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise AccessDenied(
                f"OIDC token refused: key {kid!r} is not in the issuer's key set ({self.oidc.jwks})"
            )
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.oidc.audience,
                issuer=self.oidc.issuer,
                leeway=30,
                options={"require": ["exp", "iat", "iss", "aud", self.oidc.subject_claim]},
            )
        except jwt.InvalidAudienceError:
            raise AccessDenied(
                f"OIDC token refused: it is not meant for this service (audience "
                f"{self.oidc.audience!r})"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise AccessDenied(f"OIDC token refused: {exc}") from None
        subject = claims[self.oidc.subject_claim]
        if not isinstance(subject, str) or not subject or len(subject) > 256:
            raise AccessDenied(
                f"OIDC token refused: claim {self.oidc.subject_claim!r} is not a name"
            )
        return Actor(user=subject, uid=-1, source="oidc", token_id=claims.get("jti"))

    # --- portal sessions ---------------------------------------------------------------------

    def session_cookie(
        self, actor: Actor, now: datetime | None = None, *, until: datetime | None = None
    ) -> tuple[str, str]:
        """A signed cookie value for ``actor`` and the CSRF secret bound to it, valid for
        :data:`SESSION_HOURS` or until ``until`` (the login token's expiry), whichever is first."""
        at = (now or datetime.now(UTC)).replace(microsecond=0)
        expires = at + timedelta(hours=SESSION_HOURS)
        if until is not None:
            expires = min(expires, until)
        csrf = uuid.UUID(bytes=os.urandom(16)).hex
        claims = {
            "iss": "audit-serve",
            "aud": f"{self.audience}/portal",
            "sub": actor.user,
            "src": actor.source,
            "uid": actor.uid,
            "grp": list(actor.groups),
            "roles": None if actor.roles is None else list(actor.roles),
            "tid": actor.token_id,
            "csrf": csrf,
            "iat": at,
            "exp": expires,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.session_key, algorithm="EdDSA"), csrf

    def from_cookie(self, value: str) -> Authenticated:
        try:
            claims = jwt.decode(
                value,
                self.session_key.public_key(),
                algorithms=["EdDSA"],
                audience=f"{self.audience}/portal",
                issuer="audit-serve",
                options={"require": ["exp", "iat", "sub", "src", "csrf"]},
            )
        except jwt.InvalidTokenError as exc:
            raise AccessDenied(f"session refused: {exc}", hint="log in again") from None
        roles = claims.get("roles")
        actor = Actor(
            user=str(claims["sub"]),
            uid=int(claims.get("uid", -1)),
            source=claims["src"],
            groups=tuple(claims.get("grp") or ()),
            roles=None if roles is None else tuple(roles),
            token_id=claims.get("tid"),
        )
        return Authenticated(actor, "cookie", str(claims["csrf"]))


def expiry(token: str) -> datetime | None:
    """The ``exp`` of a token that has been verified (None if it has none)."""
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    return datetime.fromtimestamp(int(exp), UTC) if isinstance(exp, int | float) else None


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def load_jwks(oidc: OidcConfig) -> dict[str, jwt.PyJWK]:
    try:
        raw = oidc.jwks.read_text(encoding="utf-8")
        keyset = jwt.PyJWKSet.from_json(raw)
    except (OSError, ValueError, json.JSONDecodeError, jwt.PyJWKSetError) as exc:
        raise InputError(
            f"{oidc.jwks}: cannot read the OIDC issuer's key set: {exc}",
            hint="save the issuer's jwks_uri document (a JSON Web Key Set) to this file",
        ) from None
    keys = {k.key_id: k for k in keyset.keys if k.key_id}
    if not keys:
        raise InputError(f"{oidc.jwks}: the key set has no key with a 'kid'")
    return keys
