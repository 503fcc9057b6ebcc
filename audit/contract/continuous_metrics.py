"""The regression metric catalogue: every metric of a ``task: regression`` audit, defined once.

Each :class:`ContinuousMetric` names a quantity of ``report.json`` ``regression`` and says where it
lives (``scope``: every group of a feature, one value per feature, or the whole audit), how it is
computed, which way is better and whether it needs the true outcome. The metrics a
``continuous_fairness`` rule may name, the columns of the HTML/PDF table and the metric table in
``docs/policies.md`` derive from this list.

Notation: for the rows of group g, ŷ is the prediction, y the outcome, e = y - ŷ the error, n the
row count; "ref" is the feature's reference group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["group", "feature", "overall"]
Direction = Literal["higher", "lower", "neither"]


@dataclass(frozen=True)
class ContinuousMetric:
    """One regression metric: its report key, formula, scope, direction and what it needs."""

    name: str
    label: str
    formula: str
    scope: Scope
    direction: Direction
    #: needs the true outcome (an audit without a label reports it as None)
    needs_label: bool = False
    #: a comparison with the reference group (None for the reference group itself)
    vs_reference: bool = False
    #: display: the column header in the HTML/PDF groups table ("" = not a column)
    column: str = ""


CONTINUOUS_METRICS: tuple[ContinuousMetric, ...] = (
    ContinuousMetric("mean_prediction", "mean prediction", "Σŷ / n", "group", "neither",
                     column="Mean ŷ"),
    ContinuousMetric("mean_outcome", "mean outcome", "Σy / n", "group", "neither",
                     needs_label=True, column="Mean y"),
    ContinuousMetric("mae", "mean absolute error", "Σ|y - ŷ| / n", "group", "lower",
                     needs_label=True, column="MAE"),
    ContinuousMetric("rmse", "root mean squared error", "sqrt(Σ(y - ŷ)² / n)", "group", "lower",
                     needs_label=True, column="RMSE"),
    ContinuousMetric("mse", "mean squared error (the group loss)", "Σ(y - ŷ)² / n", "group",
                     "lower", needs_label=True),
    ContinuousMetric("mean_prediction_difference", "mean prediction minus the reference's",
                     "mean_prediction(g) - mean_prediction(ref)", "group", "neither",
                     vs_reference=True),
    ContinuousMetric("mean_prediction_ratio", "mean prediction ratio to the reference",
                     "mean_prediction(g) / mean_prediction(ref)", "group", "neither",
                     vs_reference=True, column="Ratio ŷ"),
    ContinuousMetric("mean_outcome_ratio", "mean outcome ratio to the reference",
                     "mean_outcome(g) / mean_outcome(ref)", "group", "neither", needs_label=True,
                     vs_reference=True, column="Ratio y"),
    ContinuousMetric("ks_statistic", "Kolmogorov-Smirnov distance of predictions",
                     "max_x |F_g(x) - F_ref(x)| (empirical CDFs of ŷ)", "group", "lower",
                     vs_reference=True, column="KS D"),
    ContinuousMetric("ks_p_value", "KS two-sample test p-value", "scipy.stats.ks_2samp",
                     "group", "higher", vs_reference=True, column="KS p"),
    ContinuousMetric("wasserstein", "Wasserstein-1 distance of predictions",
                     "∫ |F_g(x) - F_ref(x)| dx", "group", "lower", vs_reference=True,
                     column="W1"),
    ContinuousMetric("bounded_group_loss", "bounded group loss (largest group MSE)",
                     "max_g mse(g) (Agarwal, Dudík & Wu 2019)", "feature", "lower",
                     needs_label=True),
    ContinuousMetric("mae_difference", "largest MAE gap between groups",
                     "max_g mae(g) - min_g mae(g)", "feature", "lower", needs_label=True),
    ContinuousMetric("mean_prediction_gap", "largest gap in mean prediction",
                     "max_g mean_prediction(g) - min_g mean_prediction(g)", "feature", "lower"),
    ContinuousMetric("mean_prediction_ratio_min", "smallest mean prediction ratio",
                     "min_g mean_prediction(g) / max_g mean_prediction(g)", "feature", "higher"),
    ContinuousMetric("ks_max", "largest KS distance to the reference",
                     "max_g ks_statistic(g)", "feature", "lower"),
    ContinuousMetric("wasserstein_max", "largest Wasserstein distance to the reference",
                     "max_g wasserstein(g)", "feature", "lower"),
    ContinuousMetric("mae_overall", "overall MAE", "Σ|y - ŷ| / n over every row", "overall",
                     "lower", needs_label=True),
    ContinuousMetric("rmse_overall", "overall RMSE", "sqrt(Σ(y - ŷ)² / n) over every row",
                     "overall", "lower", needs_label=True),
    ContinuousMetric("r2", "coefficient of determination", "1 - Σ(y - ŷ)² / Σ(y - ȳ)²",
                     "overall", "higher", needs_label=True),
)  # fmt: skip

BY_NAME = {m.name: m for m in CONTINUOUS_METRICS}
#: The report key of an overall metric (``mae_overall`` is ``overall.mae``).
OVERALL_KEY = {"mae_overall": "mae", "rmse_overall": "rmse", "r2": "r2"}


def names(scope: Scope | None = None) -> tuple[str, ...]:
    """The metric names of one scope (every metric when None), in catalogue order."""
    return tuple(m.name for m in CONTINUOUS_METRICS if scope is None or m.scope == scope)


def group_columns() -> tuple[ContinuousMetric, ...]:
    """The group metrics shown as columns of the HTML/PDF table."""
    return tuple(m for m in CONTINUOUS_METRICS if m.scope == "group" and m.column)
