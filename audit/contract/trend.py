"""The trend section of report.json: each rule's value across the system's published versions
and this audit (post-market monitoring evidence; issue #21)."""

from __future__ import annotations

from typing import Literal

from .base import Interval, Num, Section


class TrendPoint(Section):
    """One version's judgement of a rule."""

    #: the published version; None for this audit (its number is given when it is published)
    version: int | None
    report_id: str | None
    created_at: str | None
    status: Literal["pass", "fail", "warn", "skipped", "waived"]
    value: Num | None
    ci: Interval | None = None
    #: False when the next version's ``previous`` digest does not match this report.json (it
    #: was changed after the next version was published); None where nothing links to it yet
    linked: bool | None = None


class TrendSeries(Section):
    """One rule of the policy across versions, oldest first."""

    rule: str
    kind: str
    metric: str
    operator: Literal[">=", ">", "<=", "<"]
    threshold: Num
    feature: str | None = None
    group: str | None = None
    points: list[TrendPoint]
    #: last value - first value, over the points that have one
    change: float | None = None
    #: least-squares slope of the value per version (None with fewer than two values)
    slope: float | None = None
    #: consecutive steps, ending at the newest point, in which the value moved the way the
    #: rule counts as worse (a threshold of the form >= or >: down; <= or <: up)
    worsening_steps: int = 0


class Trend(Section):
    """The rules' values across the system's versions (``Report.trend``)."""

    versions: list[int]
    series: list[TrendSeries]
