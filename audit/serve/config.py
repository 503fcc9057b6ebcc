"""What ``audit serve`` is started with: its folder, database, listeners and who it trusts.

Trust roots come from the administrator who starts the service (flags or the service folder),
never from a caller: the token keys are the service home's trust configuration, the OIDC issuer
and its keys are pinned here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The audience tokens for the service must name (``audit token issue --audience audit-serve``);
#: a token for the CLI (audience ``audit``) or another service is refused.
SERVICE_AUDIENCE = "audit-serve"


@dataclass(frozen=True)
class OidcConfig:
    """An OpenID Connect issuer whose ID/access tokens the service accepts.

    ``issuer`` is compared exactly with the token's ``iss``; ``jwks`` is the issuer's key set as
    a file (fetched by the administrator, so no token can point the service at its own keys);
    ``audience`` must be in the token's ``aud``; ``subject_claim`` names the RBAC subject
    (bound under ``bindings.oidc`` in rbac.yaml).
    """

    issuer: str
    jwks: Path
    audience: str
    subject_claim: str = "sub"


@dataclass(frozen=True)
class ServeConfig:
    """``folder`` is the service's project folder: ``.audit/`` (registry, keys, rbac.yaml, log),
    ``reports/`` (bundles) and ``jobs/`` (each CLI request's uploads and outputs)."""

    folder: Path
    database: str | None = None
    audience: str = SERVICE_AUDIENCE
    oidc: OidcConfig | None = None
    jobs: int = 4
    job_timeout_s: float = 3600.0
    secure_cookies: bool = False

    @property
    def home(self) -> Path:
        return self.folder / ".audit"

    @property
    def reports(self) -> Path:
        return self.folder / "reports"

    @property
    def job_root(self) -> Path:
        return self.folder / "jobs"
