"""``audit serve``: run the shared audit service and auditor portal."""

from __future__ import annotations

from pathlib import Path

import click

from .common import FILE, FOLDER, PATH

SERVE_EPILOG = """\b
Exit codes:
  0  stopped (Ctrl-C or SIGTERM)
  2  bad input or usage (listener, TLS files, database URL, OIDC key set)
  3  integrity failure (the home's trust configuration or log does not verify)
  5  internal error (a bug; rerun with --verbose and report it)
"""


@click.command(epilog=SERVE_EPILOG)
@click.option(
    "--dir",
    "folder",
    type=FOLDER,
    default=".",
    show_default=True,
    help="The service folder: .audit/ (registry, keys, rbac.yaml, log), reports/, jobs/.",
)
@click.option(
    "--socket",
    "socket_path",
    type=PATH,
    help="Listen on this Unix socket (callers are identified by the kernel's peer credentials).",
)
@click.option("--host", help="Listen on TCP at this address (HTTPS unless it is loopback).")
@click.option("--port", type=click.IntRange(0, 65535), default=8443, show_default=True)
@click.option("--tls-cert", type=FILE, help="TLS certificate chain (PEM).")
@click.option("--tls-key", type=FILE, help="TLS private key (PEM).")
@click.option(
    "--database",
    help="postgresql://user@host/db for a team [default: SQLite files "
    "in the service folder's .audit/].",
)
@click.option(
    "--audience",
    default="audit-serve",
    show_default=True,
    help="The audience tokens must name (audit token issue --audience ...).",
)
@click.option("--oidc-issuer", help="Accept OIDC tokens from this issuer (exact 'iss').")
@click.option("--oidc-jwks", type=FILE, help="The issuer's JSON Web Key Set, saved as a file.")
@click.option("--oidc-audience", help="The audience OIDC tokens must carry (your client id).")
@click.option(
    "--oidc-subject-claim",
    default="sub",
    show_default=True,
    help="The claim that names the caller (bindings.oidc in rbac.yaml).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Commands (audits) run at once; more wait.",
)
@click.option("--migrate", is_flag=True, help="Apply database migrations and exit.")
def serve(
    folder: Path,
    socket_path: Path | None,
    host: str | None,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    database: str | None,
    audience: str,
    oidc_issuer: str | None,
    oidc_jwks: Path | None,
    oidc_audience: str | None,
    oidc_subject_claim: str,
    jobs: int,
    migrate: bool,
) -> None:
    """Run the audit service: it alone holds the registry, keys, reports and access log; every
    request is authenticated (Unix peer credentials, signed or OIDC tokens), authorised by RBAC
    and logged. Clients: `audit --server unix:PATH ...` or `--server https://HOST:PORT`; the
    auditor portal is at /portal/."""
    from ..errors import InputError
    from ..serve.app import Listeners, create_app
    from ..serve.app import serve as run_server
    from ..serve.config import OidcConfig, ServeConfig

    oidc = None
    if oidc_issuer or oidc_jwks or oidc_audience:
        if not (oidc_issuer and oidc_jwks and oidc_audience):
            raise InputError("--oidc-issuer, --oidc-jwks and --oidc-audience go together")
        oidc = OidcConfig(oidc_issuer, oidc_jwks, oidc_audience, oidc_subject_claim)
    config = ServeConfig(
        folder=folder.resolve(),
        database=database,
        audience=audience,
        oidc=oidc,
        jobs=jobs,
        secure_cookies=tls_cert is not None,
    )
    if migrate:
        from ..access.schema import ACCESS_LOG_SCHEMA
        from ..registry.store import REGISTRY_SCHEMA
        from ..storage import migrate as apply

        config.home.mkdir(parents=True, exist_ok=True)
        for schema, file in ((ACCESS_LOG_SCHEMA, "access.db"), (REGISTRY_SCHEMA, "registry.db")):
            done = apply(database, config.home / file, schema)
            names = ", ".join(f"{a.version} {a.name}" for a in done) or "none (up to date)"
            click.echo(f"{schema.label}: applied {names}")
        return
    listeners = Listeners(socket_path, host, port, tls_cert, tls_key)
    listeners.check()
    if oidc is not None:
        from ..serve.auth import load_jwks

        load_jwks(oidc)  # a bad key set stops the start before the home is touched
    app = create_app(config, notify=lambda m: click.echo(m, err=True))
    where = [f"unix:{socket_path}"] if socket_path else []
    if host:
        where.append(f"{'https' if tls_cert else 'http'}://{host}:{port}")
    click.echo(f"audit serve: {config.folder} on {', '.join(where)} (Ctrl-C stops)", err=True)
    run_server(app, listeners)
