"""The result of explaining a model: per-row SHAP attributions on the model's input columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit import contract
from audit.errors import InputError
from audit.explain.adverse import ReasonsTally
from audit.explain.importance import LEVEL, Importance, importance, spearman
from audit.explain.proxies import PROXY_AUC_THRESHOLD, PROXY_THRESHOLD, Association, ProxyModel
from audit.explain.reasons import (
    MAX_REASONS,
    DecisionReasons,
    Reason,
    ReasonCodes,
    plain_value,
    top_adverse,
)


@dataclass(frozen=True)
class FeatureImportance:
    """Global importance of one input column.

    ``mean_abs_shap = mean_i |phi_ij|`` over the explained rows i;
    ``share = mean_abs_shap_j / sum_k mean_abs_shap_k`` (0 when every attribution is 0).
    """

    feature: str
    mean_abs_shap: float
    share: float


@dataclass(frozen=True)
class DirectUse:
    """A sensitive feature the model takes as input: its global importance (``mean_abs_shap``,
    ``share`` of the total) and 1-based ``rank`` among the input columns."""

    feature: str
    mean_abs_shap: float
    share: float
    rank: int


@dataclass(frozen=True)
class Additivity:
    """How well ``base_value + sum_j phi_ij`` reproduces the independently computed model output.

    ``error_i = |base_value + sum_j phi_ij - f(x_i)|``; exact explainers give rounding-level errors,
    so a large one means the explanation does not describe this model.
    """

    max_abs_error: float
    mean_abs_error: float


@dataclass(frozen=True, eq=False)
class Explanation:
    """SHAP attributions of a sample of rows, summed back to the model's input columns.

    ``attributions[i, j]`` is the contribution of input column ``feature_names[j]`` to the model
    output (in ``output_space``) for row ``row_index[i]`` of the audited data (positional row
    ``row_positions[i]``, id ``row_ids[i]``); ``base_value + attributions[i].sum()`` is the model
    output ``model_output[i]``, which was computed without SHAP. Attributions are relative to
    ``background`` (described in words). ``background_rows`` are the positions of the background
    sample (explainers that use one). Sizes are the numbers of rows actually used.

    ``decisions[i]`` is the model's decision (predicted label) for row i and ``adverse[i]`` whether
    it is not the positive label (classifiers only). ``stability[i]`` is the mean share of row i's
    top reasons kept across ``stability_replicas`` re-explanations (NaN where not checked).

    ``sensitive_features`` are every sensitive feature of the audit, model inputs or not; those
    that are inputs are :attr:`direct_use`. ``proxies`` are the associations of the other input
    columns with each sensitive feature, and ``proxy_models`` how well those columns jointly
    predict each one (:mod:`audit.explain.proxies`).
    """

    method: str
    explainer: str
    output_space: str
    positive_label: Any
    population_rows: int
    seed: int
    background_size: int | None
    base_value: float
    attributions: np.ndarray
    feature_names: tuple[str, ...]
    row_index: pd.Index
    row_positions: np.ndarray
    model_output: np.ndarray
    sensitive_features: tuple[str, ...] = ()
    background_rows: np.ndarray | None = None
    background: str = ""
    rows: str = "sample"
    row_ids: np.ndarray | None = None
    standard_error: np.ndarray | None = None
    decisions: np.ndarray | None = None
    feature_values: pd.DataFrame | None = None
    group_values: pd.DataFrame | None = None
    proxies: tuple[Association, ...] = ()
    proxy_threshold: float = PROXY_THRESHOLD
    proxy_models: tuple[ProxyModel, ...] = ()
    proxy_auc_threshold: float = PROXY_AUC_THRESHOLD
    stability: np.ndarray | None = None
    stability_replicas: int = 0
    stability_background: int | None = None
    reason_codes: ReasonCodes | None = None
    max_reasons: int = MAX_REASONS
    examples: int = 3
    additivity_tolerance: float = 1e-6
    #: the explainer, ready for other rows (``explain_model(adverse=True)``); not reported
    row_explainer: Any = None
    #: the reasons of every adverse decision of the dataset (``explain.rows: adverse``): the
    #: report's reasons summary counts these instead of the sample's
    all_reasons: ReasonsTally | None = None

    @property
    def sample_size(self) -> int:
        return int(self.attributions.shape[0])

    @property
    def adverse(self) -> np.ndarray | None:
        """True where the decision is not the positive (favourable) label."""
        if self.decisions is None:
            return None
        return np.asarray([d != self.positive_label for d in self.decisions], dtype=bool)

    @property
    def ids(self) -> np.ndarray:
        return self.row_ids if self.row_ids is not None else self.row_positions

    def mean_abs_shap(self) -> np.ndarray:
        """``mean_i |phi_ij|`` per input column, in ``feature_names`` order."""
        if self.sample_size == 0:
            return np.zeros(len(self.feature_names))
        return np.abs(self.attributions).mean(axis=0)

    def global_importance(self) -> tuple[FeatureImportance, ...]:
        """Input columns by decreasing mean |SHAP| (ties keep the model's column order)."""
        means = self.mean_abs_shap()
        total = float(means.sum())
        order = np.argsort(-means, kind="stable")
        return tuple(
            FeatureImportance(
                feature=self.feature_names[j],
                mean_abs_shap=float(means[j]),
                share=float(means[j] / total) if total > 0 else 0.0,
            )
            for j in order
        )

    def _sensitive_columns(self) -> list[int]:
        return [j for j, n in enumerate(self.feature_names) if n in self.sensitive_features]

    @property
    def proxy_features(self) -> tuple[str, ...]:
        """Input columns whose Cramér's V with a sensitive column is at least the threshold
        (strong proxies; a sensitive input column is direct use, never a proxy)."""
        strong = {a.feature for a in self.proxies if a.cramers_v >= self.proxy_threshold}
        return tuple(n for n in self.feature_names if n in strong)

    @property
    def proxy_share(self) -> float:
        """Fraction of the total mean |SHAP| on the strong proxy columns (0 when the total is 0):
        ``sum_{j in proxies} I_j / sum_k I_k``."""
        means = self.mean_abs_shap()
        total = float(means.sum())
        columns = [self.feature_names.index(f) for f in self.proxy_features]
        return float(means[columns].sum() / total) if total > 0 else 0.0

    @property
    def proxy_auc(self) -> float | None:
        """The highest cross-validated AUC of a proxy model (None if none was computed)."""
        aucs = [m.auc for m in self.proxy_models if m.auc is not None]
        return max(aucs) if aucs else None

    @property
    def direct_use(self) -> tuple[DirectUse, ...]:
        """The sensitive features that are model inputs, in ``sensitive_features`` order, with
        their share of the attribution and rank in global importance."""
        ranked = self.global_importance()
        position = {g.feature: i for i, g in enumerate(ranked)}
        return tuple(
            DirectUse(
                feature=f,
                mean_abs_shap=ranked[position[f]].mean_abs_shap,
                share=ranked[position[f]].share,
                rank=position[f] + 1,
            )
            for f in self.sensitive_features
            if f in position
        )

    @property
    def sensitive_share(self) -> float | None:
        """Fraction of the total mean |SHAP| on sensitive columns; None if none were named.

        A sensitive column the model does not take as input contributes 0.
        """
        if not self.sensitive_features:
            return None
        means = self.mean_abs_shap()
        total = float(means.sum())
        if total == 0:
            return 0.0
        return float(means[self._sensitive_columns()].sum() / total)

    @property
    def sensitive_rank(self) -> int | None:
        """1-based rank, in global importance, of the highest-ranked sensitive input column
        (None if no sensitive column is a model input). "No sensitive feature among the top k"
        is ``sensitive_rank is None or sensitive_rank > k``."""
        ranked = [g.feature for g in self.global_importance()]
        ranks = [ranked.index(f) + 1 for f in self.sensitive_features if f in ranked]
        return min(ranks) if ranks else None

    def additivity_errors(self) -> np.ndarray:
        """``|base_value + sum_j phi_ij - f(x_i)|`` for every explained row."""
        return np.abs(self.base_value + self.attributions.sum(axis=1) - self.model_output)

    @property
    def additivity(self) -> Additivity:
        errors = self.additivity_errors()
        if errors.size == 0:
            return Additivity(0.0, 0.0)
        return Additivity(float(errors.max()), float(errors.mean()))

    def decision_reasons(self, *, only: Sequence[int] | None = None) -> tuple[DecisionReasons, ...]:
        """Top reasons (at most ``max_reasons``, in words) for every adverse decision explained.

        ``only`` restricts to these explained-row indices. Raises ``InputError`` when no
        reason-code file was given or it lacks an entry for a model input column.
        """
        adverse = self.adverse
        if adverse is None:
            return ()
        if self.reason_codes is None:
            raise InputError(
                "per-decision reasons need a reason-code file mapping each input column to words",
                hint="give one (see policies/reason-codes/) in the audit spec or the policy pack",
            )
        codes = self.reason_codes.lookup(self.feature_names)
        candidates = np.flatnonzero(adverse) if only is None else only
        rows = [int(i) for i in candidates if adverse[int(i)]]
        errors = self.additivity_errors()
        top = top_adverse(self.attributions[rows], self.max_reasons) if len(rows) else []
        result = []
        for i, columns in zip(rows, top, strict=True):
            reasons = tuple(
                Reason(
                    rank=rank,
                    feature=self.feature_names[j],
                    code=codes[self.feature_names[j]].code,
                    text=codes[self.feature_names[j]].text,
                    attribution=float(self.attributions[i, j]),
                    value=self._value(i, j),
                )
                for rank, j in enumerate(columns, start=1)
            )
            stable = None
            if self.stability is not None and not np.isnan(self.stability[i]):
                stable = float(self.stability[i])
            result.append(
                DecisionReasons(
                    row_id=plain_value(self.ids[i]),
                    decision=plain_value(self.decisions[i]),  # type: ignore[index]
                    reasons=reasons,
                    additivity_error=float(errors[i]),
                    stability=stable,
                )
            )
        return tuple(result)

    def _value(self, i: int, j: int) -> Any:
        if self.feature_values is None:
            return None
        return plain_value(self.feature_values.iat[i, j])

    def contributions(self, i: int) -> list[dict[str, Any]]:
        """Every input column's value and attribution for explained row i, largest |phi| first
        (the data of a waterfall chart)."""
        order = np.argsort(-np.abs(self.attributions[i]), kind="stable")
        return [
            {
                "feature": self.feature_names[j],
                "value": self._value(i, int(j)),
                "attribution": float(self.attributions[i, j]),
            }
            for j in order
        ]

    def _importance_rows(self, imp: Importance) -> list[dict[str, Any]]:
        total = float(imp.mean_abs_shap.sum())
        order = np.argsort(-imp.mean_abs_shap, kind="stable")
        return [
            {
                "feature": self.feature_names[j],
                "mean_abs_shap": float(imp.mean_abs_shap[j]),
                "share": float(imp.mean_abs_shap[j] / total) if total > 0 else 0.0,
                "ci": [float(imp.low[j]), float(imp.high[j])],
            }
            for j in order
        ]

    def group_importance(self, min_group_size: int = 30) -> dict[str, Any]:
        """Per sensitive column and group: importance with intervals, its top features, its
        sensitive share, and the Spearman correlation of its importance with the overall one
        (1 = the model ranks features the same way for this group)."""
        if self.group_values is None:
            return {}
        overall = self.mean_abs_shap()
        result: dict[str, Any] = {}
        for column in self.group_values.columns:
            values = self.group_values[column]
            groups: dict[str, Any] = {}
            for label in sorted({str(v) for v in values}):
                mask = (values.astype(str) == label).to_numpy()
                imp = importance(self.attributions[mask], self._sensitive_columns(), seed=self.seed)
                ranked = self._importance_rows(imp)
                groups[label] = {
                    "n": imp.n,
                    "small": imp.n < min_group_size,
                    "global": ranked,
                    "top_features": [r["feature"] for r in ranked[: self.max_reasons]],
                    "sensitive_share": imp.chosen_share if self.sensitive_features else None,
                    "rank_correlation_with_overall": spearman(imp.mean_abs_shap, overall),
                }
            result[str(column)] = groups
        return result

    def distribution(self, features: int = 10, bins: int = 40) -> list[dict[str, Any]]:
        """Per-row SHAP values of the ``features`` most important columns, binned for a
        beeswarm-style summary: ``bins`` equal-width bins over the common range of values; each
        bin has its row count ``n`` and ``level``, the mean percentile rank (0 = lowest, 1 =
        highest) of the column's value among the explained rows for numeric columns (None for
        categorical ones: their values have no order). ``median_level`` is the percentile rank
        of the column's median value: 0.5, unless many rows tie at the median (a column that is
        mostly 0 has its zeros, the median, at a rank below 0.5); a bin is below the median when
        its level is below that."""
        if self.sample_size == 0:
            return []
        order = np.argsort(-self.mean_abs_shap(), kind="stable")[:features]
        low = float(self.attributions[:, order].min())
        high = float(self.attributions[:, order].max())
        if high <= low:
            high = low + 1.0
        width = (high - low) / bins
        result = []
        for j in order:
            phi = self.attributions[:, j]
            index = np.minimum(((phi - low) / width).astype(int), bins - 1)
            counts = np.bincount(index, minlength=bins)
            level = None
            median_level = None
            if self.feature_values is not None:
                column = self.feature_values.iloc[:, j]
                if pd.api.types.is_numeric_dtype(column):
                    ranks = column.rank(pct=True).to_numpy(float)
                    sums = np.bincount(index, weights=np.nan_to_num(ranks, nan=0.5), minlength=bins)
                    level = [float(sums[b] / counts[b]) if counts[b] else None for b in range(bins)]
                    at_median = (column == column.median()).to_numpy()
                    median_level = float(ranks[at_median].mean()) if at_median.any() else 0.5
            result.append(
                {
                    "feature": self.feature_names[j],
                    "low": low,
                    "high": high,
                    "counts": [int(c) for c in counts],
                    "levels": level,
                    "median_level": median_level,
                }
            )
        return result

    def _reasons_dict(self) -> dict[str, Any]:
        adverse = self.adverse
        if adverse is None:
            return {"status": "skipped", "reason": "reasons are given for classifiers' decisions"}
        if self.reason_codes is None:
            return {
                "status": "skipped",
                "reason": "no reason-code file was given, and reasons must be in words",
            }
        tally = self.all_reasons if self.all_reasons is not None else self._tally()
        codes = self.reason_codes.lookup(self.feature_names)
        n = tally.adverse
        counts = {f: int(c) for f, c in zip(self.feature_names, tally.counts, strict=True) if c > 0}
        first = dict(zip(self.feature_names, tally.first.tolist(), strict=True))
        summary = [
            {
                "feature": f,
                "code": codes[f].code,
                "text": codes[f].text,
                "decisions": c,
                "share": c / n,
                "first_reason": first.get(f, 0),
            }
            for f, c in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
        checked = (
            self.stability[adverse] if self.stability is not None else np.array([], dtype=float)
        )
        checked = checked[~np.isnan(checked)]
        examples = []
        for i in np.flatnonzero(adverse)[: self.examples]:
            example = self.decision_reasons(only=[int(i)])[0].to_dict()
            example["base_value"] = float(self.base_value)
            example["model_output"] = float(self.model_output[i])
            example["contributions"] = self.contributions(int(i))
            examples.append(example)
        result: dict[str, Any] = {
            "status": "computed",
            "max_reasons": self.max_reasons,
            "relative_to": self.background,
            "reason_codes": self.reason_codes.describe(),
            "explained_decisions": tally.decisions,
            "adverse_decisions": n,
            "decisions_with_sensitive_reason": tally.with_sensitive,
            "sensitive_reason_share": tally.with_sensitive / n if n else 0.0,
            "summary": summary,
            "stability": {
                "replicas": self.stability_replicas,
                "rows_checked": int(checked.size),
                "background_size": self.stability_background,
                "top_k": self.max_reasons,
                "mean": float(checked.mean()) if checked.size else None,
                "min": float(checked.min()) if checked.size else None,
                "share_fully_stable": float((checked >= 1.0 - 1e-12).mean())
                if checked.size
                else None,
            },
            "examples": examples,
        }
        if self.all_reasons is not None:  # every adverse decision: their explanations' fidelity
            result["additivity"] = {
                "max_abs_error": tally.max_error,
                "mean_abs_error": tally.sum_error / n if n else 0.0,
                "rows": n,
                "tolerance": self.additivity_tolerance,
                "rows_above_tolerance": tally.above_tolerance,
            }
        return result

    def _tally(self) -> ReasonsTally:
        """The reasons summary of the explained sample's adverse decisions."""
        adverse = self.adverse
        assert adverse is not None
        index = {f: j for j, f in enumerate(self.feature_names)}
        counts = np.zeros(len(self.feature_names), dtype=np.int64)
        first = np.zeros(len(self.feature_names), dtype=np.int64)
        with_sensitive = 0
        decisions = self.decision_reasons()
        for d in decisions:
            features = [r.feature for r in d.reasons]
            with_sensitive += any(f in self.sensitive_features for f in features)
            for f in features:
                counts[index[f]] += 1
            if d.reasons:
                first[index[features[0]]] += 1
        return ReasonsTally(len(adverse), len(decisions), with_sensitive, counts, first)

    def to_report(self) -> contract.ExplanationsComputed:
        """The report's explanations section."""
        return contract.ExplanationsComputed.model_validate(self._json())

    def _json(self) -> dict[str, Any]:
        additivity = self.additivity
        sensitive_columns = self._sensitive_columns()
        imp = importance(self.attributions, sensitive_columns, seed=self.seed)
        se = self.standard_error
        return {
            "status": "computed",
            "method": self.method,
            "explainer": self.explainer,
            "output_space": self.output_space,
            "background": self.background,
            "rows": self.rows,
            "sample_size": self.sample_size,
            "population_rows": self.population_rows,
            "seed": self.seed,
            "background_size": self.background_size,
            "base_value": float(self.base_value),
            "confidence_level": LEVEL,
            "global": self._importance_rows(imp),
            "sensitive_features": list(self.sensitive_features),
            "sensitive_share": self.sensitive_share,
            "sensitive_share_ci": (
                [imp.chosen_share_interval.low, imp.chosen_share_interval.high]
                if self.sensitive_features and imp.chosen_share_interval is not None
                else None
            ),
            "sensitive_rank": self.sensitive_rank,
            "direct_use": [
                {
                    "feature": d.feature,
                    "mean_abs_shap": d.mean_abs_shap,
                    "share": d.share,
                    "rank": d.rank,
                }
                for d in self.direct_use
            ],
            "proxies": [
                {
                    "feature": a.feature,
                    "sensitive_feature": a.sensitive_feature,
                    "measure": "cramers_v",
                    "value": a.cramers_v,
                    "proxy": a.cramers_v >= self.proxy_threshold,
                    "mutual_information": a.mutual_information,
                    "normalized_mutual_information": a.normalized_mutual_information,
                }
                for a in self.proxies
            ],
            "proxy_threshold": self.proxy_threshold,
            "proxy_features": list(self.proxy_features),
            "proxy_share": self.proxy_share,
            "proxy_models": [
                {
                    "sensitive_feature": m.sensitive_feature,
                    "auc": m.auc,
                    "fold_aucs": list(m.fold_aucs),
                    "folds": m.folds,
                    "rows": m.rows,
                    "classes": list(m.classes),
                    "inputs": list(m.inputs),
                    "method": m.method,
                    "predictable": m.predictable(self.proxy_auc_threshold),
                    "note": m.note,
                }
                for m in self.proxy_models
            ],
            "proxy_auc_threshold": self.proxy_auc_threshold,
            "proxy_auc": self.proxy_auc,
            "groups": self.group_importance(),
            "distribution": self.distribution(),
            "additivity": {
                "max_abs_error": additivity.max_abs_error,
                "mean_abs_error": additivity.mean_abs_error,
                "rows": self.sample_size,
                "tolerance": self.additivity_tolerance,
                "rows_above_tolerance": int(
                    (self.additivity_errors() > self.additivity_tolerance).sum()
                ),
            },
            "sampling_error": None
            if se is None
            else {"max": float(se.max(initial=0.0)), "mean": float(se.mean()) if se.size else 0.0},
            "reasons": self._reasons_dict(),
        }
