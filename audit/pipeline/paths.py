"""Paths a command may read for its caller: never the audit home's private parts.

Commands that read a file the caller names and echo what is in it (``policy init`` prints a
dataset's columns and values, ``policy show`` a policy, ``report show`` a report, ``run`` and
``explain`` quote the files of a spec in their messages) would otherwise let anyone who may run
them read the signing keys, the access log, the approvals or the RBAC file through them: a
viewer running ``audit policy init --dataset .audit/keys/attestation.key.pem`` would be shown
the private key. So every user-given path is resolved (through every symlink, so a link in the
working folder that points into the home is caught too) and refused with
:class:`~audit.errors.AccessDenied` (exit 4) when it lands in one of the home's private parts:

    keys/  approvals/  objects/ (registry store)  tokens/  rbac.yaml  trust.json
    access.db*  registry.db*  and any hidden entry (locks, temporary folders)

The rest of the home is not refused (some set ``AUDIT_HOME`` to a project folder that also
holds their data). The refusal is recorded in the access log as a denied decision.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AccessDenied

if TYPE_CHECKING:
    from ..access import Actor
    from ..spec import ResolvedSpec
    from .session import Session

#: Entries of the audit home that hold secrets or the tool's own records.
PRIVATE_ENTRIES = frozenset(
    {
        "keys",
        "approvals",
        "objects",
        "tokens",
        "rbac.yaml",
        "trust.json",
        "access.db",
        "registry.db",
    }
)
_SQLITE_SUFFIXES = ("-wal", "-shm", "-journal")


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


def private_part(path: Path, home: Path) -> str | None:
    """The private entry of ``home`` that ``path`` resolves into, else None."""
    try:
        rel = _resolved(path).relative_to(_resolved(home))
    except ValueError:
        return None
    if not rel.parts:
        return "."  # the home folder itself
    first = rel.parts[0]
    base = first
    for suffix in _SQLITE_SUFFIXES:
        base = base.removesuffix(suffix)
    if first.startswith(".") or base in PRIVATE_ENTRIES:
        return first
    return None


def check_user_path(path: Path, home: Path, *, action: str) -> Path:
    """``path`` resolved, or AccessDenied (exit 4) if it lies in the home's private parts.

    ``action`` names what the path was for (``read a dataset``), for the message.
    """
    part = private_part(path, home)
    if part is not None:
        where = "the audit home itself" if part == "." else f"{part} in the audit home"
        raise AccessDenied(
            f"access denied: refusing to {action} {path}: it resolves to {where} ({home}), "
            "whose keys, logs and records no command reads for its caller",
            hint="give a file outside the audit home's private parts",
        )
    return _resolved(path)


def spec_paths(resolved: ResolvedSpec) -> Iterable[tuple[str, Path]]:
    """Every file a resolved spec makes the audit read, with what it is."""
    if resolved.source is not None:
        yield "read the audit spec", resolved.source
    for what, ref in (
        ("read the model", resolved.model),
        ("read the dataset", resolved.dataset),
        ("read the reference dataset", resolved.reference),
    ):
        if ref is not None and ref.path is not None:
            yield what, ref.path
    yield "read the policy", resolved.policy
    for what, path in (
        ("read the baseline report", resolved.baseline),
        ("read the reason codes", resolved.reason_codes),
        ("read templates from", resolved.templates),
    ):
        if path is not None:
            yield what, path


def confine(
    session: Session, actor: Actor, command: str, paths: Iterable[tuple[str, Path]]
) -> None:
    """Check each ``(action, path)``; a refusal is logged as a denied decision, then raised."""
    for action, path in paths:
        try:
            resolved = check_user_path(path, session.home, action=action)
            if session.roots is not None and not any(
                resolved.is_relative_to(_resolved(r)) for r in session.roots
            ):
                raise AccessDenied(
                    f"access denied: through audit serve, a command may {action} only a file "
                    f"it uploaded or the service's reports, not {path}",
                    hint="name a file on your machine (the client uploads it) or a registered "
                    "artifact (name@version)",
                )
        except AccessDenied as exc:
            from ..access import COMMAND_ACTIONS

            ctx = session.access
            ctx.log.append(
                actor=actor,
                action=COMMAND_ACTIONS[command],
                resource=f"path:{path}",
                decision="deny",
                reason=exc.message,
                rbac_sha256=ctx.rbac.sha256,
            )
            raise
