"""Fairness charts: a rate by group (selection rate with the four-fifths line, or any
rate with its interval), read from the typed fairness section."""

from __future__ import annotations

import re
from collections.abc import Mapping

from markupsafe import Markup

from audit.contract import GROUP_METRICS, FeatureFairness, GroupFairness, GroupMetric

from .svg import _FOUR_FIFTHS, _MAX_BARS, Bar, ReferenceLine, horizontal_bar_chart


def selection_rate_chart(
    feature: str, evidence: FeatureFairness, max_bars: int = _MAX_BARS
) -> Markup:
    """Selection rate by group for one sensitive feature, with the four-fifths line.

    selection rate = selected / n (= (TP + FP) / n with a label), the share of the group that
    receives the positive decision.
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
    all_groups = evidence.groups
    reference = evidence.reference_group
    groups = _lowest_groups(all_groups, reference, max_bars)
    footnote = (
        f"Showing the reference and the {len(groups) - 1} lowest of {len(all_groups)} groups; "
        "the table lists all."
        if len(groups) < len(all_groups)
        else ""
    )
    ref_stats = groups.get(reference) if reference else None
    reference_rate = ref_stats.metric("selection_rate") if ref_stats is not None else None
    line_value = (
        _FOUR_FIFTHS * reference_rate
        if isinstance(reference_rate, int | float) and reference_rate > 0
        else None
    )
    bars = []
    for name, stats in groups.items():
        rate = stats.metric("selection_rate")
        compared = not stats.excluded and stats.status != "insufficient_data"
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
        axis_label="selection rate = selected / n",
        reference_line=line,
        footnote=footnote,
        emphasis_legend="below the dashed line (impact ratio under 0.8)",
    )


def _interval(stats: GroupFairness, metric: str) -> tuple[float, float] | None:
    """The [low, high] interval of ``metric`` in a group's report entry, if it has one."""
    ci = stats.ci.get(metric)
    if ci is not None and all(isinstance(v, int | float) for v in ci):
        return float(ci[0]), float(ci[1])
    return None


#: How an axis words a formula where the catalogue's wording is too long for it.
_AXIS_WORDING = {"scoring_rate": "share scoring above the full sample's median"}


def _axis_formula(metric: GroupMetric) -> str:
    """``TPR = TP / (TP + FN)``: the metric's short name and its catalogue formula."""
    formula = _AXIS_WORDING.get(metric.name) or re.sub(
        r"\b(tp|fp|fn|tn)\b", lambda m: m[0].upper(), metric.formula
    )
    return f"{metric.short} = {formula}"


#: Every catalogued rate :func:`rate_chart` can draw, with the formula printed under the axis.
RATE_FORMULAS = {m.name: _axis_formula(m) for m in GROUP_METRICS}


def rate_chart(
    feature: str, evidence: FeatureFairness, metric: str, max_bars: int = _MAX_BARS
) -> Markup:
    """One rate by group with its confidence interval (a whisker), for one feature.

    Groups reported as "insufficient data" are drawn as "n/a": their rate is withheld, never
    shown as a number that looks solid. With more than ``max_bars`` groups the chart keeps the
    reference group and the groups with the lowest selection rates, as the selection chart does.
    """
    all_groups = evidence.groups
    reference = evidence.reference_group
    groups = _lowest_groups(all_groups, reference, max_bars)
    name = RATE_FORMULAS[metric].split(" = ")[0]
    bars = [
        Bar(
            label=str(group),
            value=stats.metric(metric),
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
    confidence = evidence.confidence
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
    groups: Mapping[str, GroupFairness], reference: str | None, max_bars: int
) -> dict[str, GroupFairness]:
    """At most ``max_bars`` groups: the reference plus the lowest selection rates, in order."""
    if len(groups) <= max_bars:
        return dict(groups)
    others = [name for name in groups if name != reference]
    defined = [n for n in others if groups[n].metric("selection_rate") is not None]
    lowest = sorted(defined, key=lambda n: groups[n].metric("selection_rate") or 0.0)
    undefined = [n for n in others if n not in set(defined)]
    keep = set((lowest + undefined)[: max_bars - (1 if reference in groups else 0)])
    return {n: g for n, g in groups.items() if n in keep or n == reference}
