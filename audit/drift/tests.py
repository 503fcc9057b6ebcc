"""Two-sample tests: could the reference and current values come from the same distribution?

PSI says how far a distribution moved; a test says whether the move is more than sampling noise.
Both come from scipy, called exactly as documented here, so anyone can reproduce a p-value:

- numeric columns: the two-sample Kolmogorov-Smirnov test, ``scipy.stats.ks_2samp(ref, cur)``
  (two-sided, ``method="auto"``: exact for small samples, asymptotic otherwise). The statistic is
  ``D = max_x |F_ref(x) - F_cur(x)|``, the largest gap between the two empirical CDFs.
- categorical columns: Pearson's chi-squared test of independence on the 2 x K table of counts
  (row = dataset, column = category), ``scipy.stats.chi2_contingency(table)`` with scipy's
  defaults (Yates' continuity correction when the table has one degree of freedom, i.e. two
  categories). ``statistic = sum (observed - expected)^2 / expected`` with
  ``expected = row total * column total / n``; ``dof = K - 1``. A table with a single category
  has no degree of freedom: statistic 0, p-value 1.

With very large samples every test finds *some* difference: a p-value says a shift is real, PSI
says whether it is big enough to matter. Policies should use both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2_contingency, ks_2samp


@dataclass(frozen=True)
class TestResult:
    """Outcome of one two-sample test: which test, its statistic and its p-value."""

    __test__ = False  # a domain value, not a pytest test class

    test: str
    statistic: float
    p_value: float


def ks_test(reference: np.ndarray, current: np.ndarray) -> TestResult:
    """Two-sample Kolmogorov-Smirnov test of non-missing numeric values (both non-empty)."""
    result = ks_2samp(reference, current)
    return TestResult("ks", float(result.statistic), float(result.pvalue))


def chi2_test(reference_counts: np.ndarray, current_counts: np.ndarray) -> TestResult:
    """Chi-squared test on category counts; categories empty in both datasets are dropped first.

    An all-zero column would make an expected count 0 and the statistic undefined; such a
    category carries no evidence either way, so leaving it out changes nothing else.
    """
    table = np.vstack([reference_counts, current_counts]).astype(np.int64)
    table = table[:, table.sum(axis=0) > 0]
    result = chi2_contingency(table)
    return TestResult("chi2", float(result.statistic), float(result.pvalue))
