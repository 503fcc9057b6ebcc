"""Simulations of audit.fairness.intervals: coverage, false failures and power (issue #15).

Every figure comes from seeded binomial draws (numpy Generator), ``--datasets`` per setting;
where the sampling distribution can be enumerated (one or two groups) the exact coverage, the
binomial-weighted sum over every possible count, is printed next to the simulated one, so
that simulation noise (standard error about sqrt(0.95 * 0.05 / datasets), 0.005 at 2,000) is
told apart from the interval's own behaviour. Prints aligned tables:

1. Coverage of 95% intervals, groups of n = 30, 100, 1000, true rates 0.05, 0.3, 0.5:
   (a) Wilson for a selection rate; Wilson for a TPR, whose denominator is the group's
       positives (base rate 0.5, so positives ~ Binomial(n, 0.5); no positives = a miss);
   (b) Koopman for p_g / p_ref, both groups of size n, equal rates (ratio 1) and p_g = 0.8
       p_ref; datasets where both counts are 0 (ratio 0 / 0, undefined) are counted in
       "undef" and left out of the coverage;
   (c) the impact ratio against the most-favoured group (most_favoured_ratio), 3 and 12 groups,
       equal rates and unequal ones (p x (1, 1, 0.8) and p x (1, 1, 0.95, ..., 0.5));
       coverage is that of the worst-covered group, width the mean over groups;
   (d) Newcombe for p_g - p_ref, the settings of (b).
   "inf" is the share of intervals with an infinite end (Koopman high when x_ref = 0); the
   mean width is over the finite ones.
2. False failures: 12 groups of 100 sharing one true rate. A significance-mode rule
   ``impact_ratio >= 0.8`` fails a dataset when some group's most-favoured p-value
   (most_favoured_ratio_test), Holm-adjusted across the groups, is < 0.05; a floor rule
   ``selection_rate >= t`` at t = the true rate fails when some group's rate_test("less")
   p-value, Holm-adjusted, is < 0.05.
3. Power of H0: IR >= 0.8 for 2 groups of n, reference rate 0.3, true IR 0.5 .. 0.8: the
   rejection rate of the group's test at alpha 0.05, power_ratio's prediction, the exact
   power (enumeration) and mde_ratio (80% power); and the rule's rejection rate (Holm across
   both groups' most-favoured p-values) next to power_ratio at alpha 0.025.

    PYTHONPATH=. python benchmarks/bench_inference.py [--datasets 2000] [--seed 15]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import astuple, dataclass

import numpy as np
from scipy.stats import binom

from audit.fairness import intervals as iv

SIZES = (30, 100, 1000)
RATES = (0.05, 0.3, 0.5)
CONFIDENCE = 0.95
#: The interval the engine gives every rate and share (audit.fairness.bounds uses the same).
RATE_INTERVAL = iv.jeffreys
#: unequal true rates, as multiples of the base rate
UNEQUAL = {3: np.array([1.0, 1.0, 0.8]), 12: np.r_[1.0, 1.0, np.linspace(0.95, 0.5, 10)]}


@dataclass(frozen=True)
class Coverage:
    """One cell of the coverage table."""

    interval: str
    setting: str
    n: int
    rate: float
    coverage: float
    exact: float | None
    width: float
    infinite: float
    undefined: float


@dataclass(frozen=True)
class FalseFailure:
    rule: str
    rate: float
    failed: float
    datasets: int


@dataclass(frozen=True)
class Power:
    n: int
    ratio: float
    rejected: float
    predicted: float
    exact: float
    mde: float
    rule_rejected: float
    rule_predicted: float


def _support(n: int, p: float) -> np.ndarray:
    """Counts within 10 standard deviations of n p: all but < 1e-20 of the binomial mass."""
    sd = np.sqrt(n * p * (1 - p))
    return np.arange(max(0, int(n * p - 10 * sd - 5)), min(n, int(n * p + 10 * sd + 5)) + 1)


def _summary(
    name: str, setting: str, n: int, rate: float, low: np.ndarray, high: np.ndarray, truth: object
) -> tuple[str, str, int, float, float, float, float, float]:
    defined = ~np.isnan(low)
    covered = (low <= truth) & (truth <= high)
    finite = defined & np.isfinite(high)
    return (
        name,
        setting,
        n,
        rate,
        float(covered[defined].mean()),
        float((high - low)[finite].mean()) if finite.any() else np.nan,
        float(1 - finite[defined].mean()),
        float(1 - defined.mean()),
    )


def _cell(summary: tuple, exact: float | None) -> Coverage:
    name, setting, n, rate, coverage, width, infinite, undefined = summary
    return Coverage(name, setting, n, rate, coverage, exact, width, infinite, undefined)


def exact_selection(n: int, p: float) -> float:
    """Exact coverage of the Wilson interval for x ~ Binomial(n, p)."""
    x = np.arange(n + 1)
    low, high = RATE_INTERVAL(x, n, CONFIDENCE)
    return float(binom.pmf(x, n, p)[(low <= p) & (p <= high)].sum())


def exact_tpr(n: int, p: float) -> float:
    """Exact coverage of Wilson for tp ~ Binomial(m, p), m ~ Binomial(n, 0.5) positives (m = 0
    gives no interval: a miss)."""
    m, k = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    valid = k <= m
    low, high = RATE_INTERVAL(np.where(valid, k, 0), m, CONFIDENCE)
    weights = binom.pmf(m, n, 0.5) * binom.pmf(k, m, p) * valid
    return float(weights[(low <= p) & (p <= high)].sum())


PAIR_INTERVALS = {"koopman": iv.koopman_ratio, "newcombe": iv.newcombe_difference}


def _pair_truth(name: str, p: float, ratio: float) -> float:
    return ratio if name == "koopman" else ratio * p - p


def exact_pair(name: str, n: int, p: float, ratio: float) -> float:
    """Exact coverage of a two-group interval, x_g ~ Bin(n, ratio p), x_ref ~ Bin(n, p),
    among the datasets where it is defined."""
    a, b = np.meshgrid(_support(n, ratio * p), _support(n, p), indexing="ij")
    weights = binom.pmf(a, n, ratio * p) * binom.pmf(b, n, p)
    low, high = PAIR_INTERVALS[name](a, n, b, n, CONFIDENCE)
    truth = _pair_truth(name, p, ratio)
    return float(weights[(low <= truth) & (truth <= high)].sum() / weights[~np.isnan(low)].sum())


def one_rate_coverage(datasets: int, rng: np.random.Generator) -> list[Coverage]:
    """(a): Wilson for a selection rate and for a TPR over the group's positives."""
    rows = []
    for n in SIZES:
        for p in RATES:
            x = rng.binomial(n, p, datasets)
            low, high = RATE_INTERVAL(x, n, CONFIDENCE)
            summary = _summary("jeffreys", "selection rate", n, p, low, high, p)
            rows.append(_cell(summary, exact_selection(n, p)))
            positives = rng.binomial(n, 0.5, datasets)
            low, high = RATE_INTERVAL(rng.binomial(positives, p), positives, CONFIDENCE)
            low, high = np.nan_to_num(low, nan=2.0), np.nan_to_num(high, nan=2.0)  # a miss
            summary = _summary("jeffreys", "tpr (base 0.5)", n, p, low, high, p)
            rows.append(_cell(summary, exact_tpr(n, p)))
    return rows


def pair_coverage(datasets: int, rng: np.random.Generator) -> list[Coverage]:
    """(b) Koopman for p_g / p_ref and (d) Newcombe for p_g - p_ref, same sizes."""
    rows = []
    for n in SIZES:
        for p in RATES:
            for ratio in (1.0, 0.8):
                xg, xr = rng.binomial(n, ratio * p, datasets), rng.binomial(n, p, datasets)
                for name, interval in PAIR_INTERVALS.items():
                    low, high = interval(xg, n, xr, n, CONFIDENCE)
                    truth = _pair_truth(name, p, ratio)
                    summary = _summary(name, f"p_g = {ratio:g} p_ref", n, p, low, high, truth)
                    rows.append(_cell(summary, exact_pair(name, n, p, ratio)))
    return rows


def most_favoured_coverage(datasets: int, rng: np.random.Generator) -> list[Coverage]:
    """(c): most_favoured_ratio with 3 and 12 groups of n, equal and unequal true rates."""
    rows = []
    for groups in (3, 12):
        for kind in ("equal", "unequal"):
            scale = np.ones(groups) if kind == "equal" else UNEQUAL[groups]
            for n in SIZES:
                for p in RATES:
                    rates = p * scale
                    truth = np.minimum(1.0, rates / rates.max())
                    x = rng.binomial(n, rates, (datasets, groups))
                    _, low, high = iv.most_favoured_ratio(x, n, True, CONFIDENCE)
                    covered = (low <= truth) & (truth <= high)
                    rows.append(
                        Coverage(
                            "most-favoured IR",
                            f"{groups} groups, {kind}",
                            n,
                            p,
                            float(covered.mean(axis=0).min()),
                            None,
                            float(np.nanmean(high - low)),
                            0.0,
                            float(np.isnan(low).mean()),
                        )
                    )
    return rows


def false_failures(datasets: int, rng: np.random.Generator) -> list[FalseFailure]:
    """12 groups of 100 sharing one rate: how often each significance-mode rule fails."""
    rows = []
    for p in RATES:
        x = rng.binomial(100, p, (datasets, 12))
        mf = iv.adjust(iv.most_favoured_ratio_test(x, 100, True, 0.8), "holm")
        rows.append(
            FalseFailure("impact_ratio >= 0.8", p, float((mf < 0.05).any(-1).mean()), datasets)
        )
        _, floor = iv.rate_test(x, 100, p, "less")
        floor = iv.adjust(floor, "holm")
        rows.append(
            FalseFailure(
                f"selection_rate >= {p:g}", p, float((floor < 0.05).any(-1).mean()), datasets
            )
        )
    return rows


def power_table(
    datasets: int, rng: np.random.Generator, ratios: Sequence[float] = (0.5, 0.6, 0.7, 0.8)
) -> list[Power]:
    """Power of H0: IR >= 0.8, 2 groups of n, reference rate 0.3."""
    rows = []
    for n in SIZES:
        mde = float(iv.mde_ratio(n, n, 0.3, 0.8))
        for ratio in ratios:
            x = np.stack(
                [rng.binomial(n, ratio * 0.3, datasets), rng.binomial(n, 0.3, datasets)], -1
            )
            p = iv.most_favoured_ratio_test(x, n, True, 0.8)  # with 2 groups: the pairwise test
            rejected = float((p[:, 0] < 0.05).mean())
            rule = float((iv.adjust(p, "holm") < 0.05).any(-1).mean())
            a, b = _support(n, ratio * 0.3), _support(n, 0.3)
            ga, gb = np.meshgrid(a, b, indexing="ij")
            reject = iv.ratio_test(ga, n, gb, n, 0.8, "less")[1] < 0.05
            exact = float(
                np.outer(binom.pmf(a, n, ratio * 0.3), binom.pmf(b, n, 0.3))[reject].sum()
            )
            rows.append(
                Power(
                    n,
                    ratio,
                    rejected,
                    float(iv.power_ratio(n, n, ratio * 0.3, 0.3, 0.8, 0.05)),
                    exact,
                    mde,
                    rule,
                    float(iv.power_ratio(n, n, ratio * 0.3, 0.3, 0.8, 0.025)),
                )
            )
    return rows


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as an aligned text table (numbers right-aligned)."""

    def text(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return "nan" if np.isnan(value) else f"{value:.4f}"
        return str(value)

    cells = [[text(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row, raw in zip(cells, rows, strict=True):
        lines.append(
            "  ".join(
                c.rjust(w) if isinstance(v, int | float) or v is None else c.ljust(w)
                for c, w, v in zip(row, widths, raw, strict=True)
            )
        )
    return "\n".join(lines)


def coverage_lines(rows: Sequence[Coverage]) -> str:
    headers = (
        "interval",
        "setting",
        "n",
        "rate",
        "coverage",
        "exact",
        "mean width",
        "inf",
        "undef",
    )
    return table(headers, [astuple(r) for r in rows])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=2000, help="simulated datasets per setting")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    rngs = [np.random.default_rng([args.seed, i]) for i in range(5)]
    d = args.datasets
    print(f"95% intervals, {d} simulated datasets per setting (seed {args.seed})\n")
    print("(a) one rate\n" + coverage_lines(one_rate_coverage(d, rngs[0])) + "\n")
    print("(b, d) two groups of n\n" + coverage_lines(pair_coverage(d, rngs[1])) + "\n")
    print("(c) impact ratio vs the most-favoured group (worst group's coverage)")
    print(coverage_lines(most_favoured_coverage(d, rngs[2])) + "\n")
    print("False failures: 12 groups of 100, one true rate, Holm across groups, alpha 0.05")
    failures = false_failures(d, rngs[3])
    print(table(("rule", "true rate", "failed", "datasets"), [astuple(r) for r in failures]))
    print("\nPower of H0: IR >= 0.8 (2 groups of n, reference rate 0.3, alpha 0.05)")
    powers = power_table(d, rngs[4])
    headers = ("n", "true IR", "rejected", "power_ratio", "exact", "mde_ratio")
    rule = ("rule (Holm)", "power_ratio a=0.025")
    print(table(headers + rule, [astuple(r) for r in powers]))


if __name__ == "__main__":
    main()
