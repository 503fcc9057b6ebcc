"""``audit gate`` as a library call: the deployment decision for one registered model."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from .approval import GateDecision
from .session import Session


def gate(
    session: Session,
    model_ref: str,
    policy_file: Path,
    reports: Path,
    *,
    keyring: Path | None = None,
    max_age_days: int = 365,
) -> GateDecision:
    """May the registered model ``model_ref`` (name@version) be deployed under ``policy_file``?
    See :func:`audit.pipeline.approval.gate`; ``keyring`` defaults to the local identity's."""
    from ..errors import InputError
    from ..policy import load_policy
    from ..signing import export_keyring
    from ..spec import REF_PATTERN
    from .approval import gate as decide

    m = REF_PATTERN.match(model_ref)
    if not m:
        raise InputError(
            f"--model {model_ref!r} is not name@version", hint="for example adult-gbm@1"
        )
    session.guard("gate", f"model:{model_ref}")
    registry = session.registry()
    artifact = registry.get("model", m["name"], m["version"])
    registry.path_of(artifact)  # the registered bytes must still match their digest
    policy = load_policy(policy_file)
    if keyring is None:
        keyring = session.keys_dir() / "keyring.json"
        export_keyring(session.keys_dir(), keyring)
    return decide(
        artifact.sha256,
        policy.sha256,
        reports,
        session.home,
        keyring,
        max_age=timedelta(days=max_age_days),
    )
