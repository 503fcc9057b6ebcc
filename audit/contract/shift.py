"""The shift section of report.json: fairness and performance under reweighted group shares
(spec ``shift:``; formulas and the interval method in :mod:`audit.fairness.shift`)."""

from __future__ import annotations

from .base import Interval, Section


class ShiftValue(Section):
    """One metric under a scenario beside the audit's own value.

    ``change`` = ``shifted`` - ``current``; ``ci`` brackets ``shifted`` and ``ci_change`` the
    change (paired: both from the same resamples). None where undefined or not resampled.
    """

    current: float | None
    shifted: float | None
    change: float | None
    ci: Interval | None
    ci_change: Interval | None


class ShiftGroup(Section):
    """One group of the shifted feature: its rows, observed and scenario shares, row weight."""

    n: int
    share: float
    target_share: float
    weight: float


class ShiftFeature(Section):
    """The between-group summaries of one other feature (or intersection) under a scenario."""

    n: int
    compared_groups: list[str]
    summaries: dict[str, ShiftValue]


class ShiftScenarioResult(Section):
    """One scenario: the reweighting and what it does to performance and fairness."""

    id: str
    feature: str
    group: str
    #: the groups of ``feature`` (rows with a missing value keep weight 1: ``unknown``)
    groups: dict[str, ShiftGroup]
    unknown: int
    performance: dict[str, ShiftValue]
    fairness: dict[str, ShiftFeature]
    #: features whose per-group rates the scenario cannot change (the shifted feature and the
    #: intersections holding it: every row of one of their groups has the same weight)
    unchanged: list[str]


class Shift(Section):
    """Shift scenarios (``Report.shift``), in the spec's order."""

    scenarios: list[ShiftScenarioResult]
    method: str
    n_bootstrap: int
    confidence: float
    seed: int
    notes: list[str]

    def scenario(self, scenario_id: str) -> ShiftScenarioResult | None:
        return next((s for s in self.scenarios if s.id == scenario_id), None)
