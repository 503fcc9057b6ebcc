"""From merged statistics to the report's sections: fairness, performance, the data profile.

The same functions the in-memory engines use after their own counting
(:func:`audit.fairness.engine.fairness_from_parts`, :func:`audit.fairness.performance.
performance_from_counts`, :func:`audit.data.profile.profile_from_counts`) turn the merged
joint cells into each feature's counts, so a report does not depend on the backend that
counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from audit import contract
from audit.data.profile import GroupTally, profile_from_counts
from audit.engine.stats import Key, Stats
from audit.errors import InputError
from audit.fairness.counters import ScoreCounter, auc, median, merge
from audit.fairness.counts import INTERSECTION_SEP, GroupCounts
from audit.fairness.engine import FairnessReport, FeaturePart, fairness_from_parts
from audit.fairness.performance import PerformanceReport, performance_from_counts
from audit.fairness.scores import counter_stats
from audit.fairness.uncertainty import feature_rng


@dataclass(frozen=True)
class FairnessOptions:
    reference: str | Mapping[str, str] = "most_favoured"
    min_group_size: int = 1
    exclude_below_share: float | None = None
    n_bootstrap: int = 1000
    confidence: float = 0.95
    seed: int = 0


def _feature_labels(
    stats: Stats, names: Sequence[str]
) -> list[tuple[str, tuple[str, ...], list[str | None]]]:
    """Each feature (then the intersection of all): its key, columns and each joint key's label."""
    out: list[tuple[str, tuple[str, ...], list[str | None]]] = []
    for i, name in enumerate(names):
        out.append((name, (name,), [k[i] for k in stats.keys]))
    if len(names) > 1:
        key = INTERSECTION_SEP.join(names)
        labels: list[str | None] = [
            None if any(p is None for p in k) else INTERSECTION_SEP.join(k)  # type: ignore[arg-type]
            for k in stats.keys
        ]
        seen: dict[str, Key] = {}
        for joint, label in zip(stats.keys, labels, strict=True):
            if label is not None and seen.setdefault(label, joint) != joint:
                raise InputError(
                    f"intersection {key!r}: different value combinations give the same group "
                    f"label because a value contains {INTERSECTION_SEP!r}",
                    hint=f"replace {INTERSECTION_SEP!r} in the sensitive values, or pass "
                    "intersections=False",
                )
        out.append((key, tuple(names), labels))
    return out


def _grouped(labels: list[str | None]) -> tuple[tuple[str, ...], np.ndarray]:
    groups = tuple(sorted({label for label in labels if label is not None}))
    index = {g: i for i, g in enumerate(groups)}
    return groups, np.array([-1 if g is None else index[g] for g in labels], dtype=np.int64)


def overall_scores(stats: Stats) -> ScoreCounter | None:
    return None if stats.scores is None else merge(stats.scores)


def fairness(stats: Stats, names: Sequence[str], options: FairnessOptions) -> FairnessReport:
    """The fairness section from merged statistics (see compute_fairness for the metrics)."""
    cells4 = stats.cells[:, :4] + stats.cells[:, 4:]  # drop the missing-value dimension
    everything = overall_scores(stats)
    cut = median(everything) if everything is not None else None
    above_by_key = None
    probabilities = False
    if stats.scores is not None and cut is not None and everything is not None:
        above_by_key = np.array([c.above(cut) for c in stats.scores]).reshape(-1, 4)
        probabilities = bool(
            everything.size and everything.values[0] >= 0.0 and everything.values[-1] <= 1.0
        )
    parts = []
    for key, columns, labels in _feature_labels(stats, names):
        groups, code = _grouped(labels)
        known = code >= 0
        group_cells = np.zeros((len(groups), 4), np.int64)
        np.add.at(group_cells, code[known], cells4[known])
        unknown = int(cells4[~known].sum())
        above_cells = None
        scores = None
        if above_by_key is not None and stats.scores is not None:
            above_cells = np.zeros((len(groups), 4), np.int64)
            np.add.at(above_cells, code[known], above_by_key[known])
            counters = [
                merge(c for c, g in zip(stats.scores, code, strict=True) if g == i)
                for i in range(len(groups))
            ]
            scores = counter_stats(
                counters,
                above_cells.sum(axis=1),
                labelled=stats.labelled,
                probabilities=probabilities,
                n_bootstrap=options.n_bootstrap,
                confidence=options.confidence,
                rng=feature_rng(options.seed, key + "/scores"),
            )
        counts = GroupCounts(
            labels=groups, cells=group_cells, unknown=unknown, above_cells=above_cells
        )
        parts.append(FeaturePart(key, columns, counts, scores))
    return fairness_from_parts(
        parts,
        labelled=stats.labelled,
        reference=options.reference,
        min_group_size=options.min_group_size,
        exclude_below_share=options.exclude_below_share,
        n_bootstrap=options.n_bootstrap,
        confidence=options.confidence,
        seed=options.seed,
    )


def performance(stats: Stats) -> PerformanceReport:
    cells4 = (stats.cells[:, :4] + stats.cells[:, 4:]).sum(axis=0)
    tn, fp, fn, tp = (int(c) for c in cells4)
    n = stats.rows
    if not stats.labelled:
        return performance_from_counts(n, fp + tp, None)
    everything = overall_scores(stats)
    roc = None
    if everything is not None:
        value = auc(*everything.neg_pos())
        roc = None if np.isnan(value) else value
    return performance_from_counts(n, fp + tp, (tn, fp, fn, tp), roc_auc=roc)


def profile(stats: Stats, names: Sequence[str]) -> contract.DataProfile:
    labelled = stats.labelled
    rows = stats.cells.sum(axis=1)
    missing = stats.cells[:, 4:].sum(axis=1)
    positives = stats.cells[:, [2, 3, 6, 7]].sum(axis=1)
    features: dict[str, GroupTally] = {}
    for key, _columns, labels in _feature_labels(stats, names):
        tally: dict[str, list[int]] = {}
        unknown = 0
        for label, n, m, p in zip(
            labels, rows.tolist(), missing.tolist(), positives.tolist(), strict=True
        ):
            if label is None:
                unknown += n
                continue
            t = tally.setdefault(label, [0, 0, 0])
            t[0] += n
            t[1] += m
            t[2] += p
        features[key] = GroupTally({g: (t[0], t[1], t[2]) for g, t in tally.items()}, unknown)
    return profile_from_counts(
        stats.rows,
        int(missing.sum()),
        int(positives.sum()) if labelled else None,
        features,
    )
