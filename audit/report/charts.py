"""Inline SVG charts for the HTML and PDF report, drawn in plain Python.

Why not matplotlib: the report must be self-contained and reproducible. A chart here is a short
SVG string with no fonts, scripts or external references embedded, so the same bytes render in a
browser and in WeasyPrint, and diff cleanly between two report versions.

Every chart carries a ``<title>`` and ``<desc>`` (read by screen readers and shown as a tooltip),
and every bar is labelled with its value in text, so colour is never the only signal.

The SVG has no ``xmlns`` attribute on purpose: inside HTML the parser puts ``<svg>`` into the SVG
namespace by itself, and leaving the attribute out keeps the report free of any ``http://``
string an auditor's scanner would flag.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

__all__ = [
    "Bar",
    "ReferenceLine",
    "horizontal_bar_chart",
    "importance_chart",
    "rate_chart",
    "selection_rate_chart",
]

#: Layout constants, in SVG user units (the chart scales to the page width through its viewBox).
_WIDTH = 640
_ROW_HEIGHT = 20
_BAR_HEIGHT = 13
_FONT_SIZE = 11
_CHAR_WIDTH = 6.4  # average advance of DejaVu Sans at 11 units; used to size the label column
_MAX_LABEL_CHARS = 34
_VALUE_COLUMN = 56  # room right of the longest bar for its printed value
_TOP = 8
_AXIS_HEIGHT = 30  # tick labels plus the legend line under the bars

_FOUR_FIFTHS = 0.8
_MAX_BARS = 30  # more rows than this no longer fit one A4 page at a readable size


@dataclass(frozen=True)
class Bar:
    """One bar: a labelled value; ``value=None`` means undefined and is drawn as "n/a"."""

    label: str
    value: float | None
    emphasis: bool = False  # drawn in the accent colour, e.g. below the four-fifths line
    note: str = ""  # short text appended to the label, e.g. "(reference)"
    interval: tuple[float, float] | None = None  # confidence interval, drawn as a whisker


@dataclass(frozen=True)
class ReferenceLine:
    """A vertical dashed line at ``value`` with a legend text under the axis."""

    value: float
    legend: str


#: "Nice" axis maxima within one decade, each with the number of equal tick intervals that gives
#: round tick values (e.g. 0.25 in 5 steps of 0.05, 1.2 in 4 steps of 0.3).
_NICE_AXES = (
    (1.0, 5),
    (1.2, 4),
    (1.5, 5),
    (2.0, 4),
    (2.5, 5),
    (3.0, 3),
    (4.0, 4),
    (5.0, 5),
    (6.0, 3),
    (8.0, 4),
    (10.0, 5),
)


def _nice_axis(value: float) -> tuple[float, int]:
    """Smallest nice axis maximum >= ``value`` and its tick-interval count (1, 5 if value <= 0)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0, 5
    scale = 10.0 ** math.floor(math.log10(value))
    for top, intervals in _NICE_AXES:
        if top * scale >= value * (1 - 1e-12):
            return top * scale, intervals
    return 10.0 * scale, 5  # pragma: no cover - the table ends at 10 x scale


def _tick(value: float) -> str:
    return f"{value:.4g}"


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def _clip(label: str) -> str:
    """Shorten a long label in the middle, keeping both ends (intersection groups differ in
    either part); the full label stays in the bar's tooltip and in the table."""
    if len(label) <= _MAX_LABEL_CHARS:
        return label
    head = (_MAX_LABEL_CHARS - 1) // 2
    tail = _MAX_LABEL_CHARS - 1 - head
    return label[:head] + "\u2026" + label[-tail:]


def horizontal_bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    axis_label: str,
    value_format: Callable[[float], str] = _fmt,
    reference_line: ReferenceLine | None = None,
    axis_max: float | None = None,
    footnote: str = "",
) -> Markup:
    """Draw ``bars`` top to bottom as an inline SVG bar chart, one row per bar.

    Bar length is proportional to the value: ``width = value / axis_max * plot_width``, with
    ``axis_max`` a "nice" number at or above the largest value (and the reference line), so
    bars can be compared by length. Negative values are drawn as zero-length bars; their value
    is still printed.
    """
    values = [b.value for b in bars if b.value is not None and math.isfinite(b.value)]
    values += [b.interval[1] for b in bars if b.interval and math.isfinite(b.interval[1])]
    top_value = max([0.0, *values, reference_line.value if reference_line else 0.0])
    if axis_max is not None and axis_max > 0:
        x_max, intervals = axis_max, 4
    else:
        x_max, intervals = _nice_axis(top_value)

    labels = [_clip(b.label + (f" {b.note}" if b.note else "")) for b in bars]
    label_width = min(
        int(max([len(s) for s in labels] + [4]) * _CHAR_WIDTH) + 10,
        int(_MAX_LABEL_CHARS * _CHAR_WIDTH) + 10,
    )
    x0 = label_width
    plot_width = _WIDTH - x0 - _VALUE_COLUMN
    plot_bottom = _TOP + _ROW_HEIGHT * max(len(bars), 1)
    height = plot_bottom + _AXIS_HEIGHT + (14 if footnote else 0)

    def x_of(value: float) -> float:
        return x0 + max(0.0, min(value, x_max)) / x_max * plot_width

    # A stable id (hash() is salted per process and would make the HTML differ between runs).
    title_id = "chart-" + hashlib.sha256(title.encode()).hexdigest()[:10]
    out: list[str] = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" '
        f'height="{height}" role="img" aria-labelledby="{title_id}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f"<desc>{escape(description)}</desc>",
    ]
    for i in range(intervals + 1):
        tick = x_max * i / intervals
        x = x_of(tick)
        out.append(
            f'<line class="grid" x1="{x:.2f}" y1="{_TOP - 2}" x2="{x:.2f}" '
            f'y2="{plot_bottom}" stroke="#d0d4da" stroke-width="0.6"/>'
        )
        out.append(
            f'<text class="tick" x="{x:.2f}" y="{plot_bottom + 12}" '
            f'font-size="{_FONT_SIZE - 2}" text-anchor="middle" fill="#444">'
            f"{escape(_tick(tick))}</text>"
        )
    # Paint order: bars, then the reference line over them, then the value labels on a white
    # backing so the dashed line never hides a number.
    rows = [
        (bar, label, _TOP + row * _ROW_HEIGHT)
        for row, (bar, label) in enumerate(zip(bars, labels, strict=True))
    ]
    for bar, label, y in rows:
        weight = ' font-weight="bold"' if bar.note else ""
        out.append(
            f'<text class="label" x="{x0 - 6}" y="{y + _BAR_HEIGHT - 2}" font-size="{_FONT_SIZE}" '
            f'text-anchor="end" fill="#111"{weight}>{escape(label)}</text>'
        )
        if bar.value is not None and math.isfinite(bar.value):
            fill = "#c2410c" if bar.emphasis else "#2f5d8a"
            out.append(
                f'<rect class="bar" x="{x0:.2f}" y="{y}" width="{x_of(bar.value) - x0:.4f}" '
                f'height="{_BAR_HEIGHT}" fill="{fill}"><title>{escape(bar.label)}: '
                f"{escape(value_format(bar.value))}</title></rect>"
            )
    for bar, _label, y in rows:
        if bar.interval is None or not all(math.isfinite(v) for v in bar.interval):
            continue
        low, high = (x_of(v) for v in bar.interval)
        mid = y + _BAR_HEIGHT / 2
        out.append(
            f'<g class="ci"><title>{escape(bar.label)}: interval '
            f"{escape(value_format(bar.interval[0]))} to {escape(value_format(bar.interval[1]))}"
            f'</title><line x1="{low:.2f}" y1="{mid}" x2="{high:.2f}" y2="{mid}" '
            f'stroke="#111" stroke-width="1.2"/>'
            f'<line x1="{low:.2f}" y1="{y + 2}" x2="{low:.2f}" y2="{y + _BAR_HEIGHT - 2}" '
            f'stroke="#111" stroke-width="1.2"/>'
            f'<line x1="{high:.2f}" y1="{y + 2}" x2="{high:.2f}" y2="{y + _BAR_HEIGHT - 2}" '
            f'stroke="#111" stroke-width="1.2"/></g>'
        )
    out.append(
        f'<line class="axis" x1="{x0}" y1="{_TOP - 2}" x2="{x0}" y2="{plot_bottom}" '
        f'stroke="#333" stroke-width="1"/>'
    )
    legend_y = plot_bottom + 25
    if reference_line is not None and math.isfinite(reference_line.value):
        x = x_of(reference_line.value)
        out.append(
            f'<line class="reference" x1="{x:.4f}" y1="{_TOP - 4}" x2="{x:.4f}" '
            f'y2="{plot_bottom + 2}" stroke="#111" stroke-width="1.4" '
            f'stroke-dasharray="4 3"/>'
        )
        out.append(
            f'<line x1="{x0}" y1="{legend_y - 4}" x2="{x0 + 18}" y2="{legend_y - 4}" '
            f'stroke="#111" stroke-width="1.4" stroke-dasharray="4 3"/>'
        )
        out.append(
            f'<text class="legend" x="{x0 + 24}" y="{legend_y}" font-size="{_FONT_SIZE - 1}" '
            f'fill="#111">{escape(reference_line.legend)}; {escape(axis_label)}</text>'
        )
    else:
        out.append(
            f'<text class="legend" x="{x0}" y="{legend_y}" font-size="{_FONT_SIZE - 1}" '
            f'fill="#111">{escape(axis_label)}</text>'
        )
    if footnote:
        out.append(
            f'<text class="footnote" x="{x0}" y="{legend_y + 14}" font-size="{_FONT_SIZE - 1}" '
            f'fill="#111" font-style="italic">{escape(footnote)}</text>'
        )
    for bar, _label, y in rows:
        text_y = y + _BAR_HEIGHT - 2
        if bar.value is None or not math.isfinite(bar.value):
            out.append(
                f'<text class="value" x="{x0 + 4}" y="{text_y}" font-size="{_FONT_SIZE}" '
                f'fill="#555" font-style="italic">n/a</text>'
            )
            continue
        right = bar.value
        if bar.interval is not None and _finite(bar.interval):
            right = max(bar.value, bar.interval[1])
        end = x_of(right)
        text = value_format(bar.value)
        out.append(
            f'<rect x="{end + 2:.2f}" y="{y}" width="{len(text) * _CHAR_WIDTH + 4:.1f}" '
            f'height="{_BAR_HEIGHT}" fill="#fff" fill-opacity="0.85"/>'
        )
        out.append(
            f'<text class="value" x="{end + 4:.2f}" y="{text_y}" '
            f'font-size="{_FONT_SIZE}" fill="#111">{escape(text)}</text>'
        )
    out.append("</svg>")
    return Markup("\n".join(out))


def selection_rate_chart(
    feature: str, evidence: Mapping[str, Any], max_bars: int = _MAX_BARS
) -> Markup:
    """Selection rate by group for one sensitive feature, with the four-fifths line.

    selection rate = (TP + FP) / n, the share of the group that receives the positive decision.
    The dashed line sits at 0.8 x the reference group's selection rate: a group whose bar ends
    left of it has impact ratio = rate / reference rate < 0.8, the EEOC four-fifths rule of thumb
    (29 CFR 1607.4(D)). Such bars are drawn in the accent colour and their impact ratio is
    printed in the table next to the chart.

    A group excluded from comparisons (under the policy's share of the data) is never drawn as
    flagged; whiskers, when the report has intervals, mark each rate's confidence interval.

    With more than ``max_bars`` groups (large intersections) the chart keeps the reference group
    and the groups with the lowest selection rates, the ones a four-fifths check is about, in
    their original order, and says so under the axis; the table still lists every group.
    """
    all_groups: Mapping[str, Mapping[str, Any]] = evidence.get("groups") or {}
    reference = evidence.get("reference_group")
    groups = _lowest_groups(all_groups, reference, max_bars)
    footnote = (
        f"Showing the reference and the {len(groups) - 1} lowest of {len(all_groups)} groups; "
        "the table lists all."
        if len(groups) < len(all_groups)
        else ""
    )
    reference_rate = (groups.get(reference) or {}).get("selection_rate") if reference else None
    line_value = (
        _FOUR_FIFTHS * reference_rate
        if isinstance(reference_rate, int | float) and reference_rate > 0
        else None
    )
    bars = []
    for name, stats in groups.items():
        rate = stats.get("selection_rate")
        compared = not stats.get("excluded") and stats.get("status") != "insufficient_data"
        below = line_value is not None and rate is not None and rate < line_value and compared
        bars.append(
            Bar(
                label=str(name),
                value=rate,
                emphasis=below,
                note="(reference)" if name == reference else "",
                interval=_interval(stats, "selection_rate"),
            )
        )
    line = (
        ReferenceLine(line_value, f"0.8 \u00d7 reference rate = {line_value:.3f}")
        if line_value is not None
        else None
    )
    return horizontal_bar_chart(
        bars,
        title=f"Selection rate by group: {feature}",
        description=(
            f"Horizontal bars give the selection rate of each {feature} group; "
            + (
                f"the dashed line marks 0.8 times the selection rate of the reference group "
                f"{reference} ({line_value:.3f})."
                if line_value is not None
                else "no four-fifths line: the reference group's selection rate is undefined."
            )
        ),
        axis_label="selection rate = (TP + FP) / n",
        reference_line=line,
        footnote=footnote,
    )


def _finite(interval: tuple[float, float] | None) -> bool:
    return interval is not None and all(math.isfinite(v) for v in interval)


def _interval(stats: Mapping[str, Any], metric: str) -> tuple[float, float] | None:
    """The [low, high] interval of ``metric`` in a group's report entry, if it has one."""
    ci = (stats.get("ci") or {}).get(metric)
    if isinstance(ci, Sequence) and len(ci) == 2 and all(isinstance(v, int | float) for v in ci):
        return float(ci[0]), float(ci[1])
    return None


#: Rates drawn by :func:`rate_chart`, with the formula printed under the axis.
RATE_FORMULAS = {
    "selection_rate": "selection rate = (TP + FP) / n",
    "scoring_rate": "scoring rate = share scoring above the full sample's median",
    "tpr": "TPR = TP / (TP + FN)",
    "fpr": "FPR = FP / (FP + TN)",
    "ppv": "PPV = TP / (TP + FP)",
}


def rate_chart(
    feature: str, evidence: Mapping[str, Any], metric: str, max_bars: int = _MAX_BARS
) -> Markup:
    """One rate by group with its confidence interval (a whisker), for one feature.

    Groups reported as "insufficient data" are drawn as "n/a": their rate is withheld, never
    shown as a number that looks solid. With more than ``max_bars`` groups the chart keeps the
    reference group and the groups with the lowest selection rates, as the selection chart does.
    """
    all_groups: Mapping[str, Mapping[str, Any]] = evidence.get("groups") or {}
    reference = evidence.get("reference_group")
    groups = _lowest_groups(all_groups, reference, max_bars)
    name = RATE_FORMULAS[metric].split(" = ")[0]
    bars = [
        Bar(
            label=str(group),
            value=stats.get(metric),
            note="(reference)" if group == reference else "",
            interval=_interval(stats, metric),
        )
        for group, stats in groups.items()
    ]
    footnote = (
        f"Showing the reference and the {len(groups) - 1} lowest-selection of "
        f"{len(all_groups)} groups; the table lists all."
        if len(groups) < len(all_groups)
        else ""
    )
    confidence = evidence.get("confidence")
    level = f"{confidence:.0%}" if isinstance(confidence, int | float) else "the"
    return horizontal_bar_chart(
        bars,
        title=f"{name} by group: {feature}",
        description=(
            f"Horizontal bars give the {name} of each {feature} group; whiskers mark its "
            f"{level} bootstrap confidence interval."
        ),
        axis_label=RATE_FORMULAS[metric] + f"; whiskers: {level} interval",
        footnote=footnote,
    )


def _lowest_groups(
    groups: Mapping[str, Mapping[str, Any]], reference: Any, max_bars: int
) -> dict[str, Mapping[str, Any]]:
    """At most ``max_bars`` groups: the reference plus the lowest selection rates, in order."""
    if len(groups) <= max_bars:
        return dict(groups)
    others = [name for name in groups if name != reference]
    defined = [n for n in others if isinstance(groups[n].get("selection_rate"), int | float)]
    lowest = sorted(defined, key=lambda n: groups[n]["selection_rate"])
    undefined = [n for n in others if n not in set(defined)]
    keep = set((lowest + undefined)[: max_bars - (1 if reference in groups else 0)])
    return {n: g for n, g in groups.items() if n in keep or n == reference}


def importance_chart(global_importance: Sequence[Mapping[str, Any]], limit: int = 20) -> Markup:
    """Global SHAP importance: mean |SHAP value| per feature, largest first.

    mean |SHAP|_j = (1 / m) * sum_i |phi_ij| over the m explained rows; the table beside the chart
    gives each feature's share of the total. Only the ``limit`` largest features are drawn.
    """
    ranked = sorted(global_importance, key=lambda r: -(r.get("mean_abs_shap") or 0.0))
    rows = ranked[:limit]
    bars = [Bar(label=str(r.get("feature")), value=r.get("mean_abs_shap")) for r in rows]
    return horizontal_bar_chart(
        bars,
        title="Global feature importance (mean |SHAP value|)",
        description=(
            "Horizontal bars give the mean absolute SHAP value of each feature over the "
            "explained sample, largest first."
        ),
        axis_label="mean |SHAP value|",
        footnote=(
            f"Showing the {limit} largest of {len(ranked)} features; the table lists all."
            if len(ranked) > limit
            else ""
        ),
    )
