"""Each rule's value across a system's versions: the trend section and the ``trend`` rule.

The history is the system's published report.json files, oldest first (at most
:data:`HISTORY` of them in an audit). A version's point is linked when the next version's
``previous`` digest is that report.json's sha256, so a report edited after its successor was
published shows as unlinked (``audit verify`` of that version fails too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import contract
from .findings import Finding

#: earlier versions an audit reads for its trend section and trend rules
HISTORY = 12


@dataclass(frozen=True)
class Published:
    """One published version: its report and the sha256 of its report.json."""

    report: contract.Report
    sha256: str


def worse_when_lower(operator: str) -> bool:
    """A rule with a threshold of the form ``>=``/``>`` is worse when its value falls."""
    return operator in (">=", ">")


def worsening_steps(values: Sequence[float | None], operator: str) -> int:
    """Consecutive steps, ending at the last value, in which the value got worse."""
    sign = 1.0 if worse_when_lower(operator) else -1.0
    steps = 0
    for older, newer in zip(reversed(values[:-1]), reversed(values[1:]), strict=True):
        if older is None or newer is None or sign * (older - newer) <= 0:
            break
        steps += 1
    return steps


def _slope(points: Sequence[tuple[int, float]]) -> float | None:
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def trend_section(
    history: Sequence[Published], current: Sequence[Finding] | None = None
) -> contract.Trend | None:
    """The trend of every rule of the newest judgement (``current``, this audit's findings;
    else the newest published version's), over ``history`` and ``current``; None when
    there is nothing to compare (no history, or only one published version)."""
    reports = list(history)
    if not reports or (current is None and len(reports) < 2):
        return None
    links: list[bool | None] = []
    for older, newer in zip(reports, reports[1:], strict=False):
        links.append(newer.report.previous == f"sha256:{older.sha256}")
    links.append(None)
    rules = list(current) if current is not None else list(reports[-1].report.rules)
    rules = [r for r in rules if r.kind != "trend"]  # their values are counts of these steps
    series = []
    for rule in rules:
        points = []
        for item, linked in zip(reports, links, strict=True):
            found = item.report.rule(rule.id)
            if found is None:
                continue
            points.append(_point(found, item.report, linked))
        if current is not None:
            points.append(_point(rule, None, None))
        values = [p.value for p in points]
        after = reports[-1].report.version + 1  # this audit's version, once published
        known = [
            (after if p.version is None else p.version, float(p.value))
            for p in points
            if p.value is not None
        ]
        series.append(
            contract.TrendSeries(
                rule=rule.id,
                kind=rule.kind,
                metric=rule.metric,
                operator=rule.operator,
                threshold=rule.threshold,
                feature=rule.feature,
                group=rule.group,
                points=points,
                change=known[-1][1] - known[0][1] if len(known) >= 2 else None,
                slope=_slope(known),
                worsening_steps=worsening_steps(
                    [None if v is None else float(v) for v in values], rule.operator
                ),
            )
        )
    return contract.Trend(versions=[p.report.version for p in reports], series=series)


def _point(f: Finding, report: contract.Report | None, linked: bool | None) -> contract.TrendPoint:
    return contract.TrendPoint(
        version=None if report is None else report.version,
        report_id=None if report is None else report.report_id,
        created_at=None if report is None else report.created_at,
        status=f.status,
        value=f.value,
        ci=f.ci,
        linked=linked,
    )
