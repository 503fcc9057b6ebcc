"""``audit explain`` as a library call: the adverse-action reasons of named rows."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from .session import Session


def explain_rows(
    session: Session,
    spec: Path,
    rows: Sequence[str],
    *,
    reason_codes: Path | None = None,
    seed: int | None = None,
) -> tuple[list[str | int], dict[str, Any]]:
    """Explain ``rows`` of the spec's dataset (id_column values, else 0-based row numbers).

    Returns the row ids as interpreted, and the reasons (``DecisionReasons``) of each adverse
    decision among them, by ``str(row id)``; a favourable row has none. Writes no bundle.
    """
    from ..contract import Skipped
    from ..runner import run_audit
    from ..spec import load_spec
    from .paths import check_user_path, confine, spec_paths

    check_user_path(spec, session.home, action="read the audit spec")
    resolved = load_spec(spec, {"seed": seed, "reason_codes": reason_codes})
    ids: list[str | int] = [
        int(r) if r.isdigit() and not resolved.spec.id_column else r for r in rows
    ]
    resolved = load_spec(spec, {"seed": seed, "reason_codes": reason_codes, "explain_rows": ids})
    if resolved.model is None:
        raise InputError("the spec audits recorded decisions: there is no model to explain")
    if session.roots is not None:  # through audit serve: registered artifacts only, as for run
        from .running import registered_only

        registered_only(resolved)
    if resolved.reason_codes is None:
        raise InputError(
            "no reason-code file: reasons must be given in words",
            hint="pass --reason-codes FILE or set explain.reason_codes in the spec "
            "(examples: policies/reason-codes/)",
        )
    model_ref = resolved.model
    actor = session.guard("explain", f"model:{model_ref.display()}")
    confine(session, actor, "explain", spec_paths(resolved))
    resolved = dataclasses.replace(resolved, reference=None, baseline=None)
    result = run_audit(
        resolved, actor=actor, registry=session.registry() if model_ref.is_registered else None
    )
    if isinstance(result.explanations, Skipped):
        raise InputError(f"the model cannot be explained: {result.explanations.reason}")
    return ids, {str(d.row_id): d for d in (result.decisions or [])}


def reasons_csv_text(decisions: Sequence[Any]) -> str:
    """The reasons.csv text of ``decisions`` (as the bundle's reasons.csv is written)."""
    from ..explain import write_reasons_csv

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reasons.csv"
        write_reasons_csv(path, list(decisions))
        return path.read_text(encoding="utf-8")
