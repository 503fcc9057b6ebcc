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
    "beeswarm_chart",
    "group_importance_chart",
    "horizontal_bar_chart",
    "importance_chart",
    "rate_chart",
    "importance_interval_chart",
    "selection_rate_chart",
    "waterfall_chart",
]

#: Layout constants, in SVG user units (the chart scales to the page width through its viewBox).
_WIDTH = 640
_ROW_HEIGHT = 20
_BAR_HEIGHT = 13
_FONT_SIZE = 11
_CHAR_WIDTH = 6.4  # average advance of DejaVu Sans at 11 units; used to size the label column
_BOLD_CHAR_WIDTH = 7.1  # the same for DejaVu Sans Bold (measured 0.61 em, plus a margin)
_MAX_LABEL_CHARS = 34
_VALUE_COLUMN = 56  # room right of the longest bar for its printed value
_TOP = 8
_AXIS_HEIGHT = 30  # tick labels plus the legend line under the bars

_FOUR_FIFTHS = 0.8
_FLAG = "\u25bc"  # printed after the value of an emphasised bar, so emphasis is not colour alone
_MAX_BARS = 30  # more rows than this no longer fit one A4 page at a readable size


@dataclass(frozen=True)
class Bar:
    """One bar: a labelled value; ``value=None`` means undefined and is drawn as "n/a"."""

    label: str
    value: float | None
    emphasis: bool = False  # accent colour and a \u25bc after the value, e.g. below four-fifths
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


def _clip(label: str, limit: int = _MAX_LABEL_CHARS) -> str:
    """Shorten a long label in the middle, keeping both ends (intersection groups differ in
    either part); the full label stays in the bar's tooltip and in the table."""
    if len(label) <= limit:
        return label
    head = (limit - 1) // 2
    tail = limit - 1 - head
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
    emphasis_legend: str = "",
) -> Markup:
    """Draw ``bars`` top to bottom as an inline SVG bar chart, one row per bar.

    Bar length is proportional to the value: ``width = value / axis_max * plot_width``, with
    ``axis_max`` a "nice" number at or above the largest value (and the reference line), so
    bars can be compared by length. Negative values are drawn as zero-length bars; their value
    is still printed.

    An emphasised bar is drawn in the accent colour and its value is followed by a \u25bc, so the
    emphasis does not rest on colour; ``emphasis_legend`` (shown when any bar is emphasised) says
    what it means.
    """
    values = [b.value for b in bars if b.value is not None and math.isfinite(b.value)]
    values += [b.interval[1] for b in bars if b.interval and math.isfinite(b.interval[1])]
    top_value = max([0.0, *values, reference_line.value if reference_line else 0.0])
    if axis_max is not None and axis_max > 0:
        x_max, intervals = axis_max, 4
    else:
        x_max, intervals = _nice_axis(top_value)

    labels = [_clip(b.label + (f" {b.note}" if b.note else "")) for b in bars]
    # Labels with a note are bold, and bold glyphs are wider: size the column for them too, or a
    # long bold label (a clipped intersection group marked "(reference)") runs off the left edge.
    widths = [
        len(s) * (_BOLD_CHAR_WIDTH if b.note else _CHAR_WIDTH)
        for b, s in zip(bars, labels, strict=True)
    ]
    label_width = int(max([*widths, 4 * _CHAR_WIDTH])) + 10
    x0 = label_width
    plot_width = _WIDTH - x0 - _VALUE_COLUMN
    plot_bottom = _TOP + _ROW_HEIGHT * max(len(bars), 1)
    flagged = emphasis_legend and any(
        b.emphasis and b.value is not None and math.isfinite(b.value) for b in bars
    )
    height = plot_bottom + _AXIS_HEIGHT + (14 if footnote else 0) + (14 if flagged else 0)

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
            flag = f", {emphasis_legend}" if bar.emphasis and emphasis_legend else ""
            out.append(
                f'<rect class="bar" x="{x0:.2f}" y="{y}" width="{x_of(bar.value) - x0:.4f}" '
                f'height="{_BAR_HEIGHT}" fill="{fill}"><title>{escape(bar.label)}: '
                f"{escape(value_format(bar.value))}{flag}</title></rect>"
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
    if flagged:
        legend_y += 14
        out.append(
            f'<text class="legend flag" x="{x0}" y="{legend_y}" font-size="{_FONT_SIZE - 1}" '
            f'fill="#111">{_FLAG} {escape(emphasis_legend)}</text>'
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
        text = value_format(bar.value) + (f" {_FLAG}" if bar.emphasis else "")
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
    (29 CFR 1607.4(D)). Such bars are drawn in the accent colour with a \u25bc after their value
    (explained under the axis), and their impact ratio is printed in the table next to the chart.

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
                f"{reference} ({line_value:.3f}); bars below it are orange and their value is "
                "marked with a down-pointing triangle."
                if line_value is not None
                else "no four-fifths line: the reference group's selection rate is undefined."
            )
        ),
        axis_label="selection rate = (TP + FP) / n",
        reference_line=line,
        footnote=footnote,
        emphasis_legend="below the dashed line (impact ratio under 0.8)",
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


# --- explanation charts ------------------------------------------------------------------------
# Signed axes (SHAP values are positive or negative), a label column sized to the longest label
# and a value column at the right edge, so no label or number is ever cut off at print size.

_NEGATIVE = "#c2410c"  # towards the adverse outcome
_POSITIVE = "#2f5d8a"  # towards the favourable outcome
_GROUP_COLOURS = ("#2f5d8a", "#c2410c", "#4d7c0f", "#7c3aed", "#0e7490", "#a16207")
_MAX_GROUPS = 6
_GROUP_TAG_CHARS = 16  # a group's name at its bars is clipped to this; the legend has it whole


def _signed_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (which should include 0)."""
    span = high - low if high > low else 1.0
    raw = span / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


class _Canvas:
    """An SVG under construction: label column, plot area on a signed axis, value column."""

    def __init__(self, title: str, description: str, labels: Sequence[str], value_width: int):
        self.title, self.description = title, description
        # 0.62 em per character: above DejaVu Sans's average, so wide labels still fit.
        longest = max([len(s) for s in labels] + [4])
        self.x0 = int(min(longest, _MAX_LABEL_CHARS) * _FONT_SIZE * 0.62) + 12
        self.x1 = _WIDTH - value_width
        self.parts: list[str] = []
        self.low, self.high = -1.0, 1.0

    def axis(self, low: float, high: float) -> list[float]:
        ticks = _signed_ticks(min(low, 0.0), max(high, 0.0))
        self.low, self.high = ticks[0], ticks[-1]
        return ticks

    def x(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.x0 + (min(max(value, self.low), self.high) - self.low) / span * (
            self.x1 - self.x0
        )

    def add(self, text: str) -> None:
        self.parts.append(text)

    def text(
        self,
        x: float,
        y: float,
        body: str,
        *,
        anchor: str = "start",
        size: int = 0,
        cls: str = "",
        extra: str = "",
    ) -> None:
        size = size or _FONT_SIZE
        klass = f' class="{cls}"' if cls else ""
        self.add(
            f'<text{klass} x="{x:.2f}" y="{y:.2f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="#111"{extra}>{escape(body)}</text>'
        )

    def grid(self, ticks: Sequence[float], top: float, bottom: float) -> None:
        for tick in ticks:
            x = self.x(tick)
            colour, width = ("#333", 1.0) if tick == 0 else ("#d0d4da", 0.6)
            self.add(
                f'<line class="grid" x1="{x:.2f}" y1="{top:.2f}" x2="{x:.2f}" y2="{bottom:.2f}" '
                f'stroke="{colour}" stroke-width="{width}"/>'
            )
            self.text(x, bottom + 12, _tick(tick), anchor="middle", size=_FONT_SIZE - 2, cls="tick")

    def legend(self, y: float, body: str) -> float:
        """Write ``body`` from the label column's edge, wrapped to the chart width; returns the
        baseline of the last line."""
        room = int((_WIDTH - self.x0 - 4) / (_CHAR_WIDTH * 0.95))
        line = ""
        for word in body.split(" "):
            if line and len(line) + 1 + len(word) > room:
                self.text(self.x0, y, line, size=_FONT_SIZE - 1, cls="legend")
                y += 13
                line = word
            else:
                line = f"{line} {word}" if line else word
        self.text(self.x0, y, line, size=_FONT_SIZE - 1, cls="legend")
        return y

    def svg(self, height: float) -> Markup:
        title_id = "chart-" + hashlib.sha256(self.title.encode()).hexdigest()[:10]
        head = [
            f'<svg class="chart" viewBox="0 0 {_WIDTH} {height:.0f}" width="{_WIDTH}" '
            f'height="{height:.0f}" role="img" aria-labelledby="{title_id}">',
            f'<title id="{title_id}">{escape(self.title)}</title>',
            f"<desc>{escape(self.description)}</desc>",
        ]
        return Markup("\n".join([*head, *self.parts, "</svg>"]))


def importance_interval_chart(
    global_importance: Sequence[Mapping[str, Any]], *, level: float = 0.95, limit: int = 20
) -> Markup:
    """Global importance (mean |SHAP| per input column) with its bootstrap interval as whiskers.

    mean |SHAP|_j = (1 / m) * sum_i |phi_ij|; the whisker spans the ``level`` percentile
    bootstrap interval over the explained rows. Largest first, at most ``limit`` columns.
    """
    ranked = sorted(global_importance, key=lambda r: -(r.get("mean_abs_shap") or 0.0))[:limit]
    labels = [_clip(str(r.get("feature"))) for r in ranked]
    canvas = _Canvas(
        "Global feature importance with intervals",
        f"Mean absolute SHAP value per input column, largest first, with {level:.0%} bootstrap "
        "intervals drawn as whiskers.",
        labels,
        _VALUE_COLUMN + 60,
    )
    highs = [float((r.get("ci") or [0, r.get("mean_abs_shap") or 0])[1]) for r in ranked]
    ticks = canvas.axis(0.0, max([0.0, *highs]))
    bottom = _TOP + _ROW_HEIGHT * max(len(ranked), 1)
    canvas.grid(ticks, _TOP - 2, bottom)
    for row, (r, label) in enumerate(zip(ranked, labels, strict=True)):
        y = _TOP + row * _ROW_HEIGHT
        value = float(r.get("mean_abs_shap") or 0.0)
        canvas.text(canvas.x0 - 6, y + _BAR_HEIGHT - 2, label, anchor="end", cls="label")
        canvas.add(
            f'<rect class="importance-bar" x="{canvas.x(0):.2f}" y="{y}" '
            f'width="{canvas.x(value) - canvas.x(0):.4f}" height="{_BAR_HEIGHT}" '
            f'fill="{_POSITIVE}"><title>{escape(str(r.get("feature")))}: '
            f"{escape(_fmt(value))}</title></rect>"
        )
        ci = r.get("ci")
        text = _fmt(value)
        if ci:
            lo, hi = float(ci[0]), float(ci[1])
            mid = y + _BAR_HEIGHT / 2
            canvas.add(
                f'<line class="ci" x1="{canvas.x(lo):.4f}" y1="{mid:.2f}" x2="{canvas.x(hi):.4f}" '
                f'y2="{mid:.2f}" stroke="#111" stroke-width="1.2"/>'
            )
            for end in (lo, hi):
                canvas.add(
                    f'<line x1="{canvas.x(end):.4f}" y1="{y + 2}" x2="{canvas.x(end):.4f}" '
                    f'y2="{y + _BAR_HEIGHT - 2}" stroke="#111" stroke-width="1.2"/>'
                )
            text = f"{_fmt(value)} [{_fmt(lo)}, {_fmt(hi)}]"
        canvas.text(
            _WIDTH - 4, y + _BAR_HEIGHT - 2, text, anchor="end", cls="value", size=_FONT_SIZE - 1
        )
    end = canvas.legend(bottom + 25, f"mean |SHAP value|; whiskers: {level:.0%} interval")
    return canvas.svg(end + 8)


def _mix(level: float) -> str:
    """Blue (low value) to red (high value)."""
    a, b = (0x2F, 0x5D, 0x8A), (0xC2, 0x41, 0x0C)
    t = min(max(level, 0.0), 1.0)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


_GREY = "#8a8f98"
_MEDIAN_RANK = 0.5  # a bin whose rows' mean percentile rank is below this is drawn hollow


#: Attributes shared by every dot of a kind, set once on the kind's ``<g>`` to keep the SVG small.
_DOT_STYLE = {
    "low": 'fill="#fff" stroke-width="0.9"',
    "high": 'stroke="none"',
    "categorical": f'fill="{_GREY}"',
}


def _dot(
    x: float, y: float, level: float | None, median_level: float = _MEDIAN_RANK
) -> tuple[str, str]:
    """One beeswarm dot as (kind, element); the kind's ``_DOT_STYLE`` goes on its group.

    Numeric feature: a circle coloured by ``level`` (the bin's mean percentile rank of the
    feature value), hollow ("low") below ``median_level`` (the percentile rank of the column's
    median value: 0.5 unless ties pile up at the median, as in a column that is mostly 0) and
    filled ("high") at or above it, so the low/high split does not rest on colour. Categorical
    feature: a grey square."""
    if level is None:
        return "categorical", f'<rect x="{x - 1.5:.2f}" y="{y - 1.5:.2f}" width="3" height="3"/>'
    if level < median_level - 1e-9:
        return "low", f'<circle cx="{x:.2f}" cy="{y:.2f}" r="1.4" stroke="{_mix(level)}"/>'
    return "high", f'<circle cx="{x:.2f}" cy="{y:.2f}" r="1.8" fill="{_mix(level)}"/>'


def _dots(cls: str, kind: str, elements: list[str]) -> str:
    return f'<g class="{cls} {kind}" {_DOT_STYLE[kind]}>\n' + "\n".join(elements) + "\n</g>"


def _key(kind: str, element: str) -> str:
    """A sample dot in the legend (class "key", so it is never counted as data)."""
    return _dots("key", kind, [element])


def beeswarm_chart(distribution: Sequence[Mapping[str, Any]]) -> Markup:
    """Beeswarm-style summary: for each input column (most important first), the per-row SHAP
    values as stacked dots along a common axis. Rows are binned (equal-width bins, counts from
    the report), and one dot stands for ``per_dot`` rows so the densest bin fits its row.

    A dot shows its bin's feature value twice: colour from blue (low) to red (high mean
    percentile rank), and shape, a hollow circle when the rank is below 0.5 (the bin's rows are,
    on average, below the column's median) and a filled one otherwise. Categorical columns (no
    order) are grey squares. The legend under the axis explains all three in words."""
    rows = list(distribution)
    labels = [_clip(str(d.get("feature"))) for d in rows]
    canvas = _Canvas(
        "SHAP value distribution per feature",
        "Each row of dots shows how one feature's SHAP values are distributed over the explained "
        "rows; dots right of zero push towards the positive outcome. Each dot shows the "
        "feature's value in its bin twice: by colour, blue for low to red for high, and by "
        "shape, a hollow circle when the rows are on average below the feature's median value "
        "and a filled circle when at or above it. Categorical features, whose values have no "
        "order, are grey squares.",
        labels,
        12,
    )
    if not rows:
        return canvas.svg(_TOP + _AXIS_HEIGHT)
    row_height = 30
    ticks = canvas.axis(float(rows[0]["low"]), float(rows[0]["high"]))
    bottom = _TOP + row_height * len(rows)
    canvas.grid(ticks, _TOP - 2, bottom)
    densest = max(max(d["counts"]) for d in rows) or 1
    stack = 7
    per_dot = max(1, math.ceil(densest / stack))
    low, high = float(rows[0]["low"]), float(rows[0]["high"])
    dots_by_kind: dict[str, list[str]] = {"low": [], "high": [], "categorical": []}
    for i, (d, label) in enumerate(zip(rows, labels, strict=True)):
        y_mid = _TOP + i * row_height + row_height / 2
        canvas.text(canvas.x0 - 6, y_mid + 4, label, anchor="end", cls="label")
        counts, levels = d["counts"], d.get("levels")
        width = (high - low) / len(counts)
        for b, n in enumerate(counts):
            if not n:
                continue
            dots = math.ceil(n / per_dot)
            level = None if not levels else levels[b]
            x = canvas.x(low + (b + 0.5) * width)
            for k in range(dots):
                y = y_mid + (k - (dots - 1) / 2) * 3.6
                kind, element = _dot(x, y, level, d.get("median_level") or _MEDIAN_RANK)
                dots_by_kind[kind].append(element)
    for kind, elements in dots_by_kind.items():
        if elements:
            canvas.add(_dots("dot", kind, elements))
    y = canvas.legend(
        bottom + 25, f"SHAP value; one dot \u2248 {per_dot} row{'s' if per_dot > 1 else ''}"
    )
    small = _FONT_SIZE - 1
    if dots_by_kind["low"] or dots_by_kind["high"]:
        y += 15
        canvas.text(canvas.x0, y, "low feature value", size=small, cls="legend")
        x = canvas.x0 + 17 * small * 0.6 + 8
        for level in (0.0, 0.25, 0.5, 0.75, 1.0):
            canvas.add(_key(*_dot(x, y - 3.5, level)))
            x += 9
        canvas.text(x + 2, y, "high feature value", size=small, cls="legend")
        for level, words in (
            (0.0, "hollow circle: below the feature's median (bin average)"),
            (1.0, "filled circle: at or above the median"),
        ):
            y += 14
            canvas.add(_key(*_dot(canvas.x0 + 3, y - 3.5, level)))
            canvas.text(canvas.x0 + 10, y, words, size=small, cls="legend")
    if dots_by_kind["categorical"]:
        y += 14
        canvas.add(_key(*_dot(canvas.x0 + 3, y - 3.5, None)))
        canvas.text(
            canvas.x0 + 10,
            y,
            "grey square: categorical feature (no order)",
            size=small,
            cls="legend",
        )
    return canvas.svg(y + 8)


def _group_tags(names: Sequence[str]) -> list[str]:
    """Short names printed at each bar: the group's name clipped to ``_GROUP_TAG_CHARS``, or
    G1, G2, ... (spelled out in the legend) when two clipped names would read the same."""
    tags = [_clip(n, _GROUP_TAG_CHARS) for n in names]
    return tags if len(set(tags)) == len(tags) else [f"G{k + 1}" for k in range(len(names))]


def group_importance_chart(
    column: str, groups: Mapping[str, Mapping[str, Any]], features: Sequence[str]
) -> Markup:
    """Per-group importance for one sensitive column: for each feature (overall order), one bar
    per group of mean |SHAP| within the group. Different bar orders between groups mean the
    model relies on different features for them.

    Each bar's value is printed at its end after its group's (short) name, so which group a bar
    belongs to does not rest on its colour; the legend names each colour too. At most
    ``_MAX_GROUPS`` groups are drawn, the largest by n, in the report's order; small groups and
    any beyond those are counted in a note under the legend (the table lists them all)."""
    eligible = [(str(g), v) for g, v in groups.items() if not v.get("small")]
    largest = sorted(range(len(eligible)), key=lambda i: -(eligible[i][1].get("n") or 0))
    keep = set(largest[:_MAX_GROUPS])
    shown = [entry for i, entry in enumerate(eligible) if i in keep]
    small = sum(1 for v in groups.values() if v.get("small"))
    means = {
        g: {r["feature"]: float(r["mean_abs_shap"]) for r in v.get("global", [])} for g, v in shown
    }
    tags = _group_tags([g for g, _ in shown])
    values = {(g, f): means[g].get(f, 0.0) for g, _ in shown for f in features}
    value_size = _FONT_SIZE - 3
    printed = [
        f"{t} {_fmt(values[g, f])}" for (g, _), t in zip(shown, tags, strict=True) for f in features
    ]
    longest = max([len(t) for t in printed] + [5])
    labels = [_clip(f) for f in features]
    names = ", ".join(g for g, _ in shown) or "none"
    canvas = _Canvas(
        f"Feature importance by {column} group",
        f"For each feature, one bar per {column} group ({names}) gives the mean absolute SHAP "
        "value within the group; each bar's value is printed after the group's name.",
        labels,
        int(longest * value_size * 0.62) + 10,
    )
    bar = 8
    block = bar * max(len(shown), 1) + 8
    ticks = canvas.axis(0.0, max([0.0, *values.values()]))
    bottom = _TOP + block * max(len(features), 1)
    canvas.grid(ticks, _TOP - 2, bottom)
    for i, (feature, label) in enumerate(zip(features, labels, strict=True)):
        y = _TOP + i * block
        canvas.text(canvas.x0 - 6, y + block / 2 + 2, label, anchor="end", cls="label")
        for k, ((group, _v), tag) in enumerate(zip(shown, tags, strict=True)):
            value = values[group, feature]
            colour = _GROUP_COLOURS[k % len(_GROUP_COLOURS)]
            canvas.add(
                f'<rect class="group-bar" x="{canvas.x(0):.2f}" y="{y + k * bar}" '
                f'width="{canvas.x(value) - canvas.x(0):.4f}" height="{bar - 1}" fill="{colour}">'
                f"<title>{escape(group)}, {escape(feature)}: {escape(_fmt(value))}</title></rect>"
            )
            canvas.text(
                canvas.x(value) + 3,
                y + k * bar + bar - 1,
                f"{tag} {_fmt(value)}",
                size=value_size,
                cls="value",
            )
    line_y = canvas.legend(bottom + 25.0, "mean |SHAP value| within the group")
    for k, ((group, v), tag) in enumerate(zip(shown, tags, strict=True)):
        line_y += 14
        colour = _GROUP_COLOURS[k % len(_GROUP_COLOURS)]
        canvas.add(
            f'<rect x="{canvas.x0}" y="{line_y - 8}" width="10" height="8" fill="{colour}"/>'
        )
        named = group if tag == group else f"{tag}: {group}"
        canvas.text(
            canvas.x0 + 14,
            line_y,
            _clip(f"{named} (n = {v.get('n')})", 60),
            size=_FONT_SIZE - 1,
            cls="legend",
        )
    extra = len(eligible) - len(shown)
    left_out = [f"{small} small group{'s' if small > 1 else ''}"] if small else []
    if extra:
        left_out.append(f"{extra} more beyond the {_MAX_GROUPS} largest")
    if left_out:
        line_y = canvas.legend(
            line_y + 14, "Not drawn, listed in the table: " + " and ".join(left_out) + "."
        )
    return canvas.svg(line_y + 10)


def waterfall_chart(example: Mapping[str, Any], *, limit: int = 8) -> Markup:
    """One decision as a waterfall: from the base value, each feature's SHAP value moves the
    output left (towards the adverse outcome, orange) or right (blue) until it reaches the
    model's output: output = base value + sum_j phi_j. The ``limit`` largest moves are drawn,
    the rest summed in one step. Each step's value is printed with its sign (- towards the
    adverse outcome, + towards the favourable one), so the direction does not rest on colour."""
    contributions = list(example.get("contributions") or [])
    shown, rest = contributions[:limit], contributions[limit:]
    steps = [(f"{c['feature']} = {c.get('value')}", float(c["attribution"])) for c in shown]
    if rest:
        steps.append((f"{len(rest)} other features", sum(float(c["attribution"]) for c in rest)))
    base = float(example.get("base_value") or 0.0)
    output = float(example.get("model_output") or base + sum(v for _, v in steps))
    labels = [_clip(s) for s, _ in steps] + ["base value", "model output"]
    canvas = _Canvas(
        f"Decision for row {example.get('row_id')}",
        "Waterfall of SHAP values from the base value to the model output for one decision; "
        "each step is labelled with its signed value: negative steps (orange, leftwards) push "
        "towards the adverse outcome, positive ones (blue, rightwards) towards the favourable "
        "one.",
        labels,
        _VALUE_COLUMN,
    )
    points = [base]
    for _, v in steps:
        points.append(points[-1] + v)
    ticks = canvas.axis(min(points + [output]), max(points + [output]))
    n_rows = len(steps) + 2
    bottom = _TOP + _ROW_HEIGHT * n_rows
    canvas.grid(ticks, _TOP - 2, bottom)

    def row(i: int, label: str, start: float, end: float, cls: str, colour: str) -> None:
        y = _TOP + i * _ROW_HEIGHT
        canvas.text(canvas.x0 - 6, y + _BAR_HEIGHT - 2, label, anchor="end", cls="label")
        left, right = sorted((canvas.x(start), canvas.x(end)))
        canvas.add(
            f'<rect class="{cls}" x="{left:.4f}" y="{y}" width="{max(right - left, 1.0):.4f}" '
            f'height="{_BAR_HEIGHT}" fill="{colour}" data-start="{start!r}" data-end="{end!r}">'
            f"<title>{escape(label)}: {escape(f'{end - start:+.3f}')}</title></rect>"
        )
        shown_value = f"{end:.3f}" if cls == "total" else f"{end - start:+.3f}"
        canvas.text(
            _WIDTH - 4,
            y + _BAR_HEIGHT - 2,
            shown_value,
            anchor="end",
            cls="value",
            size=_FONT_SIZE - 1,
        )

    row(
        0,
        "base value",
        0.0 if canvas.low <= 0 <= canvas.high else canvas.low,
        base,
        "total",
        _GREY,
    )
    for i, ((label, value), start) in enumerate(zip(steps, points, strict=False), start=1):
        row(i, _clip(label), start, start + value, "step", _NEGATIVE if value < 0 else _POSITIVE)
    row(
        n_rows - 1,
        "model output",
        0.0 if canvas.low <= 0 <= canvas.high else canvas.low,
        output,
        "total",
        "#111",
    )
    y = canvas.legend(
        bottom + 25,
        "model output (explained score); negative steps (orange): towards the adverse outcome; "
        "positive steps (blue): towards the favourable one",
    )
    return canvas.svg(y + 8)
