"""Inference for fairness rules: each comparison a rule makes, tested against its threshold.

A rule ``metric op threshold`` makes one comparison per judged group (or, for a between-group
summary, per feature). Each comparison gets:

- the value and its interval from the report (the method named there);
- a one-sided test **of the threshold itself**, H0 "the group complies" (``tpr >= 0.6``) against
  H1 "it breaches": the score test of a rate against a fixed value for rates and shares; the
  Koopman (Farrington-Manning) score test of a ratio to the reference group for impact ratios.
  When the reference is the most-favoured group it is chosen from the data, so the impact ratio is
  min(1, min over the other compared groups h of p / p_h): it breaches ``>= t`` when some ratio
  p / p_h does, and the p-value is the union-intersection (Bonferroni) one, min(1, (k - 1) min_h
  p_h) over the k compared groups; it complies with ``>= t`` only when every ratio does, so the
  reverse test takes the largest p-value (intersection-union: no adjustment needed);
- the p-values of all the rule's comparisons adjusted together (Holm by default, or
  Benjamini-Hochberg, or none: the policy's ``correction``);
- the minimum detectable effect: the metric's value at which the test (at the level the first
  step of the correction uses, alpha / comparisons) detects a breach with power 0.8 at this
  group's size and, for ratios, the reference group's size and rate.

A comparison's **verdict**: ``breach`` when the evidence confirms one (``significance``: adjusted
p < alpha; ``bound``: the whole interval on the failing side); ``no_breach`` when it rules one out
(the reverse one-sided test rejects "breach" at alpha; ``bound``: the whole interval on the
passing side); otherwise ``inconclusive``. A group too small to judge is inconclusive, never a
silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np

from ...contract import CATALOGUE, FeatureFairness, GroupFairness, Verdict
from ...fairness import intervals as stats
from ..findings import Status
from .judging import OPS

POWER = 0.8
Side = Literal["less", "greater"]
#: One-sided alternative that a breach of each operator is.
BREACH_SIDE: dict[str, Side] = {">=": "less", ">": "less", "<=": "greater", "<": "greater"}
_FLIP: dict[str, Side] = {"less": "greater", "greater": "less"}
_CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"}
#: The rate a ratio metric divides, and the reference group field of the feature it uses.
RATIO_OF = {"impact_ratio": "selection_rate", "scoring_impact_ratio": "scoring_rate"}
#: Metrics a significance-mode rule can test (a count-based rate, share or ratio of rates).
TESTABLE = frozenset(
    {m.name for m in CATALOGUE.values() if m.cells is not None} | {"share", "scoring_rate"}
) | frozenset(RATIO_OF)


@dataclass(frozen=True)
class Comparison:
    """One comparison a rule makes: evidence, test and verdict (see the module docstring)."""

    feature: str | None
    group: str | None
    n: int | None
    value: float | None
    ci: list[float] | None
    ci_method: str | None
    hypothesis: str
    method: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    p_reverse: float | None = None
    p_adjusted: float | None = None
    mde: float | None = None
    verdict: Verdict = "inconclusive"
    reason: str | None = None


def hypothesis(metric: str, operator: str, threshold: float) -> str:
    return f"H0: {metric} {operator} {threshold:g}"


def counts(fd: FeatureFairness, g: GroupFairness, metric: str) -> tuple[int, int] | None:
    """(successes, trials) of a rate of group ``g``; None when the report cannot give them."""
    if metric == "share":
        return (g.n, fd.n) if fd.n else None
    if metric == "selection_rate" and g.selected is not None:
        return g.selected, g.n
    if metric == "scoring_rate":
        rate = g.metric("scoring_rate")
        return None if rate is None else (int(round(rate * g.n)), g.n)
    spec = CATALOGUE.get(metric)
    if spec is None or spec.cells is None:
        return None
    cells = (g.tn, g.fp, g.fn, g.tp)
    if any(c is None for c in cells):
        return None
    num, den = spec.cells
    x = sum(cells[i] for i in num)  # type: ignore[misc]
    n = g.n if den is None else sum(cells[i] for i in den)  # type: ignore[misc]
    return int(x), int(n)


def _compared(fd: FeatureFairness, rate: str) -> dict[str, tuple[int, int]]:
    """Counts of ``rate`` for every group that takes part in comparisons."""
    out = {}
    for label, g in fd.groups.items():
        if g.status != "ok" or g.excluded:
            continue
        c = counts(fd, g, rate)
        if c is not None and c[1] > 0:
            out[label] = c
    return out


def _reference(fd: FeatureFairness, metric: str) -> str | None:
    if metric == "scoring_impact_ratio" and fd.reference and fd.reference.scoring_group:
        return fd.reference.scoring_group
    return fd.reference_group


def test_group(
    fd: FeatureFairness,
    fname: str,
    gname: str,
    metric: str,
    operator: str,
    threshold: float,
    *,
    mde_alpha: float,
) -> Comparison:
    """The comparison of one group with the threshold (before adjustment and verdict);
    ``mde_alpha`` is the level the minimum detectable effect is computed at."""
    g = fd.groups[gname]
    side = BREACH_SIDE[operator]
    base = _evidence(fname, gname, g, metric, hypothesis(metric, operator, threshold))
    if metric in RATIO_OF:
        return _ratio(fd, gname, metric, operator, threshold, mde_alpha, base)
    c = counts(fd, g, metric)
    if c is None or c[1] == 0:
        return base
    x, n = c
    z, p = stats.rate_test(x, n, threshold, side)
    _, p_rev = stats.rate_test(x, n, threshold, _FLIP[side])
    mde = stats.mde_rate(n, threshold, mde_alpha, POWER, side)
    return replace(
        base,
        method="one-sided score test of the rate against the threshold",
        statistic=_num(z),
        p_value=_num(p),
        p_reverse=_num(p_rev),
        mde=_num(mde),
    )


def _ratio(
    fd: FeatureFairness,
    gname: str,
    metric: str,
    operator: str,
    theta0: float,
    alpha: float,
    base: Comparison,
) -> Comparison:
    side = BREACH_SIDE[operator]
    groups = _compared(fd, RATIO_OF[metric])
    ref = _reference(fd, metric)
    if gname not in groups or ref is None:
        return base
    x, n = groups[gname]
    most_favoured = fd.reference is None or fd.reference.rule == "most_favoured"
    others = {h: c for h, c in groups.items() if h != gname}
    if not most_favoured:
        if gname == ref:  # a fixed reference's own ratio is 1 by definition: nothing to test
            ok = OPS[operator](1.0, theta0)
            return replace(
                base,
                method="the reference group (ratio 1 by definition)",
                verdict="no_breach" if ok else "breach",
                reason="the reference group",
            )
        others = {ref: groups[ref]}
    if not others:
        return base
    xs = np.array([c[0] for c in others.values()])
    ns = np.array([c[1] for c in others.values()])
    z, p = stats.ratio_test(x, n, xs, ns, theta0, side)
    _, p_rev = stats.ratio_test(x, n, xs, ns, theta0, _FLIP[side])
    k = len(others)
    p, p_rev, z = np.atleast_1d(p), np.atleast_1d(p_rev), np.atleast_1d(z)
    # breach of ">= t" (side "less"): some ratio breaches -> union-intersection, Bonferroni;
    # no breach: every ratio complies -> intersection-union, the largest p-value.
    if side == "less":
        worst = int(np.nanargmin(p)) if np.isfinite(p).any() else 0
        p_breach = min(1.0, float(np.nanmin(p)) * k) if np.isfinite(p).any() else np.nan
        p_comply = float(np.nanmax(p_rev)) if np.isfinite(p_rev).any() else np.nan
    else:
        worst = int(np.nanargmax(p)) if np.isfinite(p).any() else 0
        p_breach = float(np.nanmax(p)) if np.isfinite(p).any() else np.nan
        p_comply = min(1.0, float(np.nanmin(p_rev)) * k) if np.isfinite(p_rev).any() else np.nan
    against = list(others)[worst]
    xr, nr = others[against]
    mde = stats.mde_ratio(n, nr, xr / nr, theta0, alpha, POWER, side) if xr > 0 else np.nan
    if most_favoured:
        method = (
            f"one-sided Koopman score test of the ratio against each of the {k} other compared "
            f"groups (the most-favoured group is chosen from the data), Bonferroni over them"
        )
    else:
        method = f"one-sided Koopman score test of the ratio to the reference group {ref}"
    return replace(
        base,
        method=method,
        statistic=_num(z[worst]),
        p_value=_num(p_breach),
        p_reverse=_num(p_comply),
        mde=_num(mde),
    )


def adjust(found: list[Comparison], correction: str) -> list[Comparison]:
    """Every comparison's p-value adjusted across all of them (those without one untouched)."""
    tested = [i for i, c in enumerate(found) if c.p_value is not None]
    if not tested:
        return found
    method = cast(Literal["holm", "bh", "none"], correction)
    adjusted = stats.adjust(np.array([found[i].p_value for i in tested], dtype=float), method)
    out = list(found)
    for i, p in zip(tested, adjusted, strict=True):
        out[i] = replace(out[i], p_adjusted=_num(p))
    return out


def decide(c: Comparison, mode: str, operator: str, threshold: float, alpha: float) -> Comparison:
    """The comparison's verdict in ``mode`` (``bound`` or ``significance``), with the reason."""
    if c.reason is not None and c.verdict != "inconclusive":
        return c
    if c.value is None:
        return replace(c, verdict="inconclusive", reason=c.reason or "the value is undefined")
    if mode == "bound":
        if c.ci is None:
            return replace(c, verdict="inconclusive", reason="no confidence interval")
        passing = [OPS[operator](end, threshold) for end in c.ci]
        if not any(passing):
            return replace(c, verdict="breach", reason="the whole interval breaches")
        if all(passing):
            return replace(c, verdict="no_breach", reason="the whole interval complies")
        return replace(c, verdict="inconclusive", reason="the interval spans the threshold")
    if c.p_adjusted is None:
        return replace(c, verdict="inconclusive", reason=c.reason or "no test for this metric")
    if c.p_adjusted < alpha:
        return replace(c, verdict="breach", reason=f"adjusted p {fmt_p(c.p_adjusted)} < {alpha:g}")
    if c.p_reverse is not None and c.p_reverse < alpha:
        return replace(
            c, verdict="no_breach", reason=f"a breach is ruled out (p {fmt_p(c.p_reverse)})"
        )
    return replace(
        c,
        verdict="inconclusive",
        reason=f"neither a breach (adjusted p {fmt_p(c.p_adjusted)}) nor compliance "
        f"(p {fmt_p(c.p_reverse)}) is shown",
    )


def too_small(
    fname: str, gname: str, g: GroupFairness, metric: str, min_n: int, hyp: str
) -> Comparison:
    """A group under the minimum size: inconclusive, never a silent pass."""
    return replace(
        _evidence(fname, gname, g, metric, hyp),
        verdict="inconclusive",
        reason=f"n={g.n} is under the minimum group size {min_n}",
    )


def _evidence(fname: str, gname: str, g: GroupFairness, metric: str, hyp: str) -> Comparison:
    """A group's value and interval as the report gives them, before any test."""
    return Comparison(
        feature=fname,
        group=gname,
        n=g.n,
        value=g.metric(metric),
        ci=g.ci.get(metric),
        ci_method=g.ci_method.get(metric),
        hypothesis=hyp,
    )


def status_of(verdicts: list[Verdict], severity: str, on_inconclusive: str) -> Status:
    """The finding's status: a breach fails (or warns), inconclusive counts as the policy says."""
    if "breach" in verdicts:
        return "fail" if severity == "error" else "warn"
    if "inconclusive" in verdicts:
        if on_inconclusive == "fail":
            return "fail" if severity == "error" else "warn"
        return "warn" if on_inconclusive == "warn" else "pass"
    return "pass"


def correction_words(correction: str, comparisons: int) -> str:
    return f"{_CORRECTIONS[correction]}-adjusted over {comparisons} comparison(s)"


def fmt_p(p: float | None) -> str:
    if p is None or not np.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _num(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None
