"""The pipeline: what each command does, as library calls the CLI (or a service) makes.

No click, no printing, no exits, no environment reads: a :class:`Session` is given the home,
the environment and the working folder, and notices go to its ``notify``.

- :func:`run` (``audit run``): resolve the spec, check access, audit, :func:`publish`, decide;
- :func:`publish`: render -> sign (with the access-log checkpoint) -> atomic rename;
- :func:`approve`, :func:`gate`, :func:`explain_rows`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .codes import EXIT_DENIED, EXIT_FAIL, EXIT_INPUT, EXIT_INTEGRITY, EXIT_INTERNAL, EXIT_PASS

#: Where each public name lives; imported when first used (PEP 562), so that a command that
#: needs only a session (or the CLI as a client of `audit serve`) does not load the audit engine.
_WHERE = {
    "Approved": "deploy",
    "approve": "deploy",
    "gate": "deploy",
    "explain_rows": "explain",
    "reasons_csv_text": "explain",
    "publish": "publishing",
    "STEPS": "running",
    "RunOutcome": "running",
    "RunRequest": "running",
    "exit_code": "running",
    "run": "running",
    "signing_identity": "running",
    "Session": "session",
    "display_path": "session",
    "report_resource": "session",
}

__all__ = [
    "EXIT_DENIED",
    "EXIT_FAIL",
    "EXIT_INPUT",
    "EXIT_INTEGRITY",
    "EXIT_INTERNAL",
    "EXIT_PASS",
    "STEPS",
    "Approved",
    "RunOutcome",
    "RunRequest",
    "Session",
    "approve",
    "display_path",
    "exit_code",
    "explain_rows",
    "gate",
    "publish",
    "reasons_csv_text",
    "report_resource",
    "run",
    "signing_identity",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from .deploy import Approved, approve, gate
    from .explain import explain_rows, reasons_csv_text
    from .publishing import publish
    from .running import STEPS, RunOutcome, RunRequest, exit_code, run, signing_identity
    from .session import Session, display_path, report_resource
