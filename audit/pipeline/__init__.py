"""The pipeline: what each command does, as library calls the CLI (or a service) makes.

No click, no printing, no exits, no environment reads: a :class:`Session` is given the home,
the environment and the working folder, and notices go to its ``notify``.

- :func:`run` (``audit run``): resolve the spec, check access, audit, :func:`publish`, decide;
- :func:`publish`: render -> sign (with the access-log checkpoint) -> atomic rename;
- :func:`approve`, :func:`gate`, :func:`explain_rows`.
"""

from .codes import EXIT_DENIED, EXIT_FAIL, EXIT_INPUT, EXIT_INTEGRITY, EXIT_INTERNAL, EXIT_PASS
from .deploy import Approved, approve, gate
from .explain import explain_rows, reasons_csv_text
from .publishing import publish
from .running import STEPS, RunOutcome, RunRequest, exit_code, run, signing_identity
from .session import Session, display_path, report_resource

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
