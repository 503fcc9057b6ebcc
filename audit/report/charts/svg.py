"""SVG primitives of the report charts: layout constants, axes, the horizontal bar chart
and the signed-axis canvas the explanation charts draw on."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

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


def _finite(interval: tuple[float, float] | None) -> bool:
    return interval is not None and all(math.isfinite(v) for v in interval)


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
