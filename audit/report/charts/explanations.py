"""Explanation charts: global importance, SHAP distributions, importance by group and
the waterfall of one decision, read from the typed explanations section."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from audit.contract import DecisionExample, Distribution, GroupImportance, Importance

from .svg import (
    _AXIS_HEIGHT,
    _BAR_HEIGHT,
    _FONT_SIZE,
    _GROUP_COLOURS,
    _GROUP_TAG_CHARS,
    _MAX_GROUPS,
    _NEGATIVE,
    _POSITIVE,
    _ROW_HEIGHT,
    _TOP,
    _VALUE_COLUMN,
    _WIDTH,
    Bar,
    _Canvas,
    _clip,
    _fmt,
    horizontal_bar_chart,
)


def importance_chart(global_importance: Sequence[Importance], limit: int = 20) -> Markup:
    """Global SHAP importance: mean |SHAP value| per feature, largest first.

    mean |SHAP|_j = (1 / m) * sum_i |phi_ij| over the m explained rows; the table beside the chart
    gives each feature's share of the total. Only the ``limit`` largest features are drawn.
    """
    ranked = sorted(global_importance, key=lambda r: -(r.mean_abs_shap or 0.0))
    rows = ranked[:limit]
    bars = [Bar(label=r.feature, value=r.mean_abs_shap) for r in rows]
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


def importance_interval_chart(
    global_importance: Sequence[Importance], *, level: float = 0.95, limit: int = 20
) -> Markup:
    """Global importance (mean |SHAP| per input column) with its bootstrap interval as whiskers.

    mean |SHAP|_j = (1 / m) * sum_i |phi_ij|; the whisker spans the ``level`` percentile
    bootstrap interval over the explained rows. Largest first, at most ``limit`` columns.
    """
    ranked = sorted(global_importance, key=lambda r: -(r.mean_abs_shap or 0.0))[:limit]
    labels = [_clip(r.feature) for r in ranked]
    canvas = _Canvas(
        "Global feature importance with intervals",
        f"Mean absolute SHAP value per input column, largest first, with {level:.0%} bootstrap "
        "intervals drawn as whiskers.",
        labels,
        _VALUE_COLUMN + 60,
    )
    highs = [float((r.ci or [0, r.mean_abs_shap or 0])[1]) for r in ranked]
    ticks = canvas.axis(0.0, max([0.0, *highs]))
    bottom = _TOP + _ROW_HEIGHT * max(len(ranked), 1)
    canvas.grid(ticks, _TOP - 2, bottom)
    for row, (r, label) in enumerate(zip(ranked, labels, strict=True)):
        y = _TOP + row * _ROW_HEIGHT
        value = float(r.mean_abs_shap or 0.0)
        canvas.text(canvas.x0 - 6, y + _BAR_HEIGHT - 2, label, anchor="end", cls="label")
        canvas.add(
            f'<rect class="importance-bar" x="{canvas.x(0):.2f}" y="{y}" '
            f'width="{canvas.x(value) - canvas.x(0):.4f}" height="{_BAR_HEIGHT}" '
            f'fill="{_POSITIVE}"><title>{escape(r.feature)}: '
            f"{escape(_fmt(value))}</title></rect>"
        )
        ci = r.ci
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


def beeswarm_chart(distribution: Sequence[Distribution]) -> Markup:
    """Beeswarm-style summary: for each input column (most important first), the per-row SHAP
    values as stacked dots along a common axis. Rows are binned (equal-width bins, counts from
    the report), and one dot stands for ``per_dot`` rows so the densest bin fits its row.

    A dot shows its bin's feature value twice: colour from blue (low) to red (high mean
    percentile rank), and shape, a hollow circle when the rank is below 0.5 (the bin's rows are,
    on average, below the column's median) and a filled one otherwise. Categorical columns (no
    order) are grey squares. The legend under the axis explains all three in words."""
    rows = list(distribution)
    labels = [_clip(d.feature) for d in rows]
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
    ticks = canvas.axis(float(rows[0].low), float(rows[0].high))
    bottom = _TOP + row_height * len(rows)
    canvas.grid(ticks, _TOP - 2, bottom)
    densest = max(max(d.counts) for d in rows) or 1
    stack = 7
    per_dot = max(1, math.ceil(densest / stack))
    low, high = float(rows[0].low), float(rows[0].high)
    dots_by_kind: dict[str, list[str]] = {"low": [], "high": [], "categorical": []}
    for i, (d, label) in enumerate(zip(rows, labels, strict=True)):
        y_mid = _TOP + i * row_height + row_height / 2
        canvas.text(canvas.x0 - 6, y_mid + 4, label, anchor="end", cls="label")
        counts, levels = d.counts, d.levels
        width = (high - low) / len(counts)
        for b, n in enumerate(counts):
            if not n:
                continue
            dots = math.ceil(n / per_dot)
            level = None if not levels else levels[b]
            x = canvas.x(low + (b + 0.5) * width)
            for k in range(dots):
                y = y_mid + (k - (dots - 1) / 2) * 3.6
                kind, element = _dot(x, y, level, d.median_level or _MEDIAN_RANK)
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
    column: str, groups: Mapping[str, GroupImportance], features: Sequence[str]
) -> Markup:
    """Per-group importance for one sensitive column: for each feature (overall order), one bar
    per group of mean |SHAP| within the group. Different bar orders between groups mean the
    model relies on different features for them.

    Each bar's value is printed at its end after its group's (short) name, so which group a bar
    belongs to does not rest on its colour; the legend names each colour too. At most
    ``_MAX_GROUPS`` groups are drawn, the largest by n, in the report's order; small groups and
    any beyond those are counted in a note under the legend (the table lists them all)."""
    eligible = [(str(g), v) for g, v in groups.items() if not v.small]
    largest = sorted(range(len(eligible)), key=lambda i: -(eligible[i][1].n or 0))
    keep = set(largest[:_MAX_GROUPS])
    shown = [entry for i, entry in enumerate(eligible) if i in keep]
    small = sum(1 for v in groups.values() if v.small)
    means = {g: {r.feature: float(r.mean_abs_shap) for r in v.global_} for g, v in shown}
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
            _clip(f"{named} (n = {v.n})", 60),
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


def waterfall_chart(example: DecisionExample, *, limit: int = 8) -> Markup:
    """One decision as a waterfall: from the base value, each feature's SHAP value moves the
    output left (towards the adverse outcome, orange) or right (blue) until it reaches the
    model's output: output = base value + sum_j phi_j. The ``limit`` largest moves are drawn,
    the rest summed in one step. Each step's value is printed with its sign (- towards the
    adverse outcome, + towards the favourable one), so the direction does not rest on colour."""
    contributions = list(example.contributions)
    shown, rest = contributions[:limit], contributions[limit:]
    steps = [(f"{c.feature} = {c.value}", float(c.attribution)) for c in shown]
    if rest:
        steps.append((f"{len(rest)} other features", sum(float(c.attribution) for c in rest)))
    base = float(example.base_value or 0.0)
    output = float(example.model_output or base + sum(v for _, v in steps))
    labels = [_clip(s) for s, _ in steps] + ["base value", "model output"]
    canvas = _Canvas(
        f"Decision for row {example.row_id}",
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
