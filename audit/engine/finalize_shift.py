"""The report's shift section from the merged statistics: no extra pass over the data.

Each scenario of the spec's ``shift:`` reweights the merged joint cells (and score counters) by
the weight of each key's group of the shifted feature (:mod:`audit.fairness.shift`), then derives
the overall performance and the between-group summaries of every other sensitive feature, each
beside its current value, with paired bootstrap intervals seeded from the spec's seed and the
scenario's id. Scenario errors (a feature that is not sensitive, a group that does not occur, a
share that leaves (0, 1)) are bad input, named by the scenario's id and field.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audit import contract
from audit.contract.shift import ShiftFeature, ShiftGroup, ShiftScenarioResult, ShiftValue
from audit.engine.finalize import FairnessOptions, _feature_labels, _grouped
from audit.engine.stats import Stats
from audit.errors import InputError
from audit.fairness import shift as sh
from audit.fairness.counters import auc, merge
from audit.fairness.rates import quantile_interval
from audit.fairness.uncertainty import feature_rng, resample_cells

METHOD = (
    "importance weights w = target share / observed share per group of the shifted feature "
    "(other groups scaled proportionally, missing values weight 1) applied to the joint cell "
    "counts; intervals: bootstrap percentile ({n} multinomial resamples of the joint cells, "
    "weights recomputed in each, change paired)"
)
NOTE_UNCHANGED = (
    "the per-group rates of the shifted feature, and of intersections that include it, do not "
    "change under its reweighting (every row of one of their groups has the same weight); only "
    "their shares do"
)
NOTE_AUC = (
    "roc_auc comes from the weighted score counters; its intervals from multinomial resamples "
    "of the (joint key, score, label) counts, drawn apart from the cells' (weights recomputed "
    "in each)"
)
NOTE_AUC_BUDGET = (
    "roc_auc has no interval: its bootstrap would make {n:,} draws (min(rows, distinct "
    "(key, score, label) counts) x resamples), beyond the budget of {budget:,}"
)
NOTE_COMPARED = (
    "between-group summaries compare the groups the fairness section compares (min_group_size "
    "and exclude_below_share judged on the observed rows)"
)


def finalize_shift(stats: Stats, spec: Any, options: FairnessOptions) -> contract.Shift:
    """One :class:`ShiftScenarioResult` per scenario of ``spec.shift`` (the checks of
    :func:`check_spec` first: the runner may also call it before the data pass)."""
    check_spec(spec)
    names = list(spec.sensitive_features)
    cells4 = (stats.cells[:, :4] + stats.cells[:, 4:]).astype(np.int64)
    features = _feature_labels(stats, names)
    results = [
        _scenario(i, scenario, stats, cells4, names, features, options)
        for i, scenario in enumerate(spec.shift)
    ]
    notes = [NOTE_UNCHANGED, NOTE_COMPARED]
    if stats.scores is not None and stats.labelled:
        notes.append(NOTE_AUC)
        cost = sh.auc_cost(stats.scores, options.n_bootstrap)
        if cost > sh.AUC_BUDGET:
            notes.append(NOTE_AUC_BUDGET.format(n=cost, budget=sh.AUC_BUDGET))
    if not stats.labelled:
        notes.append(f"{contract.NO_LABEL}: only the selection rate and demographic parity")
    return contract.Shift(
        scenarios=results,
        method=METHOD.format(n=options.n_bootstrap),
        n_bootstrap=options.n_bootstrap,
        confidence=options.confidence,
        seed=options.seed,
        notes=notes,
    )


def check_spec(spec: Any) -> None:
    """What can be refused before the data is read: another task, an id used twice, a feature
    that is not sensitive (the groups are checked once the data is counted)."""
    if spec.task != "binary":
        raise InputError(
            f"shift: binary audits only for now (this audit has task: {spec.task})",
            hint="remove `shift:` from the spec, or audit a binary decision",
        )
    names = list(spec.sensitive_features)
    seen: set[str] = set()
    for i, s in enumerate(spec.shift):
        if s.id in seen:
            raise InputError(
                f"shift[{i}].id: scenario id {s.id!r} is used twice",
                hint="give each shift scenario an id of its own (rules name scenarios by id)",
            )
        seen.add(s.id)
        if s.feature not in names:
            raise InputError(
                f"{_where(i, s)}: feature {s.feature!r} is not a sensitive feature of the audit "
                f"(sensitive_features: {', '.join(names)})",
                hint="shift one of the spec's sensitive_features",
            )


def _where(index: int, scenario: Any) -> str:
    return f"shift[{index}] (scenario {scenario.id!r})"


def _scenario(
    index: int,
    scenario: Any,
    stats: Stats,
    cells4: np.ndarray,
    names: list[str],
    features: list[tuple[str, tuple[str, ...], list[str | None]]],
    options: FairnessOptions,
) -> ShiftScenarioResult:
    where = _where(index, scenario)
    column = names.index(scenario.feature)
    labels, code = _grouped([k[column] for k in stats.keys])
    if scenario.group not in labels:
        shown = ", ".join(map(repr, labels[:20])) + (" ..." if len(labels) > 20 else "")
        raise InputError(
            f"{where}: group {scenario.group!r} does not occur in {scenario.feature!r} "
            f"(groups: {shown})",
            hint="check the group's spelling against the dataset's values",
        )
    g = labels.index(scenario.group)
    rows = cells4.sum(axis=1)
    n = np.zeros(len(labels), np.int64)
    np.add.at(n, code[code >= 0], rows[code >= 0])
    share = n / n.sum()
    target = scenario.share if scenario.share is not None else float(share[g]) + scenario.change
    field = "share" if scenario.share is not None else "change"
    if share[g] >= 1.0:
        raise InputError(
            f"{where}: {scenario.feature!r} has no group besides {scenario.group!r} in the "
            "data, so its share cannot change",
            hint="shift a feature with at least two groups",
        )
    if not 0.0 < target < 1.0:
        raise InputError(
            f"{where}: {field}: {getattr(scenario, field)} gives {scenario.group!r} a share of "
            f"{target:.4g} (observed {share[g]:.4g}); a share must be strictly between 0 and 1",
            hint="use a change that keeps the group's share inside (0, 1), or give `share:`",
        )
    weights = sh.group_weights(n, g, target)
    key_w = sh.key_weights(weights, code)
    weighted = cells4 * key_w[:, None]

    current = sh.overall(cells4)
    shifted = sh.overall(weighted)
    boot_current: dict[str, np.ndarray] = {}
    boot_shifted: dict[str, np.ndarray] = {}
    draws = None
    if options.n_bootstrap > 0:
        rng = feature_rng(options.seed, f"shift/{scenario.id}")
        draws = resample_cells(cells4, options.n_bootstrap, rng)
        n_draw = sh.group_counts(draws, code, len(labels)).sum(axis=-1)
        w_draw = sh.key_weights(sh.group_weights(n_draw, g, target), code)
        boot_weighted = draws * w_draw[..., None]
        boot_current = sh.overall(draws)
        boot_shifted = sh.overall(boot_weighted)

    performance = {
        m: _value(m, current, shifted, boot_current, boot_shifted, stats.labelled, options)
        for m in sh.OVERALL
    }
    if stats.scores is not None:
        everything = merge(stats.scores)
        now = auc(*everything.neg_pos())
        then = sh.weighted_auc(stats.scores, key_w)
        boot_auc = None
        if options.n_bootstrap > 0 and stats.labelled:
            rng = feature_rng(options.seed, f"shift/{scenario.id}/roc_auc")
            boot_auc = sh.auc_resamples(stats.scores, code, g, target, options.n_bootstrap, rng)
        performance["roc_auc"] = _value(
            "roc_auc",
            {"roc_auc": np.asarray(now)},
            {"roc_auc": np.asarray(then)},
            {} if boot_auc is None else {"roc_auc": boot_auc[0]},
            {} if boot_auc is None else {"roc_auc": boot_auc[1]},
            stats.labelled,
            options,
        )

    fairness: dict[str, ShiftFeature] = {}
    unchanged: list[str] = []
    for key, columns, feature_labels in features:
        if scenario.feature in columns:
            unchanged.append(key)
            continue
        groups, gcode = _grouped(feature_labels)
        counts = sh.group_counts(cells4, gcode, len(groups))
        group_n = counts.sum(axis=1)
        compared = group_n >= options.min_group_size
        if options.exclude_below_share is not None and group_n.sum() > 0:
            compared &= group_n / group_n.sum() >= options.exclude_below_share
        now_s = sh.summaries(counts, compared)
        then_s = sh.summaries(sh.group_counts(weighted, gcode, len(groups)), compared)
        boot_now: dict[str, np.ndarray] = {}
        boot_then: dict[str, np.ndarray] = {}
        if draws is not None:
            boot_now = sh.summaries(sh.group_counts(draws, gcode, len(groups)), compared)
            boot_then = sh.summaries(sh.group_counts(boot_weighted, gcode, len(groups)), compared)
        fairness[key] = ShiftFeature(
            n=int(group_n.sum()),
            compared_groups=[groups[i] for i in np.flatnonzero(compared)],
            summaries={
                name: _value(name, now_s, then_s, boot_now, boot_then, stats.labelled, options)
                for name, _rate, _kind in sh.SUMMARIES
            },
        )

    scenario_share = sh.scaled_shares(share, g, target)
    return ShiftScenarioResult(
        id=scenario.id,
        feature=scenario.feature,
        group=scenario.group,
        groups={
            label: ShiftGroup(
                n=int(n[i]),
                share=float(share[i]),
                target_share=float(scenario_share[i]),
                weight=float(weights[i]),
            )
            for i, label in enumerate(labels)
        },
        unknown=int(rows[code < 0].sum()),
        performance=performance,
        fairness=fairness,
        unchanged=unchanged,
    )


def _value(
    name: str,
    current: dict[str, np.ndarray],
    shifted: dict[str, np.ndarray],
    boot_current: dict[str, np.ndarray],
    boot_shifted: dict[str, np.ndarray],
    labelled: bool,
    options: FairnessOptions,
) -> ShiftValue:
    if not labelled and (name in sh.OVERALL_LABEL or name in sh.SUMMARY_LABEL):
        return ShiftValue(current=None, shifted=None, change=None, ci=None, ci_change=None)
    now, then = _optional(current[name]), _optional(shifted[name])
    change = None if now is None or then is None else then - now
    ci = ci_change = None
    if name in boot_shifted:
        ci = _interval(boot_shifted[name], options.confidence)
        ci_change = _interval(boot_shifted[name] - boot_current[name], options.confidence)
    return ShiftValue(current=now, shifted=then, change=change, ci=ci, ci_change=ci_change)


def _interval(samples: np.ndarray, confidence: float) -> list[float] | None:
    low, high = quantile_interval(samples, confidence)
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    return [float(low), float(high)]


def _optional(value: Any) -> float | None:
    v = float(value)
    return None if np.isnan(v) else v
