"""A regression audit's statistics per group of one sensitive feature, and of every row: the
report's ``regression`` section from each group's exact value counters.

Per group g (formulas in :mod:`audit.contract.continuous_metrics`, intervals in
:mod:`audit.fairness.continuous`): mean prediction and outcome, MAE, RMSE, MSE; against the
reference group the difference and ratio of mean predictions (Welch interval and test; delta-log
interval), the ratio of mean outcomes, the KS distance and test and the Wasserstein distance of
the predictions (bootstrap intervals). Per feature: the bounded group loss (the largest group
MSE), the largest MAE gap, the largest gap and smallest ratio of mean predictions, and the
largest KS and Wasserstein distances, each with a bootstrap interval in which the groups are
re-chosen.

Compared groups are those with at least ``min_group_size`` rows and at least
``exclude_below_share`` of the feature's known rows; only they enter the reference choice,
comparisons and summaries. The reference group: ``most_favoured`` (the highest mean prediction,
the lowest with ``favourable: lower``; ties: the larger group, then the label), ``largest``, or a
named group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from audit.contract.regression import (
    DistributionTest,
    RegressionFeature,
    RegressionGroup,
    RegressionOverall,
    RegressionSummary,
)
from audit.errors import InputError
from audit.fairness.continuous import (
    BOOT_METHOD,
    BOOT_SUMMARY_METHOD,
    MSE_METHOD,
    RATIO_METHOD,
    RMSE_METHOD,
    T_METHOD,
    WELCH_METHOD,
    Mean,
    ValueCounter,
    block_size,
    distances,
    ks_test,
    mean_of,
    merge_counters,
    percentile,
    ratio_interval,
    resample,
    squares,
    weighted_means,
    welch,
)
from audit.fairness.uncertainty import feature_rng

_CI_KEYS = (
    "mean_prediction",
    "mean_outcome",
    "mae",
    "rmse",
    "mse",
    "mean_prediction_difference",
    "mean_prediction_ratio",
    "mean_outcome_ratio",
    "ks_statistic",
    "wasserstein",
)


@dataclass(frozen=True)
class GroupCounters:
    """The counters of one group's rows: predictions, and outcomes and errors when labelled."""

    label: str
    predictions: ValueCounter
    outcomes: ValueCounter | None = None
    errors: ValueCounter | None = None

    @property
    def n(self) -> int:
        return self.predictions.n


@dataclass(frozen=True)
class Options:
    favourable: str = "higher"
    min_group_size: int = 1
    exclude_below_share: float | None = None
    n_bootstrap: int = 1000
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class _Point:
    """A group's own statistics."""

    pred: Mean
    outcome: Mean | None
    abs_error: Mean | None
    sq_error: Mean | None


def _num(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _ci(bounds: tuple[float, float] | None) -> list[float] | None:
    if bounds is None or not (np.isfinite(bounds[0]) and np.isfinite(bounds[1])):
        return None
    return [float(bounds[0]), float(bounds[1])]


def _point(g: GroupCounters, confidence: float) -> _Point:
    labelled = g.errors is not None and g.outcomes is not None
    return _Point(
        pred=mean_of(g.predictions, confidence),
        outcome=mean_of(g.outcomes, confidence) if labelled and g.outcomes else None,
        abs_error=mean_of(g.errors.map(np.abs), confidence) if labelled and g.errors else None,
        sq_error=mean_of(squares(g.errors), confidence) if labelled and g.errors else None,
    )


def _own(p: _Point) -> tuple[dict[str, float | None], dict[str, list[float] | None]]:
    """A group's (or every row's) own metrics and their intervals."""
    sq = p.sq_error
    rmse = None if sq is None else float(np.sqrt(sq.mean))
    rmse_ci = None
    if sq is not None and sq.ci is not None:
        rmse_ci = (float(np.sqrt(max(sq.ci[0], 0.0))), float(np.sqrt(sq.ci[1])))
    values = {
        "mean_prediction": _num(p.pred.mean),
        "mean_outcome": None if p.outcome is None else _num(p.outcome.mean),
        "mae": None if p.abs_error is None else _num(p.abs_error.mean),
        "rmse": _num(rmse),
        "mse": None if sq is None else _num(sq.mean),
    }
    ci = {
        "mean_prediction": _ci(p.pred.ci),
        "mean_outcome": None if p.outcome is None else _ci(p.outcome.ci),
        "mae": None if p.abs_error is None else _ci(p.abs_error.ci),
        "rmse": _ci(rmse_ci),
        "mse": None if sq is None else _ci(sq.ci),
    }
    return values, ci


_OWN_METHODS = {
    "mean_prediction": T_METHOD,
    "mean_outcome": T_METHOD,
    "mae": T_METHOD,
    "rmse": RMSE_METHOD,
    "mse": MSE_METHOD,
}


def overall(groups: Sequence[GroupCounters], confidence: float) -> RegressionOverall:
    """Every row together (``groups``: the counters of every joint key)."""
    every = GroupCounters(
        "all",
        merge_counters(g.predictions for g in groups),
        merge_counters(g.outcomes for g in groups if g.outcomes is not None)
        if all(g.outcomes is not None for g in groups)
        else None,
        merge_counters(g.errors for g in groups if g.errors is not None)
        if all(g.errors is not None for g in groups)
        else None,
    )
    p = _point(every, confidence)
    values, ci = _own(p)
    r2 = None
    if every.outcomes is not None and every.errors is not None and p.outcome is not None:
        y = every.outcomes
        sst = float(np.sum(y.counts * (y.values - p.outcome.mean) ** 2))
        sse = float(np.sum(every.errors.counts * every.errors.values**2))
        r2 = 1.0 - sse / sst if sst > 0 else None
    return RegressionOverall(
        n=every.n,
        **values,
        r2=_num(r2),
        ci=ci,
        ci_method={k: m for k, m in _OWN_METHODS.items() if ci.get(k) is not None},
    )


def _reference(
    rule: str,
    named: str | None,
    groups: Sequence[GroupCounters],
    points: dict[int, _Point],
    compared: np.ndarray,
    favourable: str,
) -> int | None:
    candidates = [i for i in range(len(groups)) if compared[i]]
    if rule == "named":
        labels = [g.label for g in groups]
        return labels.index(named) if named in labels and compared[labels.index(named)] else None
    if not candidates:
        return None
    sign = 1.0 if favourable == "higher" else -1.0

    def rank(i: int) -> tuple[float, float, str]:
        mean = sign * points[i].pred.mean
        if rule == "largest":
            return (-groups[i].n, -mean, groups[i].label)
        return (-mean, -groups[i].n, groups[i].label)

    return min(candidates, key=rank)


def feature(
    key: str,
    columns: Sequence[str],
    groups: Sequence[GroupCounters],
    unknown: int,
    options: Options,
    *,
    rule: str = "most_favoured",
    named: str | None = None,
) -> RegressionFeature:
    """One feature's section; ``groups`` in label order (see the module docstring)."""
    n = np.array([g.n for g in groups], dtype=np.int64)
    total = int(n.sum())
    share = n / total if total else np.full(len(groups), np.nan)
    sufficient = (n >= max(options.min_group_size, 1)) & (n > 0)
    below = np.zeros(len(groups), dtype=bool)
    if options.exclude_below_share is not None:
        below = share < options.exclude_below_share
    compared = sufficient & ~below
    points = {i: _point(g, options.confidence) for i, g in enumerate(groups) if sufficient[i]}
    ref = _reference(rule, named, groups, points, compared, options.favourable)
    if rule == "named" and ref is None:
        raise InputError(
            f"the named reference group {named!r} of {key!r} is not a compared group (it is "
            f"missing, under min_group_size or under exclude_below_share)",
            hint=f"name one of {', '.join(g.label for g in groups)}, or lower the limits",
        )
    boot = _bootstrap(key, groups, compared, ref, options)
    dist: dict[int, tuple[float, float]] = {}
    if ref is not None:
        r = groups[ref].predictions
        for i in np.flatnonzero(compared).tolist():
            if i != ref:
                d, w = distances(groups[i].predictions, r, groups[i].predictions.counts[None],
                                 r.counts[None])  # fmt: skip
                dist[i] = (float(d[0]), float(w[0]))
    out: dict[str, RegressionGroup] = {}
    for i, g in enumerate(groups):
        out[g.label] = _group(i, groups, points, compared, below, share, ref, boot, dist, options)
    return RegressionFeature(
        columns=list(columns),
        reference_group=None if ref is None else groups[ref].label,
        reference_rule=rule,
        unknown=unknown,
        min_group_size=options.min_group_size,
        exclude_below_share=options.exclude_below_share,
        excluded_groups=[g.label for i, g in enumerate(groups) if below[i]],
        groups=out,
        summaries=_summaries(groups, points, compared, ref, boot, dist, options),
    )


def _group(
    i: int,
    groups: Sequence[GroupCounters],
    points: dict[int, _Point],
    compared: np.ndarray,
    below: np.ndarray,
    share: np.ndarray,
    ref: int | None,
    boot: dict[str, dict[int, np.ndarray]],
    dist: dict[int, tuple[float, float]],
    options: Options,
) -> RegressionGroup:
    g = groups[i]
    conf = options.confidence
    values: dict[str, float | None] = dict.fromkeys(_CI_KEYS)
    values["ks_p_value"] = None
    ci: dict[str, list[float] | None] = dict.fromkeys(_CI_KEYS)
    methods: dict[str, str] = {}
    tests: dict[str, DistributionTest] = {}
    excluded = None
    if below[i]:
        excluded = (
            f"{share[i]:.2%} of the data ({g.n:,} rows) is under the "
            f"{options.exclude_below_share:.0%} threshold"
        )
    if i in points:
        own, own_ci = _own(points[i])
        values.update(own)
        ci.update(own_ci)
        methods.update({k: m for k, m in _OWN_METHODS.items() if own_ci.get(k) is not None})
    if i in points and ref is not None and compared[i]:
        p, r = points[i], points[ref]
        rg = groups[ref]
        if i == ref:
            values.update(
                mean_prediction_difference=0.0,
                mean_prediction_ratio=1.0,
                ks_statistic=0.0,
                wasserstein=0.0,
            )
            if p.outcome is not None:
                values["mean_outcome_ratio"] = 1.0
        else:
            t, p_welch, diff_ci = welch(p.pred, r.pred, conf)
            values["mean_prediction_difference"] = _num(p.pred.mean - r.pred.mean)
            ci["mean_prediction_difference"] = _ci(diff_ci)
            values["mean_prediction_ratio"] = _num(_ratio(p.pred.mean, r.pred.mean))
            ci["mean_prediction_ratio"] = _ci(ratio_interval(p.pred, r.pred, conf))
            if p.outcome is not None and r.outcome is not None:
                values["mean_outcome_ratio"] = _num(_ratio(p.outcome.mean, r.outcome.mean))
                ci["mean_outcome_ratio"] = _ci(ratio_interval(p.outcome, r.outcome, conf))
            d, w = dist[i]
            p_ks, ks_method = ks_test(g.predictions, rg.predictions, d)
            values.update(ks_statistic=d, ks_p_value=p_ks, wasserstein=w)
            tests["ks"] = DistributionTest(
                vs=rg.label, method=ks_method, statistic=d, p_value=_num(p_ks)
            )
            tests["welch"] = DistributionTest(
                vs=rg.label,
                method="welch two-sample t-test of the mean prediction",
                statistic=_num(t),
                p_value=_num(p_welch),
            )
            for name in ("ks_statistic", "wasserstein"):
                if i in boot.get(name, {}):
                    ci[name] = _ci(percentile(boot[name][i], conf))
            for name, method in (
                ("mean_prediction_difference", WELCH_METHOD),
                ("mean_prediction_ratio", RATIO_METHOD),
                ("mean_outcome_ratio", RATIO_METHOD),
                ("ks_statistic", BOOT_METHOD.format(n=options.n_bootstrap)),
                ("wasserstein", BOOT_METHOD.format(n=options.n_bootstrap)),
            ):
                if ci.get(name) is not None:
                    methods[name] = method
    return RegressionGroup(
        n=g.n,
        share=_num(float(share[i])),
        status="ok" if i in points else "insufficient_data",
        excluded=excluded,
        **values,
        ci=ci,
        ci_method=methods,
        tests=tests,
    )


def _ratio(a: float, b: float) -> float | None:
    return a / b if b != 0 else None


def _bootstrap(
    key: str,
    groups: Sequence[GroupCounters],
    compared: np.ndarray,
    ref: int | None,
    options: Options,
) -> dict[str, dict[int, np.ndarray]]:
    """Resamples of each compared group's statistics: {statistic: {group: (n_bootstrap,)}}.
    Every group's rows are resampled within the group (the reference's once per resample, so
    the distances of every group in one resample share it)."""
    b = options.n_bootstrap
    chosen = [i for i in range(len(groups)) if compared[i]]
    if b <= 0 or not chosen:
        return {}
    rng = feature_rng(options.seed, "regression/" + key)
    labelled = all(groups[i].errors is not None for i in chosen)
    names = ["mean_prediction", *(["mae", "mse"] if labelled else [])]
    if ref is not None:
        names += ["ks_statistic", "wasserstein"]
    out: dict[str, dict[int, np.ndarray]] = {m: {i: np.empty(b) for i in chosen} for m in names}
    sizes = [groups[i].predictions.size for i in chosen]
    sizes += [groups[i].errors.size for i in chosen if groups[i].errors is not None]  # type: ignore[union-attr]
    if ref is not None:
        sizes = [s + groups[ref].predictions.size for s in sizes]
    step = block_size(b, sizes)
    for start in range(0, b, step):
        k = min(step, b - start)
        rows = slice(start, start + k)
        ref_draw = None if ref is None else resample(groups[ref].predictions, k, rng)
        for i in chosen:
            g = groups[i]
            draw = (
                ref_draw if i == ref and ref_draw is not None else resample(g.predictions, k, rng)
            )
            out["mean_prediction"][i][rows] = weighted_means(g.predictions.values, draw)
            if ref is not None and ref_draw is not None:
                rg = groups[ref].predictions
                d, w = distances(g.predictions, rg, draw, ref_draw)
                out["ks_statistic"][i][rows] = d
                out["wasserstein"][i][rows] = w
            if labelled and g.errors is not None:
                errors = resample(g.errors, k, rng)
                out["mae"][i][rows] = weighted_means(np.abs(g.errors.values), errors)
                out["mse"][i][rows] = weighted_means(g.errors.values**2, errors)
    return out


def _summaries(
    groups: Sequence[GroupCounters],
    points: dict[int, _Point],
    compared: np.ndarray,
    ref: int | None,
    boot: dict[str, dict[int, np.ndarray]],
    dist: dict[int, tuple[float, float]],
    options: Options,
) -> dict[str, RegressionSummary]:
    chosen = [i for i in range(len(groups)) if compared[i]]
    labels = [g.label for g in groups]
    conf = options.confidence
    method = BOOT_SUMMARY_METHOD.format(n=options.n_bootstrap)
    out: dict[str, RegressionSummary] = {}

    def stack(name: str, among: list[int]) -> np.ndarray | None:
        found = boot.get(name)
        if not found or not among:
            return None
        return np.stack([found[i] for i in among], axis=1)  # (B, groups)

    def add(name: str, value: float | None, picked: list[int], draws: np.ndarray | None) -> None:
        interval = None if draws is None else _ci(percentile(draws, conf))
        out[name] = RegressionSummary(
            value=_num(value),
            groups=[labels[i] for i in picked],
            ci=interval,
            method=method if interval is not None else None,
        )

    labelled = all(points[i].sq_error is not None for i in chosen) and bool(chosen)
    if labelled:
        mse = {i: points[i].sq_error.mean for i in chosen}  # type: ignore[union-attr]
        worst = max(chosen, key=lambda i: (mse[i], -i))
        draws = stack("mse", chosen)
        add("bounded_group_loss", mse[worst], [worst], None if draws is None else draws.max(1))
        if len(chosen) >= 2:
            mae = {i: points[i].abs_error.mean for i in chosen}  # type: ignore[union-attr]
            hi, lo = max(chosen, key=lambda i: (mae[i], -i)), min(chosen, key=lambda i: (mae[i], i))
            draws = stack("mae", chosen)
            spread = None if draws is None else draws.max(1) - draws.min(1)
            add("mae_difference", mae[hi] - mae[lo], [hi, lo], spread)
    if len(chosen) >= 2:
        mean = {i: points[i].pred.mean for i in chosen}
        hi, lo = max(chosen, key=lambda i: (mean[i], -i)), min(chosen, key=lambda i: (mean[i], i))
        draws = stack("mean_prediction", chosen)
        add("mean_prediction_gap", mean[hi] - mean[lo], [hi, lo], _spread(draws))
        ratio = mean[lo] / mean[hi] if mean[lo] > 0 and mean[hi] > 0 else None
        add(
            "mean_prediction_ratio_min",
            ratio,
            [lo, hi],
            None if ratio is None else _ratio_min(draws),
        )
    others = [i for i in chosen if i != ref]
    if ref is not None and others:
        for j, (name, stat) in enumerate(
            (("ks_max", "ks_statistic"), ("wasserstein_max", "wasserstein"))
        ):
            values = {i: dist[i][j] for i in others}
            worst = max(others, key=lambda i: (values[i], -i))
            draws = stack(stat, others)
            add(name, values[worst], [worst], None if draws is None else draws.max(1))
    return out


def _spread(draws: np.ndarray | None) -> np.ndarray | None:
    return None if draws is None else draws.max(1) - draws.min(1)


def _ratio_min(draws: np.ndarray | None) -> np.ndarray | None:
    if draws is None:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = draws.min(1), draws.max(1)
        return np.where((low > 0) & (high > 0), low / high, np.nan)
