"""Drift of the audit data against training or reference data: PSI and two-sample tests.

See :mod:`audit.drift.engine` for what is compared and :mod:`audit.drift.psi` for the PSI
formula, bins and the usual reading (< 0.1 stable, 0.1-0.25 moderate, > 0.25 significant);
:mod:`audit.drift.stream` measures the same drift in one pass over partitions of the audit data.
"""

from audit.drift.engine import (
    CATEGORICAL,
    INSUFFICIENT_DATA,
    NUMERIC,
    ColumnDrift,
    DriftMethod,
    DriftReport,
    GroupDrift,
    SensitiveDrift,
    compute_drift,
)
from audit.drift.psi import EPSILON, bin_counts, psi, quantile_edges
from audit.drift.stream import CurrentDriftStats, DriftPlan
from audit.drift.tests import TestResult, chi2_test, ks_test

__all__ = [
    "CATEGORICAL",
    "EPSILON",
    "INSUFFICIENT_DATA",
    "NUMERIC",
    "ColumnDrift",
    "CurrentDriftStats",
    "DriftMethod",
    "DriftPlan",
    "DriftReport",
    "GroupDrift",
    "SensitiveDrift",
    "TestResult",
    "bin_counts",
    "chi2_test",
    "compute_drift",
    "ks_test",
    "psi",
    "quantile_edges",
]
