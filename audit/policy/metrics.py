"""The metric names policy rules may compare, and which way is better for each.

The policy package reads every metric name from this one module; the per-group ones come from
the metric catalogue (:mod:`audit.contract.metrics`).
"""

from __future__ import annotations

from ..contract.metrics import GROUP_METRICS as CATALOGUE_METRICS
from ..contract.metrics import judged_metrics

#: Per-group metrics of the fairness engine (judged for every group of a feature), from the
#: metric catalogue in its order (the order of the "valid: ..." list in error messages).
GROUP_METRICS = judged_metrics()
#: Between-group summaries of the fairness engine (one value per feature).
BETWEEN_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equal_opportunity_difference",
)
#: Every metric a fairness rule (or a fairness regression rule) may name.
FAIRNESS_METRICS = GROUP_METRICS + BETWEEN_METRICS
PERFORMANCE_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "selection_rate",
    "base_rate",
)
#: Performance metrics that also exist per group, and the fairness-engine name they have there.
PER_GROUP_PERFORMANCE = {
    "accuracy": "accuracy",
    "precision": "ppv",
    "recall": "tpr",
    "roc_auc": "auc",
    "selection_rate": "selection_rate",
    "base_rate": "base_rate",
}
EXPLANATION_METRICS = (
    "sensitive_share",
    "proxy_share",
    "proxy_auc",
    "additivity_max_abs_error",
    "sensitive_in_top_k",
    "reason_stability",
)
DATA_METRICS = ("group_size", "group_share", "missing_share", "unknown_share", "label_balance")

#: Which way is better, for metrics a regression rule can watch without an explicit direction:
#: per-group metrics as the catalogue says, and the overall and between-group ones.
HIGHER_IS_BETTER = {m.name for m in CATALOGUE_METRICS if m.direction == "higher"} | {
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "demographic_parity_ratio",
}
LOWER_IS_BETTER = {m.name for m in CATALOGUE_METRICS if m.direction == "lower"} | {
    "demographic_parity_difference",
    "equalized_odds_difference",
    "equal_opportunity_difference",
}
