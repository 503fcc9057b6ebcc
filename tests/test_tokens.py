"""EdDSA tokens: a valid token verifies (checked with a hand-written JWS parser too), and every
attack on it is refused: expiry, `alg: none`, HMAC confusion, a wrong or untrusted key, a wrong
audience, missing claims, an altered payload. A refused token is logged like any refusal."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.access import (
    AccessContext,
    AccessLog,
    Actor,
    Rbac,
    actor_from_token,
    authorize,
    issue_token,
    key_id,
    parse_duration,
    verify_token,
)
from audit.errors import AccessDenied, InputError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def good(key: Ed25519PrivateKey, **kw) -> str:
    args = {"subject": "ci-bot", "roles": ["ci"], "expires_in": timedelta(hours=1), "now": NOW}
    return issue_token(key, **{**args, **kw})


def refused(token: str, key: Ed25519PrivateKey, match: str, **kw) -> None:
    with pytest.raises(AccessDenied, match=match) as err:
        verify_token(token, [key.public_key()], now=kw.pop("now", NOW), **kw)
    assert err.value.exit_code == 4


def test_a_token_is_a_standard_eddsa_jws_with_the_claims_we_set(key) -> None:
    token = good(key)
    header, payload, sig = token.split(".")
    h, p = json.loads(unb64url(header)), json.loads(unb64url(payload))
    assert h == {"alg": "EdDSA", "typ": "JWT", "kid": key_id(key)}
    key.public_key().verify(unb64url(sig), f"{header}.{payload}".encode())  # raises if wrong
    assert (p["sub"], p["roles"], p["aud"], p["iss"]) == ("ci-bot", ["ci"], "audit", "audit")
    assert p["exp"] - p["iat"] == 3600 and p["iat"] == int(NOW.timestamp()) and p["jti"]
    claims = verify_token(token, [key.public_key()], now=NOW + timedelta(minutes=59))
    assert (claims.subject, claims.roles, claims.key_id) == ("ci-bot", ("ci",), key_id(key))
    assert claims.expires_at == NOW + timedelta(hours=1)


def test_expired_and_not_yet_valid_tokens_are_refused(key) -> None:
    token = good(key)
    refused(token, key, "expired", now=NOW + timedelta(hours=1, minutes=1))
    refused(token, key, "not valid before", now=NOW - timedelta(minutes=5))


def test_alg_none_is_refused(key) -> None:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": key_id(key)}).encode())
    payload = unb64url(good(key).split(".")[1])
    claims = json.loads(payload)
    claims["roles"] = ["admin"]
    token = f"{header}.{b64url(json.dumps(claims).encode())}."
    refused(token, key, "algorithm is 'none'")


def test_hmac_signed_with_the_public_key_is_refused(key) -> None:
    """The classic algorithm confusion: HS256 keyed with the (public) verification key."""
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key_id(key)}).encode())
    payload = good(key).split(".")[1]
    import hashlib
    import hmac

    sig = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    refused(f"{header}.{payload}.{b64url(sig)}", key, "only EdDSA")


def test_wrong_or_untrusted_key_is_refused(key) -> None:
    other = Ed25519PrivateKey.generate()
    refused(good(other), key, "not in the trusted keyring")
    # signed by another key but claiming the trusted key's id
    claims = jwt.decode(good(key), options={"verify_signature": False})
    forged = jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": key_id(key)})
    refused(forged, key, "signature does not verify")


def test_altered_payload_is_refused(key) -> None:
    header, payload, sig = good(key).split(".")
    claims = json.loads(unb64url(payload))
    claims["roles"] = ["admin"]
    refused(f"{header}.{b64url(json.dumps(claims).encode())}.{sig}", key, "signature")


def test_wrong_audience_is_refused(key) -> None:
    refused(good(key, audience="someone-else"), key, "audience")
    refused(good(key), key, "audience", audience="staging-audit")


def test_missing_expiry_and_overlong_lifetime_are_refused(key) -> None:
    claims = jwt.decode(good(key), options={"verify_signature": False})
    del claims["exp"]
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": key_id(key)})
    refused(token, key, "exp")
    long = {**claims, "exp": claims["iat"] + 200 * 86400}
    token = jwt.encode(long, key, algorithm="EdDSA", headers={"kid": key_id(key)})
    refused(token, key, "lifetime")
    with pytest.raises(InputError, match="lifetime"):
        good(key, expires_in=timedelta(days=400))


def test_lifetime_is_measured_from_now_and_a_forward_dated_iat_is_refused(key) -> None:
    """A token that dates its own ``iat`` 60 days ahead (so ``exp - iat`` looks like 90 days)
    would have been good for 150 days from now when only ``exp - iat`` was checked."""
    claims = jwt.decode(good(key), options={"verify_signature": False})
    ahead = int((NOW + timedelta(days=60)).timestamp())
    forged = {**claims, "iat": ahead, "nbf": int(NOW.timestamp()), "exp": ahead + 90 * 86400}
    token = jwt.encode(forged, key, algorithm="EdDSA", headers={"kid": key_id(key)})
    refused(token, key, "in the future")
    # nbf is honoured on its own: a token not valid until tomorrow is refused today
    later = {**claims, "nbf": int((NOW + timedelta(days=1)).timestamp())}
    token = jwt.encode(later, key, algorithm="EdDSA", headers={"kid": key_id(key)})
    refused(token, key, "not valid before")


def test_garbage_is_refused(key) -> None:
    refused("not-a-token", key, "not a JSON Web Token")


def test_issue_validates_its_input(key) -> None:
    with pytest.raises(InputError, match="at least one role"):
        good(key, roles=[])
    with pytest.raises(InputError, match="invalid token user"):
        good(key, subject="ci bot; rm -rf /")
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("90s") == timedelta(seconds=90)
    with pytest.raises(InputError, match="invalid duration"):
        parse_duration("7 days")


RBAC = """\
version: 1
roles:
  ci: {allow: [audit:run, report:read]}
  admin: {allow: ["*"]}
bindings:
  users: {ci-bot: [admin]}
  services: {ci-bot: [ci]}
"""


def test_token_actor_acts_as_the_service_within_its_bindings(key, tmp_path: Path) -> None:
    (tmp_path / "rbac.yaml").write_text(RBAC)
    rbac = Rbac.load(tmp_path / "rbac.yaml")
    me = Actor("someone", 1234)
    with AccessLog(tmp_path / "access.db") as log:
        keys = {key_id(key): key.public_key()}
        token = issue_token(key, subject="ci-bot", roles=["ci"], expires_in=timedelta(hours=1))
        ctx = AccessContext(rbac, log, me, token=token, trusted_keys=keys)
        actor = authorize(ctx, "audit:run", "model:m@1")
        assert (actor.user, actor.source, actor.roles) == ("ci-bot", "token", ("ci",))
        # the service namespace is not the users namespace: OS user ci-bot's admin role is not its
        with pytest.raises(AccessDenied, match="keys:manage"):
            authorize(ctx, "keys:manage")
        # a token naming a role the service is not bound to gains nothing
        greedy = issue_token(key, subject="ci-bot", roles=["admin"], expires_in=timedelta(hours=1))
        with pytest.raises(AccessDenied, match="not bound"):
            authorize(AccessContext(rbac, log, me, token=greedy, trusted_keys=keys), "audit:run")
        # a refused token is logged against the OS account that presented it
        expired = issue_token(
            key, subject="ci-bot", roles=["ci"], expires_in=timedelta(hours=1), now=NOW
        )
        with pytest.raises(AccessDenied, match="expired"):
            authorize(AccessContext(rbac, log, me, token=expired, trusted_keys=keys), "audit:run")
        entries = list(log.entries())
    assert [(e.actor, e.actor_source, e.action, e.decision) for e in entries] == [
        ("ci-bot", "token", "audit:run", "allow"),
        ("ci-bot", "token", "keys:manage", "deny"),
        ("ci-bot", "token", "audit:run", "deny"),
        ("someone", "os", "audit:run", "deny"),
    ]
    assert entries[0].token_id == actor.token_id and "expired" in entries[3].reason
    assert log_verifies(tmp_path / "access.db")


def log_verifies(path: Path) -> bool:
    with AccessLog(path) as log:
        return log.verify().ok


def test_actor_from_token_uses_the_trusted_keys_only(key) -> None:
    token = good(key)
    with pytest.raises(AccessDenied):
        actor_from_token(token, [], now=NOW)
    assert actor_from_token(token, [key.public_key()], now=NOW).user == "ci-bot"


def test_keyring_takes_signing_records_drops_revoked_and_recomputes_ids(key) -> None:
    """``audit.signing.Keyring.keys`` maps key id to records with public_key and status."""
    from dataclasses import dataclass

    from audit.access import keyring

    @dataclass(frozen=True)
    class Record:
        public_key: object
        status: str = "active"

    revoked = Ed25519PrivateKey.generate()
    keys = keyring(
        {"mislabelled": Record(key.public_key()), "x": Record(revoked.public_key(), "revoked")}
    )
    assert list(keys) == [key_id(key)]
    import hashlib

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(key) == hashlib.sha256(raw).hexdigest()  # the id audit.signing uses
    with pytest.raises(AccessDenied, match="not in the trusted keyring"):
        verify_token(good(revoked), {"x": Record(revoked.public_key(), "revoked")}, now=NOW)
