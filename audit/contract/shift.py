"""The shift section of report.json: fairness and performance under reweighted group shares.
Filled in by issue #20 part 5."""

from __future__ import annotations

from .base import Section


class Shift(Section):
    """Shift scenarios (``Report.shift``)."""
