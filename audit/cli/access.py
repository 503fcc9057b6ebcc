"""``audit rbac`` and ``audit token``: who may do what, and tokens for CI runners."""

from __future__ import annotations

from pathlib import Path

import click

from .common import AuditGroup, guard, session


@click.group(cls=AuditGroup)
def token() -> None:
    """Signed tokens for CI runners acting under a named service identity."""


@token.command("issue")
@click.option("--user", "subject", required=True, help="The service identity (e.g. ci-bot).")
@click.option(
    "--roles", required=True, help="Comma-separated roles (bound to the service in rbac.yaml)."
)
@click.option("--expires", default="7d", show_default=True, help="Lifetime: 90s, 15m, 12h, 7d, 2w.")
@click.option(
    "--audience",
    default="audit",
    show_default=True,
    help="Who accepts it: 'audit' (this home's CLI) or 'audit-serve' (the service; its "
    "--audience if it was given one). A token is refused everywhere else.",
)
def token_issue(subject: str, roles: str, expires: str, audience: str) -> None:
    """Print an EdDSA-signed token (signed by the home's token key); the runner passes it as
    $AUDIT_TOKEN."""
    from ..access import issue_token, parse_duration
    from ..pipeline.trust import token_key

    guard("token issue", f"service:{subject}")
    s = session()
    role_list = [r.strip() for r in roles.split(",") if r.strip()]
    rbac = s.access.rbac
    held = rbac.service_roles(subject)
    missing = [r for r in role_list if r not in held]
    if missing:
        from ..errors import InputError

        bound = ", ".join(held) if held else "none"
        raise InputError(
            f"service {subject!r} holds no role {', '.join(map(repr, missing))} in {rbac.source} "
            f"(its roles: {bound}): the token could never use it",
            hint=f"bind it first (bindings: services: {{{subject}: [{', '.join(missing)}]}}), "
            "or issue the token with the roles the service holds",
        )
    click.echo(
        issue_token(
            token_key(s.home),
            subject=subject,
            roles=role_list,
            expires_in=parse_duration(expires),
            audience=audience,
        )
    )


@click.group(cls=AuditGroup)
def rbac() -> None:
    """Role-based access control: who may do what (deny by default)."""


@rbac.command("init")
def rbac_init() -> None:
    """Create $AUDIT_HOME/rbac.yaml binding the current OS account as admin (only if none exists)."""
    from ..access import AccessLog, bootstrap_rbac
    from ..errors import InputError

    home = session().home
    if (home / "rbac.yaml").exists():
        raise InputError(f"{home / 'rbac.yaml'} already exists", hint="edit it, or audit rbac show")
    home.mkdir(parents=True, exist_ok=True)
    r = bootstrap_rbac(home, AccessLog(home / "access.db"))
    click.echo(f"wrote {r.source}; the current OS account is admin")


@rbac.command("show")
def rbac_show() -> None:
    """Print the RBAC file in force and its digest."""
    guard("rbac show", "rbac")
    r = session().access.rbac
    click.echo(f"# {r.source}  sha256:{r.sha256}")
    click.echo(Path(r.source).read_text(encoding="utf-8"), nl=False)
