"""The acceptance evidence of issue #15 as tests: coverage of the 95% intervals, false failures
of significance-mode rules and power, from benchmarks/bench_inference.py (which prints them).

Where the sampling distribution can be enumerated (one or two groups), the threshold is
asserted on the EXACT coverage (a binomial-weighted sum over every possible count; no seed can
help or hurt), and the seeded simulation is checked against it within 4 standard errors. The
most-favoured ratio (3 and 12 groups) and the false-failure rates are simulated.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from benchmarks import bench_inference as bench

COVERAGE = 0.93
CELLS = [(n, p) for n in bench.SIZES for p in bench.RATES]

#: The engine's rate interval is Jeffreys: Wilson's exact coverage dips to 0.9298 at n = 30,
#: p = 0.3 (x = 5..13 of 30 covered; the interval for 14 of 30 starts at 0.3023), under 0.93.


@pytest.mark.parametrize(("n", "p"), CELLS)
def test_rate_interval_exact_coverage(n: int, p: float) -> None:
    assert bench.exact_selection(n, p) >= COVERAGE


def test_wilson_would_dip_where_jeffreys_does_not() -> None:
    assert bench.exact_selection(30, 0.3) >= COVERAGE
    x = np.arange(31)
    weights = binom.pmf(x, 30, 0.3)
    low, high = bench.iv.wilson(x, 30, bench.CONFIDENCE)
    assert float(weights[(low <= 0.3) & (high >= 0.3)].sum()) == pytest.approx(0.9298, abs=5e-5)


@pytest.mark.parametrize(("n", "p"), CELLS)
def test_rate_interval_tpr_exact_coverage(n: int, p: float) -> None:
    assert bench.exact_tpr(n, p) >= COVERAGE


@pytest.mark.parametrize("name", ["koopman", "newcombe"])
@pytest.mark.parametrize("ratio", [1.0, 0.8])
@pytest.mark.parametrize(("n", "p"), CELLS)
def test_two_group_exact_coverage(name: str, ratio: float, n: int, p: float) -> None:
    assert bench.exact_pair(name, n, p, ratio) >= COVERAGE


def test_simulated_coverage_agrees_with_the_exact_coverage() -> None:
    datasets = 600
    rows = bench.one_rate_coverage(datasets, np.random.default_rng([15, 0]))
    rows += bench.pair_coverage(datasets, np.random.default_rng([15, 1]))
    assert len(rows) == 18 + 36
    for row in rows:
        assert row.exact is not None
        defined = datasets * (1 - row.undefined)
        se = np.sqrt(row.exact * (1 - row.exact) / defined)
        assert abs(row.coverage - row.exact) <= 4 * se + 1e-12, row
        assert row.width > 0


def test_most_favoured_ratio_simulated_coverage() -> None:
    rows = bench.most_favoured_coverage(500, np.random.default_rng([15, 2]))
    assert len(rows) == 2 * 2 * 9
    low = [r for r in rows if r.coverage < COVERAGE]
    assert low == []
    # it narrows as n grows
    for groups in ("3 groups, equal", "12 groups, unequal"):
        widths = [r.width for r in rows if r.setting == groups and r.rate == 0.3]
        assert widths == sorted(widths, reverse=True)


def test_false_failures_of_significance_mode_rules() -> None:
    rows = bench.false_failures(2000, np.random.default_rng([15, 3]))
    assert len(rows) == 6
    assert all(r.failed <= 0.06 for r in rows), rows


def test_power_agrees_with_prediction_and_exact_enumeration() -> None:
    datasets = 1000
    rows = bench.power_table(datasets, np.random.default_rng([15, 4]))
    for r in rows:
        se = np.sqrt(max(r.exact * (1 - r.exact), 1e-4) / datasets)
        assert abs(r.rejected - r.exact) <= 4 * se, r
        assert abs(r.predicted - r.exact) <= 0.02, r
        assert r.rule_rejected <= r.rejected
    at_boundary = [r for r in rows if r.ratio == 0.8]
    assert all(abs(r.predicted - 0.05) < 1e-12 for r in at_boundary)
    mde = {r.n: r.mde for r in rows}
    assert mde[30] < mde[100] < mde[1000] < 0.8
