"""Group fairness metrics of one feature, all derived from per-group confusion counts.

Per-group rates and their formulas are in :mod:`audit.fairness.rates`; score statistics in
:mod:`audit.fairness.scores`; intervals and tests in :mod:`audit.fairness.uncertainty`.
Names follow fairlearn's ``metrics`` module. On top of the per-group rates:

- impact_ratio = selection_rate / selection_rate(ref)  ("four-fifths rule", 29 CFR 1607.4(D));
  scoring_impact_ratio = scoring_rate / scoring_rate(scoring ref)  (NYC LL144).
- vs_reference[m] = (m - m(ref), m / m(ref)) for each compared metric m.
- disparities[m]: difference = max(m) - min(m), ratio = min(m) / max(m) (None if max is 0),
  over the compared groups, with the pair (lowest, highest) that gives them. In fairlearn's
  terms: demographic parity = selection_rate, equal opportunity = tpr, predictive parity = ppv;
  equalized_odds_difference = max(tpr difference, fpr difference).

**Reference group** (``ref``), chosen among the compared groups: ``most_favoured`` (highest
selection rate, ties to the larger n, then label order), ``largest`` (largest n, ties to the
higher selection rate, then label order), or ``named``. Scoring impact ratios use the highest
scoring rate when the rule is ``most_favoured`` (as LL144 defines them), else the same group.

**Compared groups.** A group with fewer rows than ``min_group_size`` reads "insufficient data":
its counts are reported, every rate is None. A group under ``exclude_below_share`` of the data
(LL144's optional 2% rule) keeps its counts, rates and intervals and gets the reason in
``excluded``. Neither kind enters any comparison: reference choice, impact ratios,
vs_reference, tests or disparities. A disparity needs two compared groups that define the
rate, otherwise it is None (a "0" from one group would pass any "difference <= x" rule).
Where every group is compared and defines every rate, disparities equal fairlearn's
``MetricFrame.difference()`` / ``.ratio()``; fairlearn differs on purpose where it scores an
undefined rate as 0 or reports a difference of 0 for a single group.

**Intervals** hold their coverage in small groups and at rare outcomes (the percentile bootstrap
does not: a group with 0 of 30 selected would get [0, 0]); each number's method is named in the
report (``ci_method``, ``method_ratio``, ``method_difference``, ``method``). Formulas:
:mod:`audit.fairness.intervals`.

- every rate and share: the Jeffreys interval (Wilson's exact coverage dips to 0.9298 at n = 30, p = 0.3);
- a ratio to a fixed reference group (``named`` or ``largest``; every vs_reference ratio): the
  Koopman score interval; a difference to it: Newcombe's hybrid score interval. The reference
  group's own ratio is 1 by definition (interval [1, 1]).
- the impact ratio (and scoring impact ratio) under ``most_favoured``: the reference is chosen
  from the data, so the interval is that of min(1, min over the other compared groups h of
  p / p_h) -- Koopman limits against every candidate reference, the upper ones Bonferroni-
  adjusted over the candidates -- and the reference group's own ratio gets a real interval
  [low, 1] (:func:`audit.fairness.intervals.most_favoured_ratio`).
- between-group summaries (max - min, min / max, equalized odds), whose groups are chosen from
  the data: the percentile bootstrap over multinomial resamples of the (group x cell) counts, the
  highest and lowest groups re-chosen inside every resample (:mod:`audit.fairness.uncertainty`),
  ``n_bootstrap`` resamples seeded by ``seed`` and the feature's name; mean_score, auc and ece:
  the bootstrap over each group's rows (:mod:`audit.fairness.scores`).

**Tests**: each compared group's rates against the reference group's (the scoring rate against
the scoring reference's), Fisher's exact test or the two-proportion z-test, with p-values
(:func:`audit.fairness.uncertainty.compare_proportions`): descriptive, "does this group differ
from the reference". Policies judge against their thresholds instead (one-sided tests, corrected
for multiplicity: :mod:`audit.policy.rules.fairness`).

**Without true labels** (``labelled=False``) every metric that needs them (catalogue
``needs == "labels"``) is None, as are the confusion cells; ``selected`` is always counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from audit import contract
from audit.contract.fairness import field_name
from audit.contract.metrics import CATALOGUE, GROUP_METRICS, LABEL_METRICS
from audit.fairness.bounds import (
    BOOTSTRAP_METHOD,
    ReferenceRule,
    bootstrap_intervals,
    score_intervals,
    spread_only,
    unlabelled,
)
from audit.fairness.counts import GroupCounts
from audit.fairness.rates import (
    DISPARITY_METRICS,
    RATES,
    divide,
    rate_parts,
    spread,
    versus,
    worst_pair,
)
from audit.fairness.scores import CalibrationBin, ScoreStats
from audit.fairness.uncertainty import (
    Interval,
    ProportionTest,
    feature_rng,
    reference_tests,
    resample_cells,
)

Status = Literal["ok", "insufficient_data"]
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Comparison:
    """A group against the reference group: difference m - m(ref) and ratio m / m(ref)."""

    difference: float | None
    ratio: float | None
    ci_difference: Interval | None
    ci_ratio: Interval | None
    method_difference: str | None = None
    method_ratio: str | None = None

    def to_report(self) -> contract.Comparison:
        return contract.Comparison(
            difference=self.difference,
            ratio=self.ratio,
            ci_difference=_interval(self.ci_difference),
            ci_ratio=_interval(self.ci_ratio),
            method_difference=self.method_difference if self.ci_difference else None,
            method_ratio=self.method_ratio if self.ci_ratio else None,
        )


@dataclass(frozen=True)
class Disparity:
    """Between-group spread of one metric: max - min and min / max, and the groups giving it."""

    difference: float | None
    ratio: float | None
    worst_pair: tuple[str, str] | None  # (lowest, highest)
    ci_difference: Interval | None
    ci_ratio: Interval | None
    method: str | None = None

    def to_report(self) -> contract.Disparity:
        return contract.Disparity(
            difference=self.difference,
            ratio=self.ratio,
            worst_pair=None if self.worst_pair is None else list(self.worst_pair),
            ci_difference=_interval(self.ci_difference),
            ci_ratio=_interval(self.ci_ratio),
            method=self.method if (self.ci_difference or self.ci_ratio) else None,
        )


@dataclass(frozen=True)
class GroupMetrics:
    """Counts, rates, intervals and tests of one group; formulas in the metric catalogue.

    ``values`` holds every catalogued metric computed for the group (``share``, each rate,
    ``impact_ratio``, and with scores ``scoring_rate``, ``scoring_impact_ratio``, ``mean_score``,
    ``auc``, ``ece``); each is also an attribute (``for_`` for the false omission rate, ``for``
    being a Python keyword). With ``status == "insufficient_data"`` every rate, interval and test
    is None.
    """

    label: str
    n: int
    tp: int | None
    fp: int | None
    fn: int | None
    tn: int | None
    values: Mapping[str, float | None]
    status: Status = "ok"
    excluded: str | None = None
    calibration: tuple[CalibrationBin, ...] | None = None
    ci: Mapping[str, Interval | None] = field(default_factory=lambda: _EMPTY)
    tests: Mapping[str, ProportionTest | None] = field(default_factory=lambda: _EMPTY)
    vs_reference: Mapping[str, Comparison] = field(default_factory=lambda: _EMPTY)
    selected: int | None = None
    ci_method: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def rate(self, name: str) -> float | None:
        """A metric by its report name (``"for"`` included); None if undefined or absent."""
        return self.values.get(name)

    def __getattr__(self, name: str) -> float | None:
        metric = name[:-1] if name.endswith("_") else name
        if metric in CATALOGUE:
            return self.values.get(metric)
        raise AttributeError(name)

    def to_report(self, scored: bool = False) -> contract.GroupFairness:
        """The group's entry in the typed report (metrics of scores only when ``scored``)."""
        metrics = {
            field_name(m.name): self.values.get(m.name)
            for m in GROUP_METRICS
            if scored or not m.scored_only
        }
        return contract.GroupFairness(
            n=self.n,
            selected=self.selected,
            tp=self.tp,
            fp=self.fp,
            fn=self.fn,
            tn=self.tn,
            status=self.status,
            excluded=self.excluded,
            **metrics,
            **(
                {
                    "calibration": None
                    if self.calibration is None
                    else [contract.CalibrationBin(**vars(b)) for b in self.calibration]
                }
                if scored
                else {}
            ),
            ci={m: None if c is None else c.to_list() for m, c in self.ci.items()},
            ci_method={m: self.ci_method[m] for m, c in self.ci.items() if c is not None},
            tests={
                m: None if t is None else contract.ProportionTest(**vars(t))
                for m, t in self.tests.items()
            },
            vs_reference={m: c.to_report() for m, c in self.vs_reference.items()},
        )


@dataclass(frozen=True)
class FeatureFairness:
    """Per-group metrics and between-group disparities for one feature or intersection.

    ``name`` is the column name, or the column names joined with ``&`` for an intersection;
    ``columns`` are the column names it is made of. With no compared group ``reference_group``
    is None; with fewer than two every disparity is None (there is nothing to compare).
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
    predictive_parity_difference: float | None = None
    reference_rule: ReferenceRule = "most_favoured"
    scoring_reference_group: str | None = None
    excluded_groups: tuple[str, ...] = ()
    min_group_size: int = 1
    exclude_below_share: float | None = None
    n_bootstrap: int = 0
    confidence: float = 0.95
    seed: int = 0
    scored: bool = False
    disparities: Mapping[str, Disparity] = field(default_factory=lambda: _EMPTY)
    labelled: bool = True

    @property
    def unknown(self) -> int:
        """Rows left out because the group value (any part, for an intersection) is missing."""
        return self.counts.unknown

    @classmethod
    def from_counts(
        cls,
        name: str,
        columns: tuple[str, ...],
        counts: GroupCounts,
        *,
        scores: ScoreStats | None = None,
        reference: ReferenceRule = "most_favoured",
        named_group: str | None = None,
        min_group_size: int = 1,
        exclude_below_share: float | None = None,
        n_bootstrap: int = 0,
        confidence: float = 0.95,
        seed: int = 0,
        labelled: bool = True,
    ) -> FeatureFairness:
        """Derive every metric from the counts (and per-group score statistics) alone.

        Arguments are validated by :func:`audit.fairness.compute_fairness`; ``named_group``
        must be a compared group when ``reference == "named"``. With ``labelled=False`` the
        counts' cells hold every row as a true negative (the label is unknown) and every metric
        that needs the label is None.
        """
        labels = counts.labels
        n = counts.n
        above = counts.above
        scored = above is not None
        point_parts = rate_parts(counts.cells, above)
        point = {name: divide(*pair) for name, pair in point_parts.items()}
        if not labelled:
            point = {
                m: np.full(len(labels), np.nan) if m in LABEL_METRICS else v
                for m, v in point.items()
            }
        sufficient = n >= min_group_size
        below_share = np.zeros(len(labels), dtype=bool)
        if exclude_below_share is not None:
            below_share = point["share"] < exclude_below_share
        compared = sufficient & ~below_share
        ref = _reference(reference, named_group, labels, n, point["selection_rate"], compared)
        scoring_ref = ref
        if scored and reference == "most_favoured" and ref is not None:
            scoring_ref = _ranked_first(labels, compared, point["scoring_rate"], n)
        derived = _derive(point_parts, compared, ref, scoring_ref, scored)
        if not labelled:
            derived = {k: unlabelled(k, v) for k, v in derived.items()}
        intervals, methods = score_intervals(
            point_parts, compared, ref, scoring_ref, reference, confidence, labelled
        )
        if scores is not None and scores.ci is not None:
            for key, bounds in scores.ci.items():
                intervals[key] = bounds
                methods[key] = (
                    f"bootstrap percentile, rows resampled within the group ({n_bootstrap})"
                )

        if n_bootstrap > 0 and len(labels):
            joint = (
                counts.cells
                if not scored
                else np.concatenate([counts.cells - counts.above_cells, counts.above_cells], axis=1)
            )
            draws = resample_cells(joint, n_bootstrap, feature_rng(seed, name))
            cells = draws if not scored else draws[..., :4] + draws[..., 4:]
            boot_above = None if not scored else draws[..., 4:].sum(axis=-1)
            # only the between-group summaries come from the bootstrap: spread() re-chooses the
            # highest and lowest group inside every resample
            boot = spread_only(rate_parts(cells, boot_above), compared, scored)
            if not labelled:
                boot = {k: unlabelled(k, v) for k, v in boot.items()}
            intervals.update(bootstrap_intervals(boot, n_bootstrap, confidence))
            for key in boot:
                methods[key] = BOOTSTRAP_METHOD.format(n=n_bootstrap)

        def value(key: str, g: int | None = None) -> float | None:
            return _optional(float(derived[key] if g is None else derived[key][g]))

        def interval(key: str, g: int | None = None) -> Interval | None:
            if key not in intervals:
                return None
            low, high = intervals[key]
            low, high = (low, high) if g is None else (low[g], high[g])
            if not (np.isfinite(low) and np.isfinite(high)):
                return None
            return Interval(float(low), float(high))

        compared_metrics = DISPARITY_METRICS + (("scoring_rate",) if scored else ())
        interval_keys = ("share", *RATES, "impact_ratio") + (
            ("scoring_rate", "scoring_impact_ratio", "mean_score", "auc", "ece") if scored else ()
        )
        groups: dict[str, GroupMetrics] = {}
        for g, label in enumerate(labels):
            ok = bool(sufficient[g])
            rates = {m: value(m, g) if ok else None for m in (*RATES, "share")}
            reason = None
            if below_share[g]:
                reason = (
                    f"{point['share'][g]:.2%} of the data ({int(n[g]):,} of "
                    f"{int(n.sum()):,} rows) is under the {exclude_below_share:.0%} threshold"
                )
            cells = counts.cells[g]
            is_compared = bool(compared[g]) and ref is not None
            stats, calibration = _score_fields(scores, g, ok)
            values: dict[str, float | None] = {
                **rates,
                "impact_ratio": value("impact_ratio", g) if is_compared else None,
                "share": _optional(point["share"][g]),
            }
            if scored:
                values["scoring_rate"] = value("scoring_rate", g) if ok else None
                values["scoring_impact_ratio"] = (
                    value("scoring_impact_ratio", g) if is_compared else None
                )
                values.update(stats)
            ci = {
                k: interval(k, g)
                if ok and values.get(k) is not None and (is_compared or "impact" not in k)
                else None
                for k in interval_keys
            }
            groups[label] = GroupMetrics(
                label=label,
                n=int(n[g]),
                tn=int(cells[0]) if labelled else None,
                fp=int(cells[1]) if labelled else None,
                fn=int(cells[2]) if labelled else None,
                tp=int(cells[3]) if labelled else None,
                selected=int(cells[1] + cells[3]),
                values=MappingProxyType(values),
                calibration=calibration,
                status="ok" if ok else "insufficient_data",
                excluded=reason,
                ci=MappingProxyType(ci),
                ci_method=MappingProxyType({k: methods[k] for k, c in ci.items() if c}),
                tests=MappingProxyType(
                    reference_tests(counts, g, ref, scoring_ref, is_compared, scored, labelled)
                ),
                vs_reference=MappingProxyType(
                    {
                        m: Comparison(
                            difference=value(f"{m}.vs_difference", g) if is_compared else None,
                            ratio=value(f"{m}.vs_ratio", g) if is_compared else None,
                            ci_difference=interval(f"{m}.vs_difference", g)
                            if is_compared and g != ref
                            else None,
                            ci_ratio=interval(f"{m}.vs_ratio", g)
                            if is_compared and g != ref
                            else None,
                            method_difference=methods.get(f"{m}.vs_difference"),
                            method_ratio=methods.get(f"{m}.vs_ratio"),
                        )
                        for m in compared_metrics
                    }
                ),
            )

        disparities: dict[str, Disparity] = {}
        for m in compared_metrics:
            pair = worst_pair(point[m], compared)
            disparities[m] = Disparity(
                difference=value(f"{m}.difference"),
                ratio=value(f"{m}.ratio"),
                worst_pair=None if pair is None else (labels[pair[0]], labels[pair[1]]),
                ci_difference=interval(f"{m}.difference"),
                ci_ratio=interval(f"{m}.ratio"),
                method=methods.get(f"{m}.difference"),
            )
        eod = Disparity(
            difference=value("equalized_odds_difference"),
            ratio=None,
            worst_pair=None,
            ci_difference=interval("equalized_odds_difference"),
            ci_ratio=None,
            method=methods.get("equalized_odds_difference"),
        )
        disparities["equalized_odds_difference"] = eod
        return cls(
            name=name,
            columns=columns,
            counts=counts,
            reference_group=None if ref is None else labels[ref],
            groups=MappingProxyType(groups),
            demographic_parity_difference=disparities["selection_rate"].difference,
            demographic_parity_ratio=disparities["selection_rate"].ratio,
            equalized_odds_difference=eod.difference,
            equal_opportunity_difference=disparities["tpr"].difference,
            predictive_parity_difference=disparities["ppv"].difference,
            reference_rule=reference,
            scoring_reference_group=None if scoring_ref is None else labels[scoring_ref],
            excluded_groups=tuple(label for g, label in enumerate(labels) if below_share[g]),
            min_group_size=min_group_size,
            exclude_below_share=exclude_below_share,
            n_bootstrap=n_bootstrap,
            confidence=confidence,
            seed=seed,
            scored=scored,
            disparities=MappingProxyType(disparities),
            labelled=labelled,
        )

    def to_report(self) -> contract.FeatureFairness:
        """The feature's entry in the typed report: reference, unknown count, groups, disparities."""
        reference = contract.ReferenceChoice(
            rule=self.reference_rule,
            group=self.reference_group,
            **({"scoring_group": self.scoring_reference_group} if self.scored else {}),
        )
        return contract.FeatureFairness(
            reference_group=self.reference_group,
            unknown=self.unknown,
            groups={label: m.to_report(self.scored) for label, m in self.groups.items()},
            demographic_parity_difference=self.demographic_parity_difference,
            demographic_parity_ratio=self.demographic_parity_ratio,
            equalized_odds_difference=self.equalized_odds_difference,
            equal_opportunity_difference=self.equal_opportunity_difference,
            predictive_parity_difference=self.predictive_parity_difference,
            n=int(self.counts.n.sum()),
            reference=reference,
            excluded_groups=list(self.excluded_groups),
            exclude_below_share=self.exclude_below_share,
            min_group_size=self.min_group_size,
            confidence=self.confidence,
            n_bootstrap=self.n_bootstrap,
            seed=self.seed,
            disparities={
                m: (
                    contract.Disparity(
                        difference=d.difference,
                        ci=_interval(d.ci_difference),
                        method=d.method if d.ci_difference else None,
                    )
                    if m == "equalized_odds_difference"
                    else d.to_report()
                )
                for m, d in self.disparities.items()
            },
            **({} if self.labelled else {"labelled": False}),
        )


def _derive(
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    compared: np.ndarray,
    ref: int | None,
    scoring_ref: int | None,
    scored: bool,
) -> dict[str, np.ndarray]:
    """Per-group rates plus every comparison, for point estimates or a stack of resamples.

    Comparisons are computed from the counts (see :func:`rates.fraction_ratio`), so a ratio
    that is exactly 0.8 is 0.8, not 0.7999999999999999.
    """
    out = {name: divide(*pair) for name, pair in parts.items()}
    metrics = DISPARITY_METRICS + (("scoring_rate",) if scored else ())
    for m in metrics:
        out[f"{m}.difference"], out[f"{m}.ratio"] = spread(*parts[m], compared)
        if ref is not None:
            out[f"{m}.vs_difference"], out[f"{m}.vs_ratio"] = versus(*parts[m], ref)
    out["equalized_odds_difference"] = np.maximum(out["tpr.difference"], out["fpr.difference"])
    if ref is not None:
        out["impact_ratio"] = out["selection_rate.vs_ratio"]
    if scored and scoring_ref is not None:
        out["scoring_impact_ratio"] = versus(*parts["scoring_rate"], scoring_ref)[1]
    return out


def _ranked_first(
    labels: tuple[str, ...], compared: np.ndarray, primary: np.ndarray, secondary: np.ndarray
) -> int | None:
    """The compared group with the highest ``primary``, then highest ``secondary``, then the
    first label; None when no group is compared."""
    candidates = np.flatnonzero(compared)
    if len(candidates) == 0:
        return None
    # lexsort sorts by the last key first; labels are sorted, so the index breaks final ties.
    order = np.lexsort((candidates, -secondary[candidates], -primary[candidates]))
    return int(candidates[order[0]])


def _reference(
    rule: ReferenceRule,
    named_group: str | None,
    labels: tuple[str, ...],
    n: np.ndarray,
    selection: np.ndarray,
    compared: np.ndarray,
) -> int | None:
    if rule == "named":
        return labels.index(named_group) if named_group in labels else None
    if rule == "largest":
        return _ranked_first(labels, compared, n.astype(np.float64), selection)
    return _ranked_first(labels, compared, selection, n.astype(np.float64))


def _score_fields(
    scores: ScoreStats | None, g: int, ok: bool
) -> tuple[dict[str, float | None], tuple[CalibrationBin, ...] | None]:
    """Score statistics of group ``g`` (mean score, AUC, ECE) and its calibration bins."""
    if scores is None or not ok:
        return {"mean_score": None, "auc": None, "ece": None}, None
    values = {
        "mean_score": _optional(scores.mean_score[g]),
        "auc": _optional(scores.auc[g]),
        "ece": None if scores.ece is None else _optional(scores.ece[g]),
    }
    return values, None if scores.calibration is None else scores.calibration[g]


def _optional(value: float) -> float | None:
    """A Python float, or None for an undefined (NaN) value."""
    return None if np.isnan(value) else float(value)


def _interval(ci: Interval | None) -> list[float] | None:
    return None if ci is None else ci.to_list()
