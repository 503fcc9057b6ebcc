"""What judging produces: one :class:`Finding` per rule, with the breaches that decided it.

Findings are report content, so they are the typed report's own models.
"""

from __future__ import annotations

from ..contract.sections import BaselineComparison, Breach, Finding, Status, Waiver

__all__ = ["BaselineComparison", "Breach", "Finding", "Status", "Waiver"]
