"""Fairness engine: confusion counts per group, once, and every metric derived from them.

``compute_fairness`` gives per-group rates, intervals and tests and between-group disparities
for each sensitive feature and their intersection; ``compute_performance`` gives overall
predictive performance.
"""

from audit.fairness.counts import GroupCounts
from audit.fairness.engine import FairnessReport, compute_fairness
from audit.fairness.metrics import Comparison, Disparity, FeatureFairness, GroupMetrics
from audit.fairness.performance import PerformanceReport, compute_performance
from audit.fairness.scores import CalibrationBin
from audit.fairness.uncertainty import Interval, ProportionTest

__all__ = [
    "CalibrationBin",
    "Comparison",
    "Disparity",
    "FairnessReport",
    "FeatureFairness",
    "GroupCounts",
    "GroupMetrics",
    "Interval",
    "PerformanceReport",
    "ProportionTest",
    "compute_fairness",
    "compute_performance",
]
