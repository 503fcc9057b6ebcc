"""The multiclass section of report.json (``task: multiclass``): one-vs-rest fairness per class.
Filled in by issue #20 part 2."""

from __future__ import annotations

from .base import Section


class Multiclass(Section):
    """Fairness per class of a multiclass model (``Report.multiclass``)."""
