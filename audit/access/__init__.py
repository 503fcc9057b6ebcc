"""Access control and the tamper-evident access log.

- who is acting: :func:`current_actor` (OS account, never ``$USER``) or a signed token
  (:func:`actor_from_token`);
- what they may do: :class:`Rbac` (roles, permissions, bindings; deny by default);
- what happened: :class:`AccessLog` (hash-chained log in SQLite or PostgreSQL, with signed
  RFC 6962 checkpoints; its tables and migrations: :data:`ACCESS_LOG_SCHEMA`);
- the one call per command: :func:`authorize`.
"""

from .guard import (
    COMMAND_ACTIONS,
    AccessContext,
    authorize,
    bootstrap_rbac,
    open_access,
    rbac_path_for,
)
from .identity import Actor, current_actor
from .keys import generate_key_file, key_id, keyring, load_private_key, load_public_key, public_pem
from .log import (
    AccessLog,
    Checkpoint,
    Entry,
    LogFilter,
    LogVerification,
    verify_export,
)
from .merkle import inclusion_proof, leaf_hash, merkle_root, root_from_proof
from .proofs import LogProof
from .rbac import ACTIONS, Decision, Rbac, default_rbac_path, init_rbac
from .schema import ACCESS_LOG_SCHEMA
from .tokens import TokenClaims, actor_from_token, issue_token, parse_duration, verify_token

__all__ = [
    "ACCESS_LOG_SCHEMA",
    "ACTIONS",
    "COMMAND_ACTIONS",
    "AccessContext",
    "AccessLog",
    "Actor",
    "Checkpoint",
    "Decision",
    "Entry",
    "LogFilter",
    "LogProof",
    "LogVerification",
    "Rbac",
    "TokenClaims",
    "actor_from_token",
    "authorize",
    "bootstrap_rbac",
    "current_actor",
    "default_rbac_path",
    "generate_key_file",
    "init_rbac",
    "issue_token",
    "key_id",
    "keyring",
    "load_private_key",
    "load_public_key",
    "inclusion_proof",
    "leaf_hash",
    "merkle_root",
    "root_from_proof",
    "open_access",
    "parse_duration",
    "public_pem",
    "rbac_path_for",
    "verify_export",
    "verify_token",
]
