"""The counterfactual section of report.json: how often decisions flip when a sensitive value
(or a name or pronoun in a text input) is swapped. Filled in by issue #20 part 4."""

from __future__ import annotations

from .base import Section


class Counterfactual(Section):
    """Counterfactual flip tests (``Report.counterfactual``)."""
