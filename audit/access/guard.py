"""The one call every command makes before it touches anything: decide, log, refuse or proceed.

::

    ctx = open_access(home, token=os.environ.get("AUDIT_TOKEN"), trusted_keys=keys,
                      environ=os.environ)
    actor = authorize(ctx, "audit:run", "model:credit@3")   # AccessDenied (exit 4) if refused

Every decision, allowed or denied (including a refused token), becomes one access-log entry
before the command proceeds; if the entry cannot be written the command does not run either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import AccessDenied
from .identity import Actor, current_actor
from .keys import TrustedKeys, keyring
from .log import AccessLog
from .rbac import Rbac, default_rbac_path, init_rbac
from .tokens import AUDIENCE, actor_from_token

#: The action each CLI command asks for (the command's resource is its model, dataset or report).
COMMAND_ACTIONS: Mapping[str, str] = {
    "run": "audit:run",
    "explain": "audit:explain",
    "registry add-model": "registry:write",
    "registry add-dataset": "registry:write",
    "registry list": "registry:read",
    "registry show": "registry:read",
    "policy validate": "policy:read",
    "policy show": "policy:read",
    # reads a dataset by path and prints its columns and values: what auditing a dataset allows
    "policy init": "audit:run",
    "policy schema": "policy:read",
    "report list": "report:read",
    "report show": "report:read",
    "report open": "report:read",
    "report diff": "report:read",
    "report trend": "report:read",
    "report export": "report:export",
    "gate": "report:read",
    "verify": "report:verify",
    "approve": "report:approve",
    "keys init": "keys:manage",
    "keys export": "keys:manage",
    "keys rotate": "keys:manage",
    "token issue": "token:issue",
    "log show": "log:read",
    "log export": "log:read",
    "log verify": "log:verify",
    "rbac show": "rbac:admin",
}


@dataclass(frozen=True)
class AccessContext:
    """Everything :func:`authorize` needs: the rules, the log, and who is asking."""

    rbac: Rbac
    log: AccessLog
    os_actor: Actor
    token: str | None = None
    trusted_keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    audience: str = AUDIENCE


def rbac_path_for(home: Path) -> Path:
    """``<home>/rbac.yaml`` if it exists, else the shipped default (which binds nobody)."""
    local = Path(home) / "rbac.yaml"
    return local if local.is_file() else default_rbac_path()


def open_access(
    home: Path,
    *,
    rbac_path: Path | None = None,
    log_path: Path | None = None,
    token: str | None = None,
    trusted_keys: TrustedKeys = (),
    signing_key: Ed25519PrivateKey | None = None,
    checkpoint_every: int = 1000,
    environ: Mapping[str, str] | None = None,
    actor: Actor | None = None,
    database: str | None = None,
) -> AccessContext:
    """Load the RBAC file and open ``<home>/access.db`` (paths may be overridden), or the log
    in the database ``database`` names (``postgresql://...``; see :mod:`audit.storage`).

    ``actor`` is the caller as an authenticating service established it (a Unix socket's peer
    credentials, a verified token); without it, the OS account of this process.

    ``environ`` is used only to read ``SUDO_UID`` when the RBAC file names a ``service_account``
    and the process runs as that account (see :func:`~audit.access.identity.current_actor`).
    """
    rbac = Rbac.load(rbac_path or rbac_path_for(home))
    log = AccessLog(
        log_path or Path(home) / "access.db",
        database=database,
        signing_key=signing_key,
        checkpoint_every=checkpoint_every,
    )
    keys = keyring(trusted_keys)
    if actor is None:
        actor = current_actor(service_account=rbac.spec.service_account, environ=environ)
    return AccessContext(rbac, log, actor, token, keys)


def authorize(ctx: AccessContext, action: str, resource: str = "") -> Actor:
    """Decide, log the decision, and return the actor, or raise AccessDenied (exit 4)."""
    actor = ctx.os_actor
    if ctx.token is not None:
        try:
            actor = actor_from_token(ctx.token, ctx.trusted_keys, audience=ctx.audience)
        except AccessDenied as exc:
            ctx.log.append(
                actor=ctx.os_actor,
                action=action,
                resource=resource,
                decision="deny",
                reason=exc.message,
                rbac_sha256=ctx.rbac.sha256,
            )
            raise
    decision = ctx.rbac.decide(actor, action, resource)
    ctx.log.record(actor, decision, ctx.rbac.sha256)
    if not decision.allowed:
        on = f" on {resource}" if resource else ""
        raise AccessDenied(
            f"access denied: {actor.label} may not '{action}'{on}: {decision.reason}",
            hint=f"ask an administrator to bind a role that allows '{action}' in "
            f"{ctx.rbac.source} (audit rbac show)",
        )
    return actor


def bootstrap_rbac(home: Path, log: AccessLog, actor: Actor | None = None) -> Rbac:
    """``audit rbac init``: write ``<home>/rbac.yaml`` binding ``actor`` (the OS user) as admin.

    Allowed without any permission only because no RBAC file exists yet (it refuses to
    overwrite one); the bootstrap is logged like every other decision.
    """
    who = actor or current_actor()
    rbac = init_rbac(Path(home) / "rbac.yaml", who)
    log.append(
        actor=who,
        action="rbac:admin",
        resource=f"rbac:{rbac.source}",
        decision="allow",
        reason="bootstrap: no RBAC file existed; bound the invoking OS account as admin",
        rbac_sha256=rbac.sha256,
    )
    return rbac
