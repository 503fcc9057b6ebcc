"""Score intervals, one-sided score tests, multiplicity adjustment and power for rates.

Pure statistics on counts, vectorized: every function takes arrays of any shape that broadcast
together and returns float64 arrays (NaN where the quantity is undefined, e.g. ``n == 0``).
``confidence`` is two-sided (0.95 -> z = Phi^-1(0.975)); ``alternative`` is "less" or
"greater" and names H1. Phi is the standard normal cdf, z_a = Phi^-1(1 - a), q = 1 - p.

**One rate** x / n, p^ = x / n.

- Wilson (1927) score interval: the t with |p^ - t| <= z sqrt(t (1 - t) / n), i.e.
  (x + z^2/2) / (n + z^2)  -/+  z / (n + z^2) * sqrt(x (n - x) / n + z^2 / 4).
- Jeffreys interval (Brown, Cai & DasGupta 2001, Statist. Sci. 16:101): the a/2 and 1 - a/2
  quantiles of Beta(x + 1/2, n - x + 1/2), a = 1 - confidence, with low = 0 at x = 0 and
  high = 1 at x = n.
- Score test of H0: p >= t (H1 "less") or p <= t ("greater"):
  z = (p^ - t) / sqrt(t (1 - t) / n), p-value Phi(z) ("less") or Phi(-z) ("greater"). It is
  the test the Wilson interval inverts: the (1 - 2a) Wilson upper end is < t <=> p < a.

**Two rates** p1 = x1 / n1 (the group), p2 = x2 / n2 (the reference), ratio theta = p1 / p2.

- Restricted MLE under H0 p1 = theta p2 (Miettinen & Nurminen 1985, Stat. Med. 4:213;
  Farrington & Manning 1990, Stat. Med. 9:1447): p~2 is the smaller root of
  A p^2 + B p + C = 0 with A = theta (n1 + n2), B = -(theta n1 + x1 + n2 + theta x2),
  C = x1 + x2, computed as p~2 = 2 C / (-B + sqrt(B^2 - 4 A C)); p~1 = theta p~2.
- Score statistic z(theta) = (p^1 - theta p^2) / sqrt(p~1 q~1 / n1 + theta^2 p~2 q~2 / n2),
  without the n / (n - 1) correction. z(theta)^2 is Koopman's (1984, Biometrics 40:513)
  Pearson chi-square at the restricted MLE; the test of H0: theta >= theta0 ("less") has
  p = Phi(z(theta0)), of H0: theta <= theta0 ("greater") p = Phi(-z(theta0)).
- Koopman interval: {theta : |z(theta)| <= z}; z(theta) falls from +inf to -inf, so each
  limit is found by bisection on log theta (on whole arrays). low = 0 when x1 = 0, high = inf
  when x2 = 0, NaN when x1 = x2 = 0 (the ratio is 0 / 0).
- Newcombe (1998, Stat. Med. 17:873) hybrid score interval for p1 - p2 (his method 10), from
  the Wilson limits (l_i, u_i): d = p^1 - p^2,
  low = d - sqrt((p^1 - l1)^2 + (u2 - p^2)^2), high = d + sqrt((u1 - p^1)^2 + (p^2 - l2)^2).

**Most-favoured impact ratio** of group g among the G compared groups:
IR_g = min(1, min over compared h != g of p_g / p_h) = p_g / max_h p_h (capped at 1). Interval:
low = min(1, min_h koopman_low_h) at ``confidence``; high = min(1, min_h koopman_high_h) with the
upper limits at the one-sided level (1 - confidence) / (2 (G - 1)) (Bonferroni over the G - 1
candidate references, so the choice of reference is part of the uncertainty). Test of
H0: IR_g >= theta0: the union-intersection p-value min(1, (G - 1) min_h p_h) of the pairwise
"less" tests (Roy 1953; Bonferroni). Upper end < theta0 <=> p < (1 - confidence) / 2.

**Multiplicity**: Holm (1979, Scand. J. Statist. 6:65) step-down, p(i) adjusted =
max_{j <= i} min(1, (m - j + 1) p(j)); Benjamini & Hochberg (1995, JRSS B 57:289) via
:func:`scipy.stats.false_discovery_control`.

**Power** (normal approximation of the score statistic, Farrington & Manning 1990): with the
critical value z_a and the statistic's numerator D ~ N(delta, V1) under the truth, and its
null variance V0, power("less") = Phi((-delta - z_a sqrt(V0)) / sqrt(V1)) and
power("greater") = Phi((delta - z_a sqrt(V0)) / sqrt(V1)). One rate: delta = p - t,
V0 = t (1 - t) / n, V1 = p (1 - p) / n. Ratio: delta = p1 - theta0 p2,
V1 = p1 q1 / n1 + theta0^2 p2 q2 / n2, V0 the same at the restricted MLE of the expected
counts (n1 p1, n2 p2). With V1 = 0 the outcome is certain: power is 1 if the numerator is > 0,
else 0. The minimum detectable effect inverts power = target by bisection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy.special import betainccinv, betaincinv, ndtr, ndtri

Alternative = Literal["less", "greater"]
Adjustment = Literal["holm", "bh", "none"]

#: Koopman limits are searched for in exp(-_LOG_SPAN) .. exp(_LOG_SPAN): enough for counts up to
#: about 1e20 (a limit is at least ~ 1 / (n1 z^2) and at most ~ n2 z^2).
_LOG_SPAN = 60.0
#: Bisection halvings: 120 / 2^48 < 1e-12, the relative accuracy of a Koopman limit.
_HALVINGS = 48
#: Koopman limits are computed in blocks of this many: 4x faster than whole arrays of 1e5.
_BLOCK = 16384

F = np.ndarray


# -- validation -------------------------------------------------------------------------------


def _counts(*pairs: tuple[str, object, str, object]) -> list[F]:
    """(name_x, x, name_n, n), ...: whole counts with 0 <= x <= n, broadcast, as float64."""
    named: list[tuple[str, F]] = []
    for name_x, x, name_n, n in pairs:
        named += [(name_x, np.asarray(x)), (name_n, np.asarray(n))]
    for name, a in named:
        if a.dtype == bool or not np.issubdtype(a.dtype, np.number):
            raise ValueError(f"{name} must be an array of whole counts, got dtype {a.dtype}")
        if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a != np.round(a)):
            raise ValueError(f"{name} must hold whole numbers >= 0 (counts), got {a}")
    arrays = np.broadcast_arrays(*(a.astype(np.float64) for _, a in named))
    for i in range(0, len(arrays), 2):
        if np.any(arrays[i] > arrays[i + 1]):
            raise ValueError(f"{named[i][0]} must not exceed {named[i + 1][0]} (x of n)")
    return [np.array(a) for a in arrays]


def _level(value: object, name: str, low: float = 0.0, high: float = 1.0) -> F:
    """A float array strictly inside (low, high)."""
    a = np.asarray(value, dtype=np.float64)
    if not np.all((a > low) & (a < high)):
        raise ValueError(f"{name} must lie strictly between {low} and {high}, got {value}")
    return a


def _alternative(alternative: str) -> bool:
    """True for "less", False for "greater"."""
    if alternative not in ("less", "greater"):
        raise ValueError(f'alternative must be "less" or "greater", got {alternative!r}')
    return alternative == "less"


def _critical(confidence: object) -> F:
    """Two-sided critical value z = Phi^-1((1 + confidence) / 2)."""
    return ndtri((1 + _level(confidence, "confidence")) / 2)


def _bisect(f: Callable[[F], F], a: object, b: object) -> F:
    """The root of f between a and b (either order) where f(a) > 0 >= f(b), on whole arrays.

    Bisection as signed steps: from the midpoint, each step moves a quarter, an eighth, ...
    of (b - a) towards b where f > 0 and towards a where f < 0 (it stays where f is 0 or NaN).
    """
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    point, step = (a + b) / 2, (b - a) / 4
    for _ in range(_HALVINGS):
        point = point + step * np.nan_to_num(np.sign(f(point)))
        step = step / 2
    return point


def _normal_power(numerator: F, sd: F) -> F:
    """Phi(numerator / sd); where sd == 0 the outcome is certain: 1 if numerator > 0, else 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, ndtr(numerator / np.where(sd > 0, sd, 1)), numerator > 0) * 1.0


# -- one rate ---------------------------------------------------------------------------------


def wilson(x: object, n: object, confidence: object = 0.95) -> tuple[F, F]:
    """Wilson score interval for x / n (see the module docstring). NaN where n == 0."""
    x, n = _counts(("x", x, "n", n))
    z2 = _critical(confidence) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        center = (x + z2 / 2) / (n + z2)
        half = np.sqrt(z2) / (n + z2) * np.sqrt(x * (n - x) / n + z2 / 4)
    low = np.where(x == 0, 0.0, np.clip(center - half, 0, 1))
    high = np.where(x == n, 1.0, np.clip(center + half, 0, 1))
    return np.where(n == 0, np.nan, low), np.where(n == 0, np.nan, high)


def jeffreys(x: object, n: object, confidence: object = 0.95) -> tuple[F, F]:
    """Jeffreys interval: Beta(x + 1/2, n - x + 1/2) quantiles a/2 and 1 - a/2; low = 0 at
    x = 0, high = 1 at x = n; NaN where n == 0."""
    x, n = _counts(("x", x, "n", n))
    tail = (1 - _level(confidence, "confidence")) / 2
    safe = np.where(n == 0, 1.0, n)
    # the Beta(x + 1/2, n - x + 1/2) quantiles: scipy.stats.beta.ppf / .isf are these functions
    # (tested equal), and scipy.special loads in a fraction of scipy.stats' import time
    low = np.where(x == 0, 0.0, betaincinv(x + 0.5, safe - x + 0.5, tail))
    high = np.where(x == n, 1.0, betainccinv(x + 0.5, safe - x + 0.5, tail))
    return np.where(n == 0, np.nan, low), np.where(n == 0, np.nan, high)


def rate_test(x: object, n: object, threshold: object, alternative: Alternative) -> tuple[F, F]:
    """One-sided score test of x / n against ``threshold`` t: (z, p-value).

    z = (x/n - t) / sqrt(t (1 - t) / n); "less" (H0: p >= t) p = Phi(z), "greater" (H0:
    p <= t) p = Phi(-z). At t = 0 or 1 the statistic is 0 where x/n = t and +-inf otherwise,
    and H0 holds for sure (p = 1) unless the data are impossible under it (p = 0): "less" at
    t = 0 always gives p = 1. NaN where n == 0.
    """
    less = _alternative(alternative)
    x, n = _counts(("x", x, "n", n))
    t = np.asarray(threshold, dtype=np.float64)
    if not np.all((t >= 0) & (t <= 1)):
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = x / n - t
        z = np.where(diff == 0, 0.0, diff / np.sqrt(t * (1 - t) / n))
    p = ndtr(z if less else -z)
    p = np.where((t * (1 - t) == 0) & (z == 0), 1.0, p)
    return np.where(n == 0, np.nan, z), np.where(n == 0, np.nan, p)


# -- two rates --------------------------------------------------------------------------------


def _restricted_mle(x1: F, n1: F, x2: F, n2: F, theta: F) -> tuple[F, F]:
    """(p~1, p~2): the likelihood maximum under p1 = theta p2 (module docstring). Counts may be
    expected (non-integer) counts."""
    a = theta * (n1 + n2)
    b = -(theta * n1 + x1 + n2 + theta * x2)
    c = x1 + x2
    p2 = 2 * c / (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0)))
    p2 = np.clip(p2, 0.0, 1.0)
    return np.clip(theta * p2, 0.0, 1.0), p2


def _ratio_score(x1: F, n1: F, x2: F, n2: F, theta: F) -> F:
    """z(theta) of the module docstring; 0 where its numerator is 0 (also 0 / 0)."""
    p1, p2 = _restricted_mle(x1, n1, x2, n2, theta)
    numerator = x1 / n1 - theta * x2 / n2
    variance = np.maximum(p1 * (1 - p1) / n1 + theta**2 * p2 * (1 - p2) / n2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(numerator == 0, 0.0, numerator / np.sqrt(variance))


def _two(x1: object, n1: object, x2: object, n2: object) -> tuple[F, F, F, F, F]:
    """Validated counts with placeholder 1-of-2 where the ratio is undefined, and the mask of
    where it is defined (n1, n2 > 0 and x1 + x2 > 0)."""
    x1, n1, x2, n2 = _counts(("x1", x1, "n1", n1), ("x2", x2, "n2", n2))
    defined = (n1 > 0) & (n2 > 0) & (x1 + x2 > 0)
    safe = [np.where(defined, a, d) for a, d in ((x1, 1.0), (n1, 2.0), (x2, 1.0), (n2, 2.0))]
    return safe[0], safe[1], safe[2], safe[3], defined


def _koopman_limit(x1: F, n1: F, x2: F, n2: F, z: F, start: F | float, stop: F | float) -> F:
    """log theta where p^1 - theta p^2 = z sqrt(var(theta)), i.e. z(theta) = z (z may be
    negative), by bisection between start (where z(theta) > z) and stop (below it). The
    restricted MLE and variance of :func:`_ratio_score`, with the constants taken out."""
    two_c, four_nc = 2 * (x1 + x2), 4 * (n1 + n2) * (x1 + x2)
    slope, offset = n1 + x2, x1 + n2
    r1, r2 = x1 / n1, x2 / n2

    def excess(log_theta: F) -> F:
        theta = np.exp(log_theta)
        b = theta * slope + offset
        p2 = two_c / (b + np.sqrt(np.maximum(b * b - four_nc * theta, 0.0)))
        p1 = theta * p2
        variance = p1 * (1 - p1) / n1 + theta * theta * p2 * (1 - p2) / n2
        return r1 - theta * r2 - z * np.sqrt(np.maximum(variance, 0.0))

    return _bisect(excess, start, stop)


def koopman_ratio(
    x1: object, n1: object, x2: object, n2: object, confidence: object = 0.95
) -> tuple[F, F]:
    """Koopman (1984) score interval for p1 / p2 (module docstring): bisection on log theta,
    relative accuracy 1e-12. low = 0 at x1 = 0, high = inf at x2 = 0, NaN at x1 = x2 = 0 or
    where n1 or n2 is 0."""
    x1, n1, x2, n2, defined = _two(x1, n1, x2, n2)
    x1, n1, x2, n2, z = np.broadcast_arrays(x1, n1, x2, n2, _critical(confidence))
    with np.errstate(divide="ignore"):
        estimate = np.clip(np.log(x1 / n1) - np.log(x2 / n2), -_LOG_SPAN, _LOG_SPAN)
    low, high = np.empty(x1.shape), np.empty(x1.shape)
    flat = [a.reshape(-1) for a in (x1, n1, x2, n2, z, estimate, low, high)]
    for start in range(0, x1.size, _BLOCK):  # blocks that stay in the CPU cache
        b1, m1, b2, m2, zb, est, lo, hi = (a[start : start + _BLOCK] for a in flat)
        # The limits lie on either side of the estimate, where z(theta) = 0; bisection never
        # evaluates z at the estimate itself (0 / 0 there when x1 = n1 and x2 = n2).
        lo[:] = np.exp(_koopman_limit(b1, m1, b2, m2, zb, -_LOG_SPAN, est))
        hi[:] = np.exp(_koopman_limit(b1, m1, b2, m2, -zb, est, _LOG_SPAN))
    low = np.where(x1 == 0, 0.0, low)
    high = np.where(x2 == 0, np.inf, high)
    return np.where(defined, low, np.nan), np.where(defined, high, np.nan)


def newcombe_difference(
    x1: object, n1: object, x2: object, n2: object, confidence: object = 0.95
) -> tuple[F, F]:
    """Newcombe (1998) method 10 interval for p1 - p2 from Wilson limits; NaN where n = 0."""
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    x1, n1, x2, n2 = _counts(("x1", x1, "n1", n1), ("x2", x2, "n2", n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    return d - np.hypot(p1 - l1, u2 - p2), d + np.hypot(u1 - p1, p2 - l2)


def ratio_test(
    x1: object, n1: object, x2: object, n2: object, theta0: object, alternative: Alternative
) -> tuple[F, F]:
    """Farrington-Manning / Koopman score test of p1 / p2 against theta0: (z, p-value).

    "less": H0 p1/p2 >= theta0, p = Phi(z(theta0)); "greater": H0 p1/p2 <= theta0,
    p = Phi(-z(theta0)). NaN where n1 or n2 is 0 or x1 = x2 = 0.
    """
    less = _alternative(alternative)
    theta = _level(theta0, "theta0", 0.0, np.inf)
    x1, n1, x2, n2, defined = _two(x1, n1, x2, n2)
    z = _ratio_score(x1, n1, x2, n2, theta)
    p = ndtr(z if less else -z)
    return np.where(defined, z, np.nan), np.where(defined, p, np.nan)


# -- most-favoured reference ------------------------------------------------------------------


def _pairs(x: object, n: object, compared_mask: object) -> tuple[F, F, F, F, F, F, F]:
    """Group g on axis -2, candidate reference h on axis -1: (xg, ng, xh, nh, pair, G - 1,
    compared), pair = both compared and h != g; a group with n = 0 is not compared."""
    x, n = _counts(("x", x, "n", n))
    if x.ndim == 0:
        raise ValueError("x and n need a group axis (the last one)")
    compared = np.broadcast_to(np.asarray(compared_mask, dtype=bool), x.shape) & (n > 0)
    others = compared.sum(axis=-1, keepdims=True)[..., None] - 1
    pair = compared[..., :, None] & compared[..., None, :] & ~np.eye(x.shape[-1], dtype=bool)
    return (
        x[..., :, None],
        n[..., :, None],
        x[..., None, :],
        n[..., None, :],
        pair,
        others,
        compared,
    )


def most_favoured_ratio(
    x: object, n: object, compared_mask: object, confidence: float = 0.95
) -> tuple[F, F, F]:
    """(point, low, high) of IR_g against the most-favoured group, groups on the last axis.

    See the module docstring. A pair (g, h) with x_g = x_h = 0 bounds nothing (0 .. inf).
    Where every compared rate is 0 the point is NaN and the interval [0, 1]. Groups not in
    ``compared_mask``, and all groups when fewer than two are compared, get NaN.
    """
    xg, ng, xh, nh, pair, others, compared = _pairs(x, n, compared_mask)
    high_level = 1 - (1 - _level(confidence, "confidence")) / np.maximum(others, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rg, rh = xg / ng, xh / nh
        best = np.where(pair, rh, -np.inf).max(axis=-1)
        point = np.where(best > 0, np.minimum(1.0, rg[..., 0] / best), 1.0)
    point = np.where(rg[..., 0] > 0, point, np.where(best > 0, 0.0, np.nan))
    low, _ = koopman_ratio(xg, ng, xh, nh, confidence)
    _, high = koopman_ratio(xg, ng, xh, nh, high_level)
    low = np.where(pair, np.nan_to_num(low, nan=0.0), np.inf).min(axis=-1)
    high = np.where(pair, np.nan_to_num(high, nan=np.inf, posinf=np.inf), np.inf).min(axis=-1)
    ok = compared & (others[..., 0] >= 1)
    point, low, high = (np.where(ok, np.minimum(v, 1.0), np.nan) for v in (point, low, high))
    return point, low, high


def most_favoured_ratio_test(x: object, n: object, compared_mask: object, theta0: float = 0.8) -> F:
    """p-value of H0: IR_g >= theta0 (0 < theta0 <= 1) per group, on the last axis:
    min(1, (G - 1) min_h p_gh) over the pairwise "less" ratio tests; 1 where no pair is
    defined (all rates 0), NaN for groups not compared or when fewer than two are."""
    if not 0 < theta0 <= 1:
        raise ValueError(f"theta0 must lie in (0, 1] (IR_g is at most 1), got {theta0}")
    theta = float(theta0)
    xg, ng, xh, nh, pair, others, compared = _pairs(x, n, compared_mask)
    _, p = ratio_test(xg, ng, xh, nh, theta, "less")
    smallest = np.where(pair & ~np.isnan(p), p, 1.0).min(axis=-1)
    adjusted = np.minimum(1.0, others[..., 0] * smallest)
    return np.where(compared & (others[..., 0] >= 1), adjusted, np.nan)


# -- multiplicity -----------------------------------------------------------------------------


def adjust(p: object, method: Adjustment = "holm", axis: int = -1) -> F:
    """Adjusted p-values along ``axis`` (one family per slice): "holm", "bh" or "none".

    NaN entries stay NaN and do not count in m, the number of tests of the family.
    """
    if method not in ("holm", "bh", "none"):
        raise ValueError(f'method must be "holm", "bh" or "none", got {method!r}')
    p = np.asarray(p, dtype=np.float64)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1] (or be NaN)")
    if method == "none" or p.ndim == 0 or p.size == 0:
        return p.copy()
    moved = np.moveaxis(p, axis, -1)
    if method == "holm":
        order = np.argsort(moved, axis=-1)  # NaN last
        ordered = np.take_along_axis(moved, order, axis=-1)
        m = np.sum(~np.isnan(moved), axis=-1, keepdims=True)
        steps = np.minimum(1.0, (m - np.arange(moved.shape[-1])) * ordered)
        out = np.empty_like(moved)
        np.put_along_axis(out, order, np.maximum.accumulate(steps, axis=-1), axis=-1)
    else:
        if not np.isnan(moved).any():
            out = benjamini_hochberg(moved)
        else:
            out = np.full_like(moved, np.nan)
            for index in np.ndindex(moved.shape[:-1]):
                row, keep = moved[index], ~np.isnan(moved[index])
                if keep.any():
                    out[index][keep] = benjamini_hochberg(row[keep])
    return np.moveaxis(out, -1, axis)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values along the last axis: the steps of
    ``scipy.stats.false_discovery_control(p, axis=-1, method="bh")``, operation for operation
    (tested equal), without importing scipy.stats."""
    if p.size <= 1 or p.shape[-1] <= 1:
        return p.copy()
    m = p.shape[-1]
    order = np.argsort(p, axis=-1)
    ps = np.take_along_axis(p, order, axis=-1)
    ps = ps * (m / np.arange(1, m + 1, dtype=ps.dtype))
    np.minimum.accumulate(ps[..., ::-1], out=ps[..., ::-1], axis=-1)
    out = np.empty_like(ps)
    np.put_along_axis(out, order, ps, axis=-1)
    return np.clip(out, 0.0, 1.0)


# -- power and minimum detectable effects ----------------------------------------------------


def power_rate(
    n: object,
    p_true: object,
    threshold: object,
    alpha: object = 0.05,
    alternative: Alternative = "less",
) -> F:
    """Power of :func:`rate_test` at level alpha when the true rate is p_true (normal
    approximation, module docstring): Phi((+-(p - t) sqrt(n) - z_a sqrt(t q_t)) / sqrt(p q))
    with the sign - for "less", + for "greater". NaN where n == 0."""
    sign = -1.0 if _alternative(alternative) else 1.0
    n = np.asarray(n, dtype=np.float64)
    p, t = np.asarray(p_true, dtype=np.float64), np.asarray(threshold, dtype=np.float64)
    if np.any(n < 0) or not np.all((p >= 0) & (p <= 1) & (t >= 0) & (t <= 1)):
        raise ValueError("need n >= 0 and p_true, threshold in [0, 1]")
    za = ndtri(1 - _level(alpha, "alpha"))
    root_n = np.sqrt(n)
    numerator = sign * (p - t) * root_n - za * np.sqrt(t * (1 - t))
    return np.where(n > 0, _normal_power(numerator, np.sqrt(p * (1 - p))), np.nan)


def power_ratio(
    n1: object,
    n2: object,
    p1: object,
    p2: object,
    theta0: object,
    alpha: object = 0.05,
    alternative: Alternative = "less",
) -> F:
    """Power of :func:`ratio_test` at level alpha for true rates p1, p2 (Farrington & Manning
    1990; module docstring). NaN where n1 or n2 is 0 or p1 = p2 = 0."""
    sign = -1.0 if _alternative(alternative) else 1.0
    theta = _level(theta0, "theta0", 0.0, np.inf)
    n1, n2, p1, p2 = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (n1, n2, p1, p2)))
    if (
        np.any(n1 < 0)
        or np.any(n2 < 0)
        or not np.all((p1 >= 0) & (p1 <= 1) & (p2 >= 0) & (p2 <= 1))
    ):
        raise ValueError("need n1, n2 >= 0 and p1, p2 in [0, 1]")
    za = ndtri(1 - _level(alpha, "alpha"))
    defined = (n1 > 0) & (n2 > 0) & (p1 + p2 > 0)
    m1, m2 = np.where(defined, n1, 2.0), np.where(defined, n2, 2.0)
    q1, q2 = np.where(defined, p1, 0.5), np.where(defined, p2, 0.5)
    r1, r2 = _restricted_mle(m1 * q1, m1, m2 * q2, m2, theta)
    v0 = r1 * (1 - r1) / m1 + theta**2 * r2 * (1 - r2) / m2
    v1 = q1 * (1 - q1) / m1 + theta**2 * q2 * (1 - q2) / m2
    numerator = sign * (q1 - theta * q2) - za * np.sqrt(np.maximum(v0, 0.0))
    return np.where(defined, _normal_power(numerator, np.sqrt(v1)), np.nan)


def _target(power: object) -> F:
    """Target power in [0.5, 1): there the power curves are monotone (module docstring)."""
    a = np.asarray(power, dtype=np.float64)
    if not np.all((a >= 0.5) & (a < 1)):
        raise ValueError(f"power must lie in [0.5, 1), got {power}")
    return a


def mde_rate(
    n: object,
    threshold: object,
    alpha: object = 0.05,
    power: object = 0.8,
    alternative: Alternative = "less",
) -> F:
    """Minimum detectable rate: the true rate p1 (< t for "less", > t for "greater") at which
    :func:`power_rate` equals ``power``, found by bisection between t and the far end (0 or 1);
    NaN where even that end is not detected with this power (n too small) or n == 0.

    For power >= 0.5 the root is unique: power equals it only where the numerator is >= 0, and
    there power falls strictly as p moves towards t.
    """
    less = _alternative(alternative)
    target = _target(power)
    n, t, target = np.broadcast_arrays(
        np.asarray(n, np.float64), np.asarray(threshold, np.float64), target
    )
    end = np.zeros_like(t) if less else np.ones_like(t)

    def gap(p: F) -> F:
        return power_rate(n, p, t, alpha, alternative) - target

    root = _bisect(gap, end, t)
    reachable = (n > 0) & (gap(end) >= 0) & (t != end)
    return np.where(reachable, root, np.nan)


def mde_ratio(
    n1: object,
    n2: object,
    p2: object,
    theta0: object,
    alpha: object = 0.05,
    power: object = 0.8,
    alternative: Alternative = "less",
) -> F:
    """Minimum detectable ratio: theta1 (< theta0 for "less", > theta0 for "greater", with
    theta1 p2 <= 1) at which :func:`power_ratio` with p1 = theta1 p2 equals ``power``, by
    bisection between theta0 and the far end (0, or 1 / p2); NaN where that end is not
    detected with this power."""
    less = _alternative(alternative)
    target = _target(power)
    theta = _level(theta0, "theta0", 0.0, np.inf)
    n1, n2, p2, theta, target = np.broadcast_arrays(
        *(np.asarray(a, np.float64) for a in (n1, n2, p2, theta, target))
    )
    if not np.all((p2 > 0) & (p2 <= 1)):
        raise ValueError(f"p2 must lie in (0, 1], got {p2}")
    end = np.zeros_like(theta) if less else 1 / p2

    def gap(theta1: F) -> F:
        p1 = np.clip(theta1 * p2, 0.0, 1.0)
        return power_ratio(n1, n2, p1, p2, theta, alpha, alternative) - target

    root = _bisect(gap, end, theta)
    side = end < theta if less else end > theta
    with np.errstate(invalid="ignore"):
        reachable = side & (gap(end) >= 0)
    return np.where(reachable, root, np.nan)
