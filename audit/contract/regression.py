"""The regression section of report.json (``task: regression``): per-group statistics of a
continuous prediction and outcome.

Every number is a function of exact counts of the distinct predictions, outcomes and errors per
group (:mod:`audit.fairness.continuous`); formulas in :mod:`audit.contract.continuous_metrics`.
A group under the minimum size reads ``insufficient_data`` (its count kept, every statistic
None); a group under the excluded share is reported but left out of every comparison.
"""

from __future__ import annotations

from typing import Literal

from .base import Interval, Section


class DistributionTest(Section):
    """A two-sample test of a group's predictions against the reference group's."""

    vs: str
    method: str
    statistic: float | None
    p_value: float | None


class RegressionGroup(Section):
    """One group of one feature (or intersection)."""

    n: int
    share: float | None
    status: Literal["ok", "insufficient_data"]
    #: why the group is left out of comparisons (under the excluded share), else None
    excluded: str | None
    mean_prediction: float | None
    mean_outcome: float | None
    mae: float | None
    rmse: float | None
    mse: float | None
    mean_prediction_difference: float | None
    mean_prediction_ratio: float | None
    mean_outcome_ratio: float | None
    ks_statistic: float | None
    ks_p_value: float | None
    wasserstein: float | None
    #: intervals by metric name (None where not defined), and how each was computed
    ci: dict[str, Interval | None]
    ci_method: dict[str, str]
    #: ``ks``: Kolmogorov-Smirnov; ``welch``: Welch's t-test of the mean prediction
    tests: dict[str, DistributionTest]

    def metric(self, name: str) -> float | None:
        value = getattr(self, name, None)
        return None if value is None else float(value)


class RegressionSummary(Section):
    """A between-group summary of one feature: its value, the groups that give it, its interval."""

    value: float | None
    groups: list[str]
    ci: Interval | None
    method: str | None


class RegressionFeature(Section):
    """The groups of one sensitive feature (or intersection ``a&b``)."""

    columns: list[str]
    reference_group: str | None
    #: ``most_favoured`` (highest mean prediction, lowest with ``favourable: lower``),
    #: ``largest`` or ``named``
    reference_rule: Literal["most_favoured", "largest", "named"]
    unknown: int
    min_group_size: int
    exclude_below_share: float | None
    excluded_groups: list[str]
    groups: dict[str, RegressionGroup]
    summaries: dict[str, RegressionSummary]

    def summary(self, name: str) -> float | None:
        found = self.summaries.get(name)
        return None if found is None or found.value is None else float(found.value)


class RegressionOverall(Section):
    """Every row of the audit together."""

    n: int
    mean_prediction: float | None
    mean_outcome: float | None
    mae: float | None
    rmse: float | None
    mse: float | None
    r2: float | None
    ci: dict[str, Interval | None]
    ci_method: dict[str, str]


class Regression(Section):
    """Fairness and performance of a regression model (``Report.regression``)."""

    #: whether a higher prediction favours the person (the spec's ``favourable``)
    favourable: Literal["higher", "lower"]
    #: the group loss of ``bounded_group_loss``
    loss: Literal["squared"]
    labelled: bool
    confidence: float
    n_bootstrap: int
    seed: int
    #: None when every value was counted exactly; else the relative rounding step (2**-16:
    #: values kept to 16 significant bits once more than MAX_DISTINCT were distinct)
    resolution: float | None
    overall: RegressionOverall
    features: dict[str, RegressionFeature]
