"""``compute_fairness``: validate the inputs, count once per feature, derive everything else."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from audit import contract
from audit.errors import InputError
from audit.fairness.counts import (
    INTERSECTION_SEP,
    GroupCounts,
    as_outcome,
    check_lengths,
    count_cells,
    group_codes,
    intersect_codes,
)
from audit.fairness.metrics import FeatureFairness, ReferenceRule
from audit.fairness.scores import ScoreStats, above_median, as_scores, score_stats
from audit.fairness.uncertainty import feature_rng

_RULES = ("most_favoured", "largest")


@dataclass(frozen=True)
class FairnessReport:
    """Fairness of one set of decisions: one :class:`FeatureFairness` per sensitive feature,
    in column order, then the intersection of all of them (key ``"a&b"``) if requested."""

    features: Mapping[str, FeatureFairness] = field(default_factory=dict)

    def __getitem__(self, key: str) -> FeatureFairness:
        return self.features[key]

    def to_report(self) -> dict[str, contract.FeatureFairness]:
        """The report's fairness section, keyed by feature (or intersection) name."""
        return {key: feature.to_report() for key, feature in self.features.items()}


def compute_fairness(
    y_true: Any,
    y_pred: Any,
    sensitive: pd.DataFrame,
    *,
    scores: Any = None,
    intersections: bool = True,
    reference: str | Mapping[str, str] = "most_favoured",
    min_group_size: int = 1,
    exclude_below_share: float | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> FairnessReport:
    """Group fairness of binary decisions for every sensitive feature and their intersection.

    ``y_true`` may be None: an audit without ground truth (e.g. NYC LL144, which has only the
    decisions); every metric that needs the label is then None. ``y_true`` and ``y_pred`` are
    booleans (True = positive outcome, "selected"), aligned with
    the rows of ``sensitive`` by position (indexes are ignored). ``sensitive`` has one column
    per sensitive feature; values may be strings, categoricals or numbers and may be missing.
    Missing values leave the row out of that feature's groups (counted in ``unknown``).
    With ``intersections`` and more than one column, the intersection of all columns is added
    under the key ``"col1&col2..."``, with group labels ``"value1&value2..."``.

    ``scores`` (finite numbers, higher = more likely positive) add the scoring rate, mean score,
    AUC and calibration per group. ``reference`` is ``"most_favoured"``, ``"largest"``, or a
    mapping {feature: group} naming the reference group of some features (the others use
    ``most_favoured``). Groups under ``min_group_size`` rows read "insufficient data"; groups
    under ``exclude_below_share`` of a feature's known rows are left out of comparisons.
    ``n_bootstrap`` resamples (0 = none) at ``confidence`` give the intervals, seeded by
    ``seed``. The same inputs and seed give the same numbers. Formulas:
    :mod:`audit.fairness.metrics`.
    """
    names = _check_sensitive(sensitive)
    _check_options(min_group_size, exclude_below_share, n_bootstrap, confidence, seed)
    labelled = y_true is not None
    pred = as_outcome(y_pred, "y_pred")
    # without a label every row counts as a true negative; the label metrics are then dropped
    truth = as_outcome(y_true, "y_true") if labelled else np.zeros(len(pred), dtype=bool)
    lengths = {"y_pred": len(pred), "sensitive": len(sensitive)}
    if labelled:
        lengths = {"y_true": len(truth), **lengths}
    score_values = None if scores is None else as_scores(scores)
    if score_values is not None:
        lengths["scores"] = len(score_values)
    check_lengths(**lengths)
    above = None if score_values is None else above_median(score_values)

    coded = [group_codes(sensitive.iloc[:, i]) for i in range(len(names))]
    parts: list[tuple[str, tuple[str, ...], tuple[np.ndarray, tuple[str, ...]]]] = [
        (name, (name,), code) for name, code in zip(names, coded, strict=True)
    ]
    if intersections and len(names) > 1:
        key = INTERSECTION_SEP.join(names)  # longer than any one name, so never a clash
        parts.append((key, names, intersect_codes(coded, key=key)))
    scored: list[FeaturePart] = []
    for key, columns, (codes, labels) in parts:
        counts = count_cells(truth, pred, codes, labels, above)
        stats = None
        if score_values is not None and above is not None:
            stats = score_stats(
                score_values,
                truth if labelled else None,
                above,
                codes,
                len(labels),
                n_bootstrap=n_bootstrap,
                confidence=confidence,
                rng=feature_rng(seed, key + "/scores"),
            )
        scored.append(FeaturePart(key, columns, counts, stats))
    return fairness_from_parts(
        scored,
        labelled=labelled,
        reference=reference,
        min_group_size=min_group_size,
        exclude_below_share=exclude_below_share,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
    )


@dataclass(frozen=True)
class FeaturePart:
    """The counts (and score statistics) of one feature or intersection, before any metric."""

    key: str
    columns: tuple[str, ...]
    counts: GroupCounts
    scores: ScoreStats | None = None


def fairness_from_parts(
    parts: Sequence[FeaturePart],
    *,
    labelled: bool,
    reference: str | Mapping[str, str] = "most_favoured",
    min_group_size: int = 1,
    exclude_below_share: float | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> FairnessReport:
    """Every metric of every feature from its counts alone: the part of :func:`compute_fairness`
    after counting, shared with the audit engine, which counts partition by partition.
    Score statistics must have been computed with ``feature_rng(seed, key + "/scores")``."""
    _check_options(min_group_size, exclude_below_share, n_bootstrap, confidence, seed)
    named = _named_references(reference, [p.key for p in parts])
    features: dict[str, FeatureFairness] = {}
    for part in parts:
        key, counts = part.key, part.counts
        rule: ReferenceRule = "most_favoured"
        if key in named:
            rule = "named"
        elif reference == "largest":
            rule = "largest"
        if key in named:
            _check_named(key, named[key], counts.labels, counts.n, min_group_size)
        feature = FeatureFairness.from_counts(
            key,
            part.columns,
            counts,
            scores=part.scores,
            reference=rule,
            named_group=named.get(key),
            min_group_size=min_group_size,
            exclude_below_share=exclude_below_share,
            n_bootstrap=n_bootstrap,
            confidence=confidence,
            seed=seed,
            labelled=labelled,
        )
        if key in named and feature.reference_group is None:
            raise InputError(
                f"the named reference group {named[key]!r} of {key!r} is excluded from "
                f"comparisons: it is under {exclude_below_share:.0%} of the data",
                hint="name a larger group, or lower exclude_below_share",
            )
        features[key] = feature
    return FairnessReport(features=MappingProxyType(features))


def _check_sensitive(sensitive: Any) -> tuple[str, ...]:
    if not isinstance(sensitive, pd.DataFrame):
        raise InputError(
            f"sensitive features must be a pandas DataFrame, got {type(sensitive).__name__}",
            hint="pass one column per sensitive feature, e.g. df[['sex', 'race']]",
        )
    if sensitive.shape[1] == 0:
        raise InputError(
            "no sensitive features given: the sensitive DataFrame has no columns",
            hint="name at least one sensitive column (e.g. sex, race, age band) in the audit spec",
        )
    names = tuple(str(column) for column in sensitive.columns)
    if len(set(names)) != len(names):
        duplicated = sorted({name for name in names if names.count(name) > 1})
        raise InputError(
            f"sensitive feature names are not unique: {', '.join(duplicated)}",
            hint="rename or drop the duplicated sensitive columns",
        )
    return names


def _check_options(
    min_group_size: Any, exclude_below_share: Any, n_bootstrap: Any, confidence: Any, seed: Any
) -> None:
    def is_int(value: Any) -> bool:
        return isinstance(value, int | np.integer) and not isinstance(value, bool)

    if not is_int(min_group_size) or min_group_size < 1:
        raise InputError(
            f"min_group_size must be a whole number of at least 1, got {min_group_size!r}",
            hint="set min_group_size in the policy to the smallest group you would judge, e.g. 30",
        )
    if exclude_below_share is not None and not (
        isinstance(exclude_below_share, int | float)
        and not isinstance(exclude_below_share, bool)
        and 0 <= exclude_below_share < 1
    ):
        raise InputError(
            f"exclude_below_share must be a fraction in [0, 1), got {exclude_below_share!r}",
            hint="NYC LL144's optional rule is 0.02 (2% of the data); leave it unset to keep all",
        )
    if not is_int(n_bootstrap) or n_bootstrap < 0:
        raise InputError(
            f"n_bootstrap must be a whole number >= 0, got {n_bootstrap!r}",
            hint="1000 resamples is usual; 0 turns confidence intervals off",
        )
    if not isinstance(confidence, int | float) or not 0 < confidence < 1 or math.isnan(confidence):
        raise InputError(
            f"confidence must be a fraction strictly between 0 and 1, got {confidence!r}",
            hint="use e.g. 0.95 for 95% confidence intervals",
        )
    if not is_int(seed) or seed < 0:
        raise InputError(
            f"seed must be a whole number >= 0, got {seed!r}",
            hint="any fixed non-negative integer makes the intervals reproducible",
        )


def _named_references(reference: Any, keys: list[str]) -> dict[str, str]:
    """The {feature: group} mapping of named references (empty for a rule name)."""
    if isinstance(reference, str):
        if reference not in _RULES:
            raise InputError(
                f"reference must be 'most_favoured', 'largest' or a mapping {{feature: group}}, "
                f"got {reference!r}",
                hint="to name a group, map the feature to it, e.g. {'sex': 'Male'}",
            )
        return {}
    if not isinstance(reference, Mapping):
        raise InputError(
            f"reference must be a rule name or a mapping {{feature: group}}, "
            f"got {type(reference).__name__}",
            hint="e.g. reference='most_favoured' or reference={'race': 'White'}",
        )
    unknown = [str(k) for k in reference if k not in keys]
    if unknown:
        raise InputError(
            f"reference names feature(s) {', '.join(map(repr, unknown))} that the audit does "
            f"not have (features: {', '.join(keys)})",
            hint="use a sensitive feature's name, or their intersection joined by '&'",
        )
    return {str(k): str(v) for k, v in reference.items()}


def _check_named(
    key: str, group: str, labels: tuple[str, ...], n: np.ndarray, min_group_size: int
) -> None:
    if group not in labels:
        shown = ", ".join(map(repr, labels[:20])) + (" ..." if len(labels) > 20 else "")
        raise InputError(
            f"reference group {group!r} does not occur in {key!r} (groups: {shown})",
            hint="check the group's spelling against the dataset's values",
        )
    size = int(n[labels.index(group)])
    if size < min_group_size:
        raise InputError(
            f"reference group {group!r} of {key!r} has {size} rows, under the minimum group "
            f"size {min_group_size}",
            hint="name a larger group, or lower min_group_size",
        )
