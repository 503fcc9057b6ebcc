"""The regression section of report.json (``task: regression``): per-group statistics of a
continuous prediction and outcome. Filled in by issue #20 part 1."""

from __future__ import annotations

from .base import Section


class Regression(Section):
    """Fairness and performance of a regression model (``Report.regression``)."""
