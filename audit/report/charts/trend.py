"""The trend chart: one rule's value across versions, with intervals and the rule's threshold.

Each version is a point (filled: the rule passed; hollow with a cross: it failed or warned),
joined by a line, with its confidence interval as a vertical whisker; the threshold is a dashed
line labelled with the rule's operator. The x axis names the versions (``v3``, and ``this``
for the audit not yet published); the values are printed above the points, so nothing is told
by colour alone.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from audit.contract import TrendSeries

_WIDTH = 640
_HEIGHT = 190
_LEFT = 64
_RIGHT = 48
_TOP = 22
_BOTTOM = 44
_FONT = 11


def _label(version: int | None) -> str:
    return "this audit" if version is None else f"v{version}"


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) within [low, high]."""
    raw = (high - low) / count
    scale = 10.0 ** math.floor(math.log10(raw))
    step = next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= raw)
    first = math.ceil(low / step - 1e-9)
    return [k * step for k in range(first, int(math.floor(high / step + 1e-9)) + 1)]


def trend_chart(series: TrendSeries) -> Markup:
    """The SVG chart of ``series`` (an empty Markup when no version has a value)."""
    points = series.points
    values = [float(p.value) for p in points if p.value is not None]
    if not values:
        return Markup("")
    bounds = values + [float(series.threshold)]
    for p in points:
        if p.ci is not None and all(math.isfinite(v) for v in p.ci):
            bounds += [float(p.ci[0]), float(p.ci[1])]
    low, high = min(bounds), max(bounds)
    pad = (high - low) * 0.08 or max(abs(high), 1.0) * 0.05
    low, high = low - pad, high + pad
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + (plot_w / 2 if len(points) == 1 else plot_w * i / (len(points) - 1))

    def y(v: float) -> float:
        return _TOP + plot_h * (high - v) / (high - low)

    parts: list[str] = []
    for tick in _ticks(low, high):
        ty = y(tick)
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'class="grid" stroke="#ddd" stroke-width="0.5"/>'
            f'<text x="{_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="{_FONT}">'
            f"{tick:.3g}</text>"
        )
    ty = y(float(series.threshold))
    parts.append(
        f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
        'stroke="#555" stroke-dasharray="5 3" stroke-width="1"/>'
        f'<text x="{_WIDTH - _RIGHT}" y="{ty - 4:.1f}" text-anchor="end" font-size="{_FONT}">'
        f"threshold {escape(series.operator)} {float(series.threshold):.4g}</text>"
    )
    line = [(x(i), y(float(p.value))) for i, p in enumerate(points) if p.value is not None]
    if len(line) > 1:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in line)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>')
    for i, p in enumerate(points):
        px = x(i)
        parts.append(
            f'<text x="{px:.1f}" y="{_HEIGHT - _BOTTOM + 16}" text-anchor="middle" '
            f'font-size="{_FONT}">{escape(_label(p.version))}</text>'
            f'<text x="{px:.1f}" y="{_HEIGHT - _BOTTOM + 30}" text-anchor="middle" '
            f'font-size="{_FONT - 1}">{escape(p.status)}</text>'
        )
        if p.value is None:
            parts.append(
                f'<text x="{px:.1f}" y="{_TOP + plot_h / 2:.1f}" text-anchor="middle" '
                f'font-size="{_FONT}">n/a</text>'
            )
            continue
        py = y(float(p.value))
        if p.ci is not None and all(math.isfinite(v) for v in p.ci):
            y0, y1 = y(float(p.ci[0])), y(float(p.ci[1]))
            parts.append(
                f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{y0:.1f}" y2="{y1:.1f}" '
                'stroke="#1f5fa8" stroke-width="1"/>'
                f'<line x1="{px - 4:.1f}" x2="{px + 4:.1f}" y1="{y0:.1f}" y2="{y0:.1f}" stroke="#1f5fa8"/>'
                f'<line x1="{px - 4:.1f}" x2="{px + 4:.1f}" y1="{y1:.1f}" y2="{y1:.1f}" stroke="#1f5fa8"/>'
            )
        bad = p.status in ("fail", "warn")
        fill = "#fff" if bad else "#1f5fa8"
        parts.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{fill}" stroke="#1f5fa8" '
            'stroke-width="1.5"/>'
        )
        if bad:
            parts.append(
                f'<path d="M{px - 3:.1f},{py - 3:.1f} L{px + 3:.1f},{py + 3:.1f} '
                f'M{px - 3:.1f},{py + 3:.1f} L{px + 3:.1f},{py - 3:.1f}" stroke="#c2410c"/>'
            )
        parts.append(
            f'<text x="{px:.1f}" y="{py - 8:.1f}" text-anchor="middle" font-size="{_FONT}">'
            f"{float(p.value):.3g}</text>"
        )
    first, last = _label(points[0].version), _label(points[-1].version)
    title = f"{series.rule}: {series.metric} from {first} to {last}"
    desc = "; ".join(
        f"{_label(p.version)}: {'n/a' if p.value is None else f'{float(p.value):.4g}'} ({p.status})"
        for p in points
    )
    return Markup(
        f'<svg class="chart trend-chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'font-family="DejaVu Sans, sans-serif"><title>{escape(title)}</title>'
        f"<desc>{escape(desc)}</desc>{''.join(parts)}</svg>"
    )
