"""audit.fairness.intervals against independent computations: statsmodels (proportion_confint,
confint_proportions_2indep, test_proportions_2indep, proportions_ztest, multipletests,
normal_power_het), scipy's root finder on statsmodels' score statistic, exact binomial sums,
and published examples (Newcombe 1998a/b, Koopman 1984 via Nam 1995, Fagerland et al. 2015).

statsmodels' score interval for the ratio (compare="ratio", method="score", correction=False)
IS Koopman's: it solves Nam's (1995) cubic for the limits of Koopman's chi-square. Its closed
form breaks down at the edges (x1 = n1, x2 = n2: complex roots, wrong limits), so there the
oracle is a grid-plus-brentq inversion of statsmodels' own score test statistic.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import product

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import binom, norm
from statsmodels.stats import proportion as smp
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import normal_power_het
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
    score_test_proportions_2indep,
)

from audit.fairness import intervals as iv

Z95 = norm.isf(0.025)
#: our alternative and statsmodels' name for it
SIDES: tuple[tuple[iv.Alternative, str], ...] = (("less", "smaller"), ("greater", "larger"))


@contextmanager
def quiet() -> Iterator[None]:
    """statsmodels divides by zero at the edges (it warns, we test its numbers elsewhere)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def grid(ns: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every (x, n) with n in ns and 0 <= x <= n."""
    pairs = [(x, n) for n in ns for x in range(n + 1)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def pairs_grid(ns: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    x, n = grid(ns)
    i, j = np.meshgrid(np.arange(x.size), np.arange(x.size), indexing="ij")
    return x[i.ravel()], n[i.ravel()], x[j.ravel()], n[j.ravel()]


# -- one rate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_equals_statsmodels_on_every_count(confidence: float) -> None:
    x, n = grid((1, 2, 5, 30, 100, 1000))
    low, high = iv.wilson(x, n, confidence)
    sm_low, sm_high = proportion_confint(x, n, alpha=1 - confidence, method="wilson")
    np.testing.assert_allclose(low, sm_low, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(high, sm_high, rtol=1e-12, atol=1e-15)
    assert np.all(low[x == 0] == 0) and np.all(high[x == n] == 1)


def test_wilson_published_and_hand_values() -> None:
    """Newcombe (1998a, Stat. Med. 17:857) Table I, method 3; 0 of 30 by hand: z^2 / (30 + z^2)."""
    low, high = iv.wilson([81, 15, 0, 1], [263, 148, 20, 29])
    np.testing.assert_allclose(low, [0.2553, 0.0624, 0, 0.0061], atol=5e-5)
    np.testing.assert_allclose(high, [0.3662, 0.1605, 0.1611, 0.1718], atol=5e-5)
    low, high = iv.wilson(0, 30)
    assert low == 0 and high == pytest.approx(Z95**2 / (30 + Z95**2), rel=1e-14)
    low, high = iv.wilson(30, 30)
    assert high == 1 and low == pytest.approx(30 / (30 + Z95**2), rel=1e-14)


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_jeffreys_equals_statsmodels_except_its_endpoint_rule(confidence: float) -> None:
    """statsmodels takes the beta quantiles everywhere; Brown, Cai & DasGupta (2001) set low = 0
    at x = 0 and high = 1 at x = n, as we do."""
    x, n = grid((1, 2, 5, 30, 100, 1000))
    low, high = iv.jeffreys(x, n, confidence)
    sm_low, sm_high = proportion_confint(x, n, alpha=1 - confidence, method="jeffreys")
    inner_low, inner_high = x > 0, x < n
    np.testing.assert_allclose(low[inner_low], sm_low[inner_low], rtol=1e-12)
    np.testing.assert_allclose(high[inner_high], sm_high[inner_high], rtol=1e-12)
    assert np.all(low[~inner_low] == 0) and np.all(high[~inner_high] == 1)
    assert np.all(sm_low[~inner_low] > 0)  # the endpoint rule is a real difference


@pytest.mark.parametrize("interval", [iv.wilson, iv.jeffreys])
def test_one_rate_intervals_nan_at_n0_and_broadcast(interval: Callable) -> None:
    low, high = interval(np.arange(4)[:, None], np.array([3, 10, 20]))
    assert low.shape == high.shape == (4, 3) and low.dtype == np.float64
    np.testing.assert_array_equal(low[:, 1], interval(np.arange(4), 10)[0])
    low, high = interval([0, 0, 2], [0, 5, 0 + 2])
    assert np.isnan(low[0]) and np.isnan(high[0]) and not np.isnan(low[1:]).any()
    # confidence broadcasts too
    low, _ = interval(5, 20, np.array([0.8, 0.9, 0.99]))
    assert low.shape == (3,) and np.all(np.diff(low) < 0)
    one = interval(1, 1)
    assert one[1] == 1 and 0 < one[0] < 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: iv.wilson(5, 3), "x must not exceed n"),
        (lambda: iv.wilson(-1, 3), "x must hold whole numbers"),
        (lambda: iv.wilson(1.5, 3), "x must hold whole numbers"),
        (lambda: iv.wilson(np.array([True]), 3), "x must be an array of whole counts"),
        (lambda: iv.wilson(1, 3, 1.0), "confidence must lie strictly between"),
        (lambda: iv.koopman_ratio(1, 3, 4, 3), "x2 must not exceed n2"),
        (lambda: iv.rate_test(1, 3, 1.2, "less"), "threshold must lie in"),
        (lambda: iv.rate_test(1, 3, 0.5, "smaller"), "alternative must be"),  # type: ignore[arg-type]
        (lambda: iv.ratio_test(1, 3, 1, 3, 0.0, "less"), "theta0 must lie strictly"),
        (lambda: iv.adjust([0.1, 1.5]), "p-values must lie in"),
        (lambda: iv.adjust([0.1], "bonferroni"), "method must be"),  # type: ignore[arg-type]
        (lambda: iv.mde_rate(100, 0.3, power=0.3), "power must lie in"),
        (lambda: iv.most_favoured_ratio_test([1, 2], [5, 5], True, 1.2), "theta0 must lie in"),
    ],
)
def test_bad_arguments_name_the_argument(call: Callable, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_rate_test_equals_statsmodels_score_z_test() -> None:
    """statsmodels' proportions_ztest with prop_var=t uses the null variance: the score test."""
    rng = np.random.default_rng(3)
    n = rng.integers(1, 500, 300)
    x = rng.binomial(n, rng.random(300))
    t = rng.uniform(0.01, 0.99, 300)
    for alternative, sm_name in SIDES:
        z, p = iv.rate_test(x, n, t, alternative)
        for i in range(300):
            sm_z, sm_p = proportions_ztest(x[i], n[i], t[i], sm_name, prop_var=t[i])
            assert z[i] == pytest.approx(sm_z, rel=1e-12, abs=1e-12)
            assert p[i] == pytest.approx(sm_p, rel=1e-10, abs=1e-300)


def test_rate_test_agrees_with_wilson_and_handles_thresholds_0_and_1() -> None:
    """(1 - 2a) Wilson upper end < t <=> p("less") < a; lower end > t <=> p("greater") < a."""
    x, n = grid((1, 3, 10, 30, 100))
    rng = np.random.default_rng(4)
    t = np.concatenate([rng.random(x.size), np.zeros(x.size), np.ones(x.size)])
    x, n = np.tile(x, 3), np.tile(n, 3)
    for a in (0.01, 0.025, 0.05, 0.2):
        low, high = iv.wilson(x, n, 1 - 2 * a)
        for (alternative, _), rejected_by_interval in zip(SIDES, (high < t, low > t), strict=True):
            _, p = iv.rate_test(x, n, t, alternative)
            clear = np.abs(p - a) > 1e-9
            np.testing.assert_array_equal((p < a)[clear], rejected_by_interval[clear])
    _, p = iv.rate_test([0, 3, 0, 3, 3, 2, 3, 2], 3, [0, 0, 0, 0, 1, 1, 1, 1], "less")
    z, q = iv.rate_test([0, 3, 0, 3, 3, 2, 3, 2], 3, [0, 0, 0, 0, 1, 1, 1, 1], "greater")
    np.testing.assert_array_equal(p, [1, 1, 1, 1, 1, 0, 1, 0])
    np.testing.assert_array_equal(q, [1, 0, 1, 0, 1, 1, 1, 1])
    assert np.isnan(iv.rate_test(0, 0, 0.5, "less")[1])


# -- Koopman ----------------------------------------------------------------------------------


def test_koopman_equals_statsmodels_nam_closed_form_inside() -> None:
    """Away from the edges statsmodels' cubic (Nam 1995) is an independent algorithm."""
    x1, n1, x2, n2 = pairs_grid((1, 4, 13, 30))
    inside = (x1 > 0) & (x1 < n1) & (x2 > 0) & (x2 < n2)
    x1, n1, x2, n2 = x1[inside], n1[inside], x2[inside], n2[inside]
    for confidence in (0.9, 0.95):
        low, high = iv.koopman_ratio(x1, n1, x2, n2, confidence)
        for i in range(x1.size):
            sm = confint_proportions_2indep(
                x1[i], n1[i], x2[i], n2[i], compare="ratio", method="score",
                correction=False, alpha=1 - confidence,
            )  # fmt: skip
            np.testing.assert_allclose([low[i], high[i]], np.real(sm), rtol=1e-9)


def test_koopman_published_examples() -> None:
    """Koopman (1984) 36/40 vs 16/80: (2.940, 7.152) (Nam 1995); Fagerland, Lydersen & Laake
    (2015, Stat. Methods Med. Res. 24:224) 7/34 vs 1/34: Koopman asymptotic score (1.21, 43)."""
    np.testing.assert_allclose(iv.koopman_ratio(36, 40, 16, 80), [2.940, 7.152], atol=5e-4)
    # Fagerland et al. print 1.21; Koopman's limit is 1.2209 (statsmodels' cubic agrees, and
    # its own test of this example allows rtol 0.01).
    np.testing.assert_allclose(iv.koopman_ratio(7, 34, 1, 34), [1.21, 43], rtol=0.01)


def _sm_score(x1: int, n1: int, x2: int, n2: int, theta: float) -> float:
    with quiet():
        return float(
            score_test_proportions_2indep(
                x1, n1, x2, n2, value=theta, compare="ratio", correction=False
            ).statistic
        )


def _inverted(x1: int, n1: int, x2: int, n2: int, z: float) -> tuple[float, float]:
    """Brute force: statsmodels' score statistic on a log grid, the crossings of +-z refined by
    brentq. Limits 0 / inf where the statistic never crosses."""
    thetas = np.exp(np.linspace(-12, 12, 2401))
    scores = np.array([_sm_score(x1, n1, x2, n2, t) for t in thetas])
    limits = []
    for target in (z, -z):
        crossing = np.flatnonzero((scores[:-1] - target) * (scores[1:] - target) <= 0)
        if crossing.size == 0:
            limits.append(0.0 if target > 0 else np.inf)
            continue
        i = crossing[0] if target > 0 else crossing[-1]
        limits.append(
            brentq(
                lambda t, target=target: _sm_score(x1, n1, x2, n2, t) - target,
                thetas[i], thetas[i + 1], xtol=1e-14, rtol=1e-14,
            )
        )  # fmt: skip
    return limits[0], limits[1]


@pytest.mark.parametrize(
    "counts",
    [
        (0, 30, 5, 30), (5, 30, 0, 30), (30, 30, 30, 30), (30, 30, 5, 30), (5, 30, 30, 30),
        (0, 30, 30, 30), (30, 30, 0, 30), (1, 1, 1, 1), (0, 1, 1, 1), (1, 1, 0, 1),
        (1, 1000, 999, 1000), (999, 1000, 1, 1000), (3, 7, 100, 100), (1, 2, 1, 1),
    ],
)  # fmt: skip
def test_koopman_at_the_edges_equals_inverted_statsmodels_score_test(
    counts: tuple[int, int, int, int],
) -> None:
    low, high = iv.koopman_ratio(*counts)
    x1, n1, x2, n2 = counts
    sm_low, sm_high = _inverted(x1, n1, x2, n2, Z95)
    assert low == pytest.approx(sm_low, rel=1e-10, abs=1e-300)
    assert high == pytest.approx(sm_high, rel=1e-10)
    assert (low == 0) == (counts[0] == 0) and np.isinf(high) == (counts[2] == 0)


def test_koopman_is_koopmans_pearson_chi_square() -> None:
    """At each limit the Pearson chi-square of both groups at the restricted MLE (Koopman's
    statistic, with statsmodels' restricted MLE) equals z^2."""
    for x1, n1, x2, n2 in [(36, 40, 16, 80), (7, 34, 1, 34), (3, 50, 20, 60), (29, 30, 30, 30)]:
        for theta in iv.koopman_ratio(x1, n1, x2, n2):
            with quiet():
                res = score_test_proportions_2indep(
                    x1, n1, x2, n2, value=theta, compare="ratio", correction=False
                )
            chi2 = sum(
                (x - n * p) ** 2 / (n * p * (1 - p))
                for x, n, p in ((x1, n1, res.prop1_null), (x2, n2, res.prop2_null))
            )
            assert chi2 == pytest.approx(Z95**2, rel=1e-9)


def test_koopman_undefined_broadcast_and_confidence() -> None:
    low, high = iv.koopman_ratio([0, 0, 3], [30, 0, 30], [0, 4, 0], [30, 5, 0])
    assert np.all(np.isnan(low)) and np.all(np.isnan(high))
    low, high = iv.koopman_ratio(np.arange(1, 4)[:, None], 10, np.arange(1, 5), 10, [[0.9]])
    assert low.shape == (3, 4)
    assert low[1, 2] == pytest.approx(float(iv.koopman_ratio(2, 10, 3, 10, 0.9)[0]), rel=1e-15)
    low, high = iv.koopman_ratio(5, 40, 9, 40, np.array([0.99, 0.8]))
    assert low[0] < low[1] and high[0] > high[1]


# -- Newcombe ---------------------------------------------------------------------------------


def test_newcombe_equals_statsmodels_and_newcombe_1998_table_ii() -> None:
    x1, n1, x2, n2 = pairs_grid((1, 5, 20))
    low, high = iv.newcombe_difference(x1, n1, x2, n2)
    sm_low, sm_high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb")
    np.testing.assert_allclose(low, sm_low, atol=1e-12)
    np.testing.assert_allclose(high, sm_high, atol=1e-12)
    # Newcombe (1998b, Stat. Med. 17:873) Table II, method 10; Fagerland et al. (2015).
    table = {
        (56, 70, 48, 80): (0.0524, 0.3339),
        (9, 10, 3, 10): (0.1705, 0.8090),
        (5, 56, 0, 29): (-0.0381, 0.1926),
        (0, 10, 0, 20): (-0.1611, 0.2775),
        (0, 10, 0, 10): (-0.2775, 0.2775),
        (10, 10, 0, 20): (0.6791, 1.0),
        (7, 34, 1, 34): (0.019, 0.340),
    }
    for counts, expected in table.items():
        np.testing.assert_allclose(iv.newcombe_difference(*counts), expected, atol=5e-4)
    assert np.isnan(iv.newcombe_difference(0, 0, 1, 3)).all()
    assert iv.newcombe_difference(np.arange(3)[:, None], 5, np.arange(4), 5)[0].shape == (3, 4)


# -- the ratio test ---------------------------------------------------------------------------


def test_ratio_test_equals_statsmodels_score_test() -> None:
    rng = np.random.default_rng(5)
    n1, n2 = rng.integers(1, 300, 200), rng.integers(1, 300, 200)
    x1, x2 = rng.binomial(n1, 0.3), rng.binomial(n2, 0.4)
    x2[:10] = 0
    x1[10:20] = n1[10:20]
    theta = rng.uniform(0.3, 1.5, 200)
    for alternative, sm_name in SIDES:
        z, p = iv.ratio_test(x1, n1, x2, n2, theta, alternative)
        for i in range(200):
            if x1[i] + x2[i] == 0:
                assert np.isnan(p[i])
                continue
            with quiet():
                sm = smp.test_proportions_2indep(
                    x1[i], n1[i], x2[i], n2[i], value=theta[i], compare="ratio",
                    method="score", alternative=sm_name, correction=False,
                )  # fmt: skip
            assert z[i] == pytest.approx(sm.statistic, rel=1e-10, abs=1e-12)
            assert p[i] == pytest.approx(sm.pvalue, rel=1e-8, abs=1e-300)


def test_ratio_test_agrees_with_koopman() -> None:
    """(1 - 2a) Koopman upper end < theta0 <=> p("less") < a; lower > theta0 <=> p("greater")."""
    x1, n1, x2, n2 = pairs_grid((1, 3, 12, 40))
    for theta0, a in product((0.5, 0.8, 1.0, 1.25), (0.025, 0.05)):
        low, high = iv.koopman_ratio(x1, n1, x2, n2, 1 - 2 * a)
        for (alternative, _), by_interval in zip(SIDES, (high < theta0, low > theta0), strict=True):
            _, p = iv.ratio_test(x1, n1, x2, n2, theta0, alternative)
            clear = ~np.isnan(p) & (np.abs(p - a) > 1e-9)
            np.testing.assert_array_equal((p < a)[clear], by_interval[clear])
            assert np.array_equal(np.isnan(p), np.isnan(low))


# -- multiplicity -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "sm_method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjust_equals_statsmodels_multipletests_with_nans_and_axes(method, sm_method) -> None:
    rng = np.random.default_rng(6)
    p = rng.random((40, 7)) ** 3
    p[rng.random(p.shape) < 0.2] = np.nan
    p[0] = np.nan
    p[1, :] = 0.04  # ties
    adjusted = iv.adjust(p, method)
    for row, out in zip(p, adjusted, strict=True):
        keep = ~np.isnan(row)
        assert np.array_equal(np.isnan(out), ~keep)
        if keep.any():
            expected = multipletests(row[keep], method=sm_method)[1]
            np.testing.assert_allclose(out[keep], expected, rtol=1e-13)
    np.testing.assert_array_equal(iv.adjust(p.T, method, axis=0), adjusted.T)
    full = rng.random((5, 9))
    np.testing.assert_allclose(
        iv.adjust(full, method)[2], multipletests(full[2], method=sm_method)[1], rtol=1e-13
    )
    assert iv.adjust(0.3, method) == 0.3


def test_adjust_none_is_the_identity() -> None:
    p = np.array([0.01, np.nan, 0.5])
    np.testing.assert_array_equal(iv.adjust(p, "none"), p)


# -- power and minimum detectable effects ----------------------------------------------------


def test_power_rate_equals_statsmodels_normal_power_het_and_exact_binomial_power() -> None:
    for n, p, t in product((30, 100, 1000), (0.05, 0.2, 0.3, 0.45), (0.1, 0.3, 0.5)):
        diff = p - t
        for alternative, sm_name in SIDES:
            ours = iv.power_rate(n, p, t, 0.05, alternative)
            sm = normal_power_het(
                diff, n, 0.05, np.sqrt(t * (1 - t)), np.sqrt(p * (1 - p)), sm_name
            )
            assert ours == pytest.approx(sm, rel=1e-10, abs=1e-14)
    # The approximation against the exact power of the score test, P(rate_test p < alpha).
    for p, t in ((0.25, 0.3), (0.27, 0.3), (0.4, 0.5)):
        x = np.arange(1001)
        reject = iv.rate_test(x, 1000, t, "less")[1] < 0.05
        exact = binom.pmf(x, 1000, p)[reject].sum()
        assert float(iv.power_rate(1000, p, t)) == pytest.approx(exact, abs=0.02)
    assert iv.power_rate(100, 0.3, 0.3) == pytest.approx(0.05, rel=1e-12)
    assert iv.power_rate(100, 0.0, 0.3) == 1 and iv.power_rate(100, 1.0, 0.3) == 0
    assert np.isnan(iv.power_rate(0, 0.2, 0.3))
    assert iv.power_rate([[30], [100]], [0.1, 0.2], 0.3).shape == (2, 2)


def _sm_null_variance(n1: float, n2: float, p1: float, p2: float, theta0: float) -> float:
    with quiet():
        return float(
            score_test_proportions_2indep(
                n1 * p1, n1, n2 * p2, n2, value=theta0, compare="ratio", correction=False
            ).variance
        )


def test_power_ratio_equals_farrington_manning_via_statsmodels_and_exact_enumeration() -> None:
    for n1, n2, p1, p2, theta0 in product(
        (30, 100, 1000), (50, 1000), (0.1, 0.15), (0.3,), (0.8, 0.6)
    ):
        v0 = _sm_null_variance(n1, n2, p1, p2, theta0)
        v1 = p1 * (1 - p1) / n1 + theta0**2 * p2 * (1 - p2) / n2
        diff = p1 - theta0 * p2
        for alternative, sm_name in SIDES:
            sm = normal_power_het(diff, 1, 0.05, np.sqrt(v0), np.sqrt(v1), sm_name)
            ours = iv.power_ratio(n1, n2, p1, p2, theta0, 0.05, alternative)
            assert ours == pytest.approx(sm, rel=1e-9, abs=1e-14)
    # Exact power of the score test by enumerating both binomials (n = 400 per group).
    n = 400
    x = np.arange(n + 1)
    x1, x2 = np.meshgrid(x, x, indexing="ij")
    reject = iv.ratio_test(x1, n, x2, n, 0.8, "less")[1] < 0.05
    for ratio in (0.6, 0.7, 0.8):
        weights = np.outer(binom.pmf(x, n, ratio * 0.3), binom.pmf(x, n, 0.3))
        exact = weights[reject].sum()
        assert float(iv.power_ratio(n, n, ratio * 0.3, 0.3, 0.8)) == pytest.approx(exact, abs=0.02)
    assert iv.power_ratio(100, 100, 0.24, 0.3, 0.8) == pytest.approx(0.05, rel=1e-12)
    assert np.isnan(iv.power_ratio(100, 100, 0.0, 0.0, 0.8))
    assert np.isnan(iv.power_ratio(0, 100, 0.1, 0.3, 0.8))


def test_mde_rate_reaches_the_power_and_equals_the_closed_form() -> None:
    """Squaring sqrt(n)(t - p) - z_a s_t = z_b sqrt(p q) gives the quadratic
    (n + z_b^2) p^2 - (2 sqrt(n) k + z_b^2) p + k^2 = 0, k = sqrt(n) t - z_a s_t, whose root
    below k / sqrt(n) is the MDE for "less"."""
    n = np.array([30, 100, 1000, 5000])
    for t, power in product((0.05, 0.3, 0.5, 0.8), (0.5, 0.8, 0.9)):
        mde = iv.mde_rate(n, t, 0.05, power)
        za, zb = norm.isf(0.05), norm.isf(1 - power)
        k = np.sqrt(n) * t - za * np.sqrt(t * (1 - t))
        a, b, c = n + zb**2, -(2 * np.sqrt(n) * k + zb**2), k**2
        with np.errstate(invalid="ignore"):
            roots = (-b + np.array([[-1], [1]]) * np.sqrt(np.maximum(b * b - 4 * a * c, 0))) / (
                2 * a
            )
        numerator = np.sqrt(n) * t - np.sqrt(n) * roots - za * np.sqrt(t * (1 - t))
        valid = (numerator >= -1e-9) & (roots >= 0)  # a double root at power 0.5
        expected = np.where(valid[0], roots[0], np.where(valid[1], roots[1], np.nan))
        if power == 0.5:  # the double root k / sqrt(n), which the formula loses to rounding
            expected = k / np.sqrt(n)
        expected = np.where(k > 0, expected, np.nan)
        np.testing.assert_allclose(mde, expected, rtol=1e-10, atol=1e-13)
        defined = ~np.isnan(mde)
        np.testing.assert_allclose(iv.power_rate(n[defined], mde[defined], t), power, atol=1e-10)
    assert np.isnan(iv.mde_rate(30, 0.05))  # 0 of 30 is not below 0.05 with 95% confidence
    up = iv.mde_rate(1000, 0.3, alternative="greater")
    assert up > 0.3 and iv.power_rate(1000, up, 0.3, alternative="greater") == pytest.approx(0.8)
    assert np.isnan(iv.mde_rate(0, 0.3)) and np.isnan(iv.mde_rate(100, 0.0))


def test_mde_ratio_reaches_the_power_and_power_is_monotone() -> None:
    for n, p2, theta0 in product((30, 100, 1000), (0.05, 0.3, 0.5), (0.8, 0.5)):
        theta1 = iv.mde_ratio(n, n, p2, theta0)
        curve = iv.power_ratio(n, n, np.linspace(0, theta0, 400) * p2, p2, theta0)
        assert np.all(np.diff(curve) <= 1e-12)  # power falls as theta1 nears theta0
        if np.isnan(theta1):
            assert curve[0] < 0.8
        else:
            assert 0 <= theta1 < theta0
            power = iv.power_ratio(n, n, theta1 * p2, p2, theta0)
            assert power == pytest.approx(0.8, abs=1e-10)
    up = iv.mde_ratio(1000, 1000, 0.3, 1.0, alternative="greater")
    assert 1 < up < 1 / 0.3
    assert iv.power_ratio(1000, 1000, up * 0.3, 0.3, 1.0, alternative="greater") == pytest.approx(
        0.8
    )
    assert np.isnan(iv.mde_ratio(1000, 1000, 0.9, 1.2, alternative="greater"))  # 1.2 * 0.9 > 1
    assert iv.mde_ratio([100, 1000], 1000, 0.3, 0.8).shape == (2,)


# -- most-favoured reference -----------------------------------------------------------------


def test_most_favoured_ratio_by_hand_and_from_pairwise_statsmodels_limits() -> None:
    x, n = np.array([30, 24, 12, 50]), np.array([100, 100, 60, 90])
    compared = np.array([True, True, True, False])
    point, low, high = iv.most_favoured_ratio(x, n, compared, 0.95)
    rates = x / n
    np.testing.assert_allclose(point[:3], [1.0, 0.24 / 0.30, 0.20 / 0.30], rtol=1e-15)
    assert np.isnan(point[3]) and np.isnan(low[3]) and np.isnan(high[3])
    for g in range(3):
        others = [h for h in range(3) if h != g]
        lows = [confint_proportions_2indep(x[g], n[g], x[h], n[h], compare="ratio",
                method="score", correction=False, alpha=0.05)[0] for h in others]  # fmt: skip
        # upper limits at one-sided level 0.025 / (G - 1): two-sided alpha 0.05 / 2
        highs = [confint_proportions_2indep(x[g], n[g], x[h], n[h], compare="ratio",
                 method="score", correction=False, alpha=0.025)[1] for h in others]  # fmt: skip
        assert low[g] == pytest.approx(min(1.0, min(lows)), rel=1e-9)
        assert high[g] == pytest.approx(min(1.0, min(highs)), rel=1e-9)
        assert point[g] == pytest.approx(min(1, rates[g] / max(rates[others])))


def test_most_favoured_ratio_edges_and_leading_axes() -> None:
    point, low, high = iv.most_favoured_ratio([0, 0, 0], [30, 30, 30], True)
    assert np.all(np.isnan(point)) and np.all(low == 0) and np.all(high == 1)
    point, low, high = iv.most_favoured_ratio([30, 0, 0], [30, 30, 30], True)
    np.testing.assert_array_equal(point, [1, 0, 0])
    np.testing.assert_array_equal(low, [1, 0, 0])
    # 0 of 30 against 30 of 30 at two-sided confidence 1 - 0.05 / 2; the 0-of-30 pair bounds
    # nothing; Koopman's upper limit at p2 = 1 is the Wilson upper limit of 0 / 30.
    assert high[0] == 1 and high[1] == pytest.approx(float(iv.wilson(0, 30, 0.975)[1]))
    assert np.all(np.isnan(iv.most_favoured_ratio([3, 4], [30, 30], [True, False])[0]))
    assert np.isnan(iv.most_favoured_ratio([3, 0, 5], [30, 0, 30], True)[0][1])
    rng = np.random.default_rng(7)
    n = rng.integers(20, 200, (5, 4))
    x = rng.binomial(n, 0.3)
    mask = rng.random((5, 4)) < 0.8
    stacked = iv.most_favoured_ratio(x, n, mask)
    for i in range(5):
        row = iv.most_favoured_ratio(x[i], n[i], mask[i])
        for a, b in zip(stacked, row, strict=True):
            np.testing.assert_array_equal(a[i], b)


def test_most_favoured_ratio_test_is_the_union_intersection_p_and_matches_the_interval() -> None:
    x, n = np.array([30, 24, 12, 18]), np.array([100, 100, 60, 90])
    p = iv.most_favoured_ratio_test(x, n, True, 0.8)
    for g in range(4):
        pairwise = [
            smp.test_proportions_2indep(x[g], n[g], x[h], n[h], value=0.8, compare="ratio",
                                    method="score", alternative="smaller",
                                    correction=False).pvalue
            for h in range(4) if h != g
        ]  # fmt: skip
        assert p[g] == pytest.approx(min(1, 3 * min(pairwise)), rel=1e-9)
    rng = np.random.default_rng(8)
    n = rng.integers(10, 300, (400, 5))
    x = rng.binomial(n, rng.uniform(0.05, 0.5, (400, 5)))
    mask = rng.random((400, 5)) < 0.9
    for confidence in (0.9, 0.95):
        _, _, high = iv.most_favoured_ratio(x, n, mask, confidence)
        for theta0 in (0.8, 1.0):
            p = iv.most_favoured_ratio_test(x, n, mask, theta0)
            clear = ~np.isnan(p) & (np.abs(p - (1 - confidence) / 2) > 1e-9)
            np.testing.assert_array_equal((p < (1 - confidence) / 2)[clear], (high < theta0)[clear])
            assert np.array_equal(np.isnan(p), np.isnan(high))
    assert np.all(iv.most_favoured_ratio_test([0, 0], [5, 5], True) == 1)


def test_benjamini_hochberg_is_scipys_false_discovery_control_exactly() -> None:
    """Our BH adjustment (which spares a no-model audit scipy.stats' import) gives
    scipy.stats.false_discovery_control's numbers bit for bit: ties, zeros, ones, rows."""
    from scipy.stats import false_discovery_control

    from audit.fairness.intervals import benjamini_hochberg

    rng = np.random.default_rng(11)
    for shape in [(2,), (7,), (5, 9), (3, 4, 6)]:
        p = rng.random(shape)
        p.flat[::3] = np.round(p.flat[::3], 1)  # ties
        p.flat[0], p.flat[-1] = 0.0, 1.0
        assert np.array_equal(
            benjamini_hochberg(p), false_discovery_control(p, axis=-1, method="bh")
        )


def test_jeffreys_quantiles_are_scipys_beta_quantiles_exactly() -> None:
    from scipy.special import betainccinv, betaincinv
    from scipy.stats import beta

    rng = np.random.default_rng(12)
    n = rng.integers(1, 10**6, 5000).astype(float)
    x = np.floor(rng.random(5000) * n)
    for tail in (0.025, 0.005):
        a, b = x + 0.5, n - x + 0.5
        assert np.array_equal(beta.ppf(tail, a, b), betaincinv(a, b, tail))
        assert np.array_equal(beta.isf(tail, a, b), betainccinv(a, b, tail))
