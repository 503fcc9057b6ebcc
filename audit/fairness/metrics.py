"""Group fairness metrics, all derived from per-group confusion counts.

Names follow fairlearn's ``metrics`` module. For a group with counts tn, fp, fn, tp and
n = tn + fp + fn + tp (a "disaggregated metric" is one of these per group):

=================  ====================================  ====================================
metric             formula                               meaning
=================  ====================================  ====================================
selection_rate     (tp + fp) / n                         P(selected | group)
base_rate          (tp + fn) / n                         P(actually positive | group)
tpr                tp / (tp + fn)                        P(selected | positive, group)
fpr                fp / (fp + tn)                        P(selected | negative, group)
fnr                fn / (fn + tp)                        1 - tpr
ppv                tp / (tp + fp)                        precision: P(positive | selected, group)
accuracy           (tp + tn) / n
impact_ratio       selection_rate / selection_rate(ref)  "four-fifths rule" ratio, 29 CFR 1607.4D
=================  ====================================  ====================================

The reference group ``ref`` is the most favoured group: the highest selection rate, ties broken
by the larger n, then by label order. A rate whose denominator is zero is undefined and is
``None`` (JSON has no NaN, and a made-up 0 would pass a "difference <= x" rule it should not).

Between groups (fairlearn's ``between_groups`` method), over the groups where the rate is
defined:

- demographic_parity_difference = max(selection_rate) - min(selection_rate)
- demographic_parity_ratio = min(selection_rate) / max(selection_rate)  (None if max is 0)
- equal_opportunity_difference = max(tpr) - min(tpr)
- equalized_odds_difference = max(tpr range, fpr range)  (None if either range is)

A disparity compares groups, so it is None unless at least two groups define the rate: a "0"
from a single group would pass any "difference <= x" rule without comparing anything.
This differs from fairlearn in two places, on purpose: fairlearn scores an undefined
per-group tpr/fpr as 0 and includes it in the range (here the group is left out, and its own
rate is None), and fairlearn reports a difference of 0 and a ratio of 1 for a single group.
When at least two groups are present and every group has both classes, the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import InputError
from audit.fairness.counts import (
    FN,
    FP,
    INTERSECTION_SEP,
    TN,
    TP,
    GroupCounts,
    as_outcome,
    check_lengths,
    count_cells,
    group_codes,
    intersect_codes,
)


@dataclass(frozen=True)
class GroupMetrics:
    """Confusion counts and rates of one group; see the module docstring for the formulas."""

    label: str
    n: int
    tp: int
    fp: int
    fn: int
    tn: int
    selection_rate: float
    base_rate: float
    tpr: float | None
    fpr: float | None
    fnr: float | None
    ppv: float | None
    accuracy: float
    impact_ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of everything but the label (which is the key it is stored under)."""
        return {
            "n": self.n,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "selection_rate": self.selection_rate,
            "base_rate": self.base_rate,
            "tpr": self.tpr,
            "fpr": self.fpr,
            "fnr": self.fnr,
            "ppv": self.ppv,
            "accuracy": self.accuracy,
            "impact_ratio": self.impact_ratio,
        }


@dataclass(frozen=True)
class FeatureFairness:
    """Per-group metrics and between-group disparities for one feature or intersection.

    ``name`` is the column name, or the column names joined with ``&`` for an intersection;
    ``columns`` are the column names it is made of. With no known group (every value missing)
    ``groups`` is empty and ``reference_group`` is None; with fewer than two groups every
    disparity is None (there is nothing to compare).
    """

    name: str
    columns: tuple[str, ...]
    counts: GroupCounts
    reference_group: str | None
    groups: Mapping[str, GroupMetrics]
    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    equalized_odds_difference: float | None
    equal_opportunity_difference: float | None

    @property
    def unknown(self) -> int:
        """Rows left out because the group value (any part, for an intersection) is missing."""
        return self.counts.unknown

    @classmethod
    def from_counts(
        cls, name: str, columns: tuple[str, ...], counts: GroupCounts
    ) -> FeatureFairness:
        """Derive every metric from the counts alone (no rows needed, e.g. for resampling)."""
        cells = counts.cells
        tn, fp, fn, tp = (cells[:, i] for i in (TN, FP, FN, TP))
        n = counts.n
        selection = _divide(tp + fp, n)
        tpr = _divide(tp, tp + fn)
        fpr = _divide(fp, fp + tn)
        fnr = _divide(fn, fn + tp)
        ppv = _divide(tp, tp + fp)
        base = _divide(tp + fn, n)
        accuracy = _divide(tp + tn, n)

        reference: int | None = None
        impact = np.full(len(counts.labels), np.nan)
        if len(counts.labels):
            # lexsort sorts by the last key first: highest rate, then largest n, then label.
            reference = int(np.lexsort((np.arange(len(n)), -n, -selection))[0])
            impact = _divide(selection, np.full_like(selection, selection[reference]))

        groups = {
            label: GroupMetrics(
                label=label,
                n=int(n[g]),
                tp=int(tp[g]),
                fp=int(fp[g]),
                fn=int(fn[g]),
                tn=int(tn[g]),
                selection_rate=float(selection[g]),
                base_rate=float(base[g]),
                tpr=_optional(tpr[g]),
                fpr=_optional(fpr[g]),
                fnr=_optional(fnr[g]),
                ppv=_optional(ppv[g]),
                accuracy=float(accuracy[g]),
                impact_ratio=_optional(impact[g]),
            )
            for g, label in enumerate(counts.labels)
        }
        tpr_range, fpr_range = _range(tpr), _range(fpr)
        max_selection = np.max(selection) if len(selection) >= 2 else np.nan
        return cls(
            name=name,
            columns=columns,
            counts=counts,
            reference_group=None if reference is None else counts.labels[reference],
            groups=MappingProxyType(groups),
            demographic_parity_difference=_range(selection),
            demographic_parity_ratio=(
                _optional(np.min(selection) / max_selection) if max_selection > 0 else None
            ),
            equalized_odds_difference=(
                None if tpr_range is None or fpr_range is None else max(tpr_range, fpr_range)
            ),
            equal_opportunity_difference=tpr_range,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: reference group, unknown count, groups (sorted), disparities."""
        return {
            "reference_group": self.reference_group,
            "unknown": self.unknown,
            "groups": {label: m.to_dict() for label, m in self.groups.items()},
            "demographic_parity_difference": self.demographic_parity_difference,
            "demographic_parity_ratio": self.demographic_parity_ratio,
            "equalized_odds_difference": self.equalized_odds_difference,
            "equal_opportunity_difference": self.equal_opportunity_difference,
        }


@dataclass(frozen=True)
class FairnessReport:
    """Fairness of one set of decisions: one :class:`FeatureFairness` per sensitive feature,
    in column order, then the intersection of all of them (key ``"a&b"``) if requested."""

    features: Mapping[str, FeatureFairness] = field(default_factory=dict)

    def __getitem__(self, key: str) -> FeatureFairness:
        return self.features[key]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict keyed by feature (or intersection) name; see ``FeatureFairness``."""
        return {key: feature.to_dict() for key, feature in self.features.items()}


def compute_fairness(
    y_true: Any, y_pred: Any, sensitive: pd.DataFrame, *, intersections: bool = True
) -> FairnessReport:
    """Group fairness of binary decisions for every sensitive feature and their intersection.

    ``y_true`` and ``y_pred`` are booleans (True = positive outcome, "selected"), aligned with
    the rows of ``sensitive`` by position (indexes are ignored). ``sensitive`` has one column
    per sensitive feature; values may be strings, categoricals or numbers and may be missing.
    Missing values leave the row out of that feature's groups (counted in ``unknown``).
    With ``intersections`` and more than one column, the intersection of all columns is added
    under the key ``"col1&col2..."``, with group labels ``"value1&value2..."``.

    Confusion counts are computed once per feature in a single vectorised pass, and every
    metric is derived from them (see :meth:`FeatureFairness.from_counts`).
    """
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
    truth = as_outcome(y_true, "y_true")
    pred = as_outcome(y_pred, "y_pred")
    check_lengths(y_true=len(truth), y_pred=len(pred), sensitive=len(sensitive))

    coded = [group_codes(sensitive.iloc[:, i]) for i in range(len(names))]
    features: dict[str, FeatureFairness] = {}
    for name, (codes, labels) in zip(names, coded, strict=True):
        counts = count_cells(truth, pred, codes, labels)
        features[name] = FeatureFairness.from_counts(name, (name,), counts)
    if intersections and len(names) > 1:
        key = INTERSECTION_SEP.join(names)  # longer than any one name, so never a clash
        codes, labels = intersect_codes(coded, key=key)
        features[key] = FeatureFairness.from_counts(
            key, names, count_cells(truth, pred, codes, labels)
        )
    return FairnessReport(features=MappingProxyType(features))


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio as float, NaN where the denominator is 0 (undefined, not 0)."""
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _optional(value: float) -> float | None:
    """A Python float, or None for an undefined (NaN) value."""
    return None if np.isnan(value) else float(value)


def _range(rates: np.ndarray) -> float | None:
    """max - min over the defined rates; None unless at least two groups define the rate."""
    defined = rates[~np.isnan(rates)]
    return float(defined.max() - defined.min()) if len(defined) >= 2 else None
