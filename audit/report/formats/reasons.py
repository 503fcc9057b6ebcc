"""reasons.csv: the principal reasons of each adverse decision, in words, one line per reason.

The per-decision reasons are not part of report.json (which keeps a summary and a few examples),
so the renderer is given them when it is made; the CSV's columns are defined, with the writer, by
the reasons engine (:func:`audit.explain.write_reasons_csv`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from audit.contract import Report

from .interface import Renderer


class ReasonsCsv(Renderer):
    """reasons.csv from ``decisions`` (``audit.explain.DecisionReasons``, in row order), or
    copied from the ``audit.explain.ReasonsSpool`` the audit's reasons pass wrote."""

    name: ClassVar[str] = "reasons"
    filenames: ClassVar[tuple[str, ...]] = ("reasons.csv",)

    def __init__(self, decisions: Sequence[Any] | Any) -> None:
        # a ReasonsSpool (every adverse decision, already written) or the decisions themselves
        self.decisions = decisions if hasattr(decisions, "copy_to") else list(decisions)

    def write(self, report: Report, folder: Path) -> None:
        if hasattr(self.decisions, "copy_to"):
            self.decisions.copy_to(folder / "reasons.csv")
            return
        # Imported here: the writer lives with the reasons engine (numpy, SHAP helpers), which a
        # renderer of report.json alone does not otherwise need.
        from audit.explain import write_reasons_csv

        write_reasons_csv(folder / "reasons.csv", self.decisions)
