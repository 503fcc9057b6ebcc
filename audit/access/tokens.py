"""Signed tokens for service identities (CI runners): EdDSA (Ed25519) JSON Web Tokens.

``audit token issue --user ci-bot --roles ci --expires 7d`` signs ``{sub, roles, aud, iss, iat,
nbf, exp, jti}`` with a key from the keyring. Verification is strict, because a token replaces
the OS account as the actor:

- the algorithm is pinned to ``EdDSA`` (``alg: none``, HMAC and RSA tokens are refused before
  any key is used, so no algorithm-confusion attack applies);
- the key is chosen by the header's ``kid`` among *trusted* public keys only;
- ``exp``, ``iat``, ``sub`` and ``aud`` are required; expiry, not-before and audience are checked;
- the lifetime ``exp - iat`` may not exceed ``max_lifetime``, and neither may ``exp - now``
  (a token back-dated with an old ``iat`` gains nothing); an ``iat`` in the future is refused,
  ``nbf`` is honoured;
- the key must be a *token* key of the administrator-signed trust configuration
  (``audit.signing.trust``): a key from the caller's environment or a bundle key never is.

A token's ``roles`` can only narrow the roles the RBAC file binds to ``services: {sub: ...}``;
see :mod:`audit.access.rbac`. Tokens are bearer secrets: whoever holds one acts as its subject
until it expires, so keep lifetimes short and store them as CI secrets.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import AccessDenied, InputError
from .identity import Actor
from .keys import TrustedKeys, key_id, keyring

ALGORITHM = "EdDSA"
AUDIENCE = "audit"
ISSUER = "audit"
MAX_LIFETIME = timedelta(days=90)
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class TokenClaims:
    """The verified content of a token."""

    subject: str
    roles: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    token_id: str
    key_id: str


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``7d``, ``2w`` -> timedelta (for ``--expires``)."""
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise InputError(
            f"invalid duration '{text}'", hint="write a number and a unit: 90s, 15m, 12h, 7d, 2w"
        )
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def issue_token(
    key: Ed25519PrivateKey,
    *,
    subject: str,
    roles: Sequence[str],
    expires_in: timedelta,
    audience: str = AUDIENCE,
    now: datetime | None = None,
    max_lifetime: timedelta = MAX_LIFETIME,
) -> str:
    """Sign a token that lets a service ``subject`` act with (at most) ``roles``."""
    if not _SUBJECT.match(subject):
        raise InputError(
            f"invalid token user '{subject}'",
            hint="use letters, digits and . _ @ - (at most 128 characters), e.g. ci-bot",
        )
    if not roles:
        raise InputError("a token needs at least one role", hint="pass --roles, e.g. --roles ci")
    if expires_in <= timedelta(0) or expires_in > max_lifetime:
        raise InputError(
            f"token lifetime {expires_in} is outside (0, {max_lifetime}]",
            hint="pass a shorter --expires, e.g. 7d",
        )
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "aud": audience,
        "roles": list(dict.fromkeys(roles)),
        "iat": issued,
        "nbf": issued,
        "exp": issued + expires_in,
        "jti": str(uuid.UUID(bytes=os.urandom(16), version=4)),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": key_id(key)})


def verify_token(
    token: str,
    trusted_keys: TrustedKeys,
    *,
    audience: str = AUDIENCE,
    now: datetime | None = None,
    leeway: timedelta = timedelta(seconds=30),
    max_lifetime: timedelta = MAX_LIFETIME,
) -> TokenClaims:
    """Check ``token`` strictly (see module doc); raise AccessDenied (exit 4) saying why not."""
    keys = keyring(trusted_keys)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise _refuse(f"it is not a JSON Web Token ({exc})") from None
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise _refuse(f"its algorithm is {alg!r}; only {ALGORITHM} (Ed25519) is accepted")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise _refuse(f"it is signed by key {kid!r}, which is not in the trusted keyring")
    at = now or datetime.now(UTC)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            leeway=leeway,
            options={
                "require": ["exp", "iat", "nbf", "sub", "aud", "iss", "jti"],
                "verify_exp": False,  # checked below against `at`, so tests need no clock
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise _refuse(f"it is not meant for this audience (expected {audience!r})") from None
    except jwt.InvalidSignatureError:
        raise _refuse("its signature does not verify (forged or altered)") from None
    except jwt.InvalidTokenError as exc:
        raise _refuse(str(exc)) from None
    issued = datetime.fromtimestamp(int(claims["iat"]), UTC)
    not_before = datetime.fromtimestamp(int(claims["nbf"]), UTC)
    expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
    if expires + leeway <= at:
        raise _refuse(f"it expired at {expires.isoformat()}", hint="issue a new token")
    if not_before - leeway > at:
        raise _refuse(f"it is not valid before {not_before.isoformat()}")
    if expires - issued > max_lifetime:
        raise _refuse(f"its lifetime {expires - issued} exceeds {max_lifetime}")
    if issued - leeway > at:
        raise _refuse(
            f"it claims to be issued at {issued.isoformat()}, in the future (back- or "
            "forward-dated)"
        )
    if expires - at > max_lifetime + leeway:
        raise _refuse(
            f"it is valid until {expires.isoformat()}, more than {max_lifetime} from now "
            "(lifetimes are measured from now, whatever its iat says)"
        )
    roles = claims.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise _refuse("its 'roles' claim is not a non-empty list of role names")
    subject = claims["sub"]
    if not isinstance(subject, str) or not _SUBJECT.match(subject):
        raise _refuse(f"its subject {subject!r} is not a valid service name")
    return TokenClaims(
        subject=subject,
        roles=tuple(roles),
        issued_at=issued,
        expires_at=expires,
        token_id=str(claims["jti"]),
        key_id=str(kid),
    )


def actor_from_token(
    token: str,
    trusted_keys: TrustedKeys,
    *,
    audience: str = AUDIENCE,
    now: datetime | None = None,
) -> Actor:
    """The service actor a valid token names (its roles narrow the service's bindings)."""
    claims = verify_token(token, trusted_keys, audience=audience, now=now)
    return Actor(
        user=claims.subject,
        uid=os.getuid(),
        source="token",
        roles=claims.roles,
        token_id=claims.token_id,
    )


def _refuse(why: str, hint: str | None = None) -> AccessDenied:
    return AccessDenied(
        f"token refused: {why}",
        hint=hint or "use a token issued by `audit token issue` with a trusted key",
    )
