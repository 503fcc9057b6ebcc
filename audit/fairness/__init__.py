"""Fairness engine: confusion counts per group, once, and every metric derived from them.

``compute_fairness`` gives per-group rates and between-group disparities for each sensitive
feature and their intersection; ``compute_performance`` gives overall predictive performance.
"""

from audit.fairness.counts import GroupCounts
from audit.fairness.metrics import FairnessReport, FeatureFairness, GroupMetrics, compute_fairness
from audit.fairness.performance import PerformanceReport, compute_performance

__all__ = [
    "FairnessReport",
    "FeatureFairness",
    "GroupCounts",
    "GroupMetrics",
    "PerformanceReport",
    "compute_fairness",
    "compute_performance",
]
