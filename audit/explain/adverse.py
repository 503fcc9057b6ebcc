"""Reasons for every adverse decision of the dataset, one partition at a time.

The explained sample (:func:`audit.explain.explain_model`) gives the report its importance,
plots and examples; adverse-action notices need the principal reasons of *every* adverse
decision (ECOA / Regulation B, 12 CFR 1002.9). :class:`AdverseExplainer` is the sample's
explainer, made once (explainer, preprocessing, background, reason codes) and applied to each
partition's adverse rows by the engine's reasons pass, on any backend (it pickles, so Dask ships
it to the workers once). Each partition yields a :class:`ReasonsPart`: its reasons.csv lines and
a :class:`ReasonsTally` (counts that add up across partitions) for the report's summary.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from audit.explain.features import FeatureMap, per_input, transform_rows
from audit.explain.interface import Explainer, Target
from audit.explain.reasons import (
    DecisionReasons,
    Reason,
    ReasonCode,
    plain_value,
    top_adverse,
    write_reason_lines,
)


@dataclass(frozen=True)
class ReasonsTally:
    """What the report says about the reasons of every adverse decision; merged by addition.

    ``counts[j]`` / ``first[j]``: adverse decisions with input column j among their reasons /
    as their first reason; ``with_sensitive``: decisions with a sensitive feature among their
    reasons; additivity ``|base + sum_j phi_j - f(x)|`` over the explained decisions.
    """

    decisions: int
    adverse: int
    with_sensitive: int
    counts: np.ndarray
    first: np.ndarray
    max_error: float = 0.0
    sum_error: float = 0.0
    above_tolerance: int = 0

    @classmethod
    def empty(cls, features: int) -> ReasonsTally:
        zeros = np.zeros(features, dtype=np.int64)
        return cls(0, 0, 0, zeros, zeros.copy())

    def merge(self, other: ReasonsTally) -> ReasonsTally:
        return ReasonsTally(
            decisions=self.decisions + other.decisions,
            adverse=self.adverse + other.adverse,
            with_sensitive=self.with_sensitive + other.with_sensitive,
            counts=self.counts + other.counts,
            first=self.first + other.first,
            max_error=max(self.max_error, other.max_error),
            sum_error=self.sum_error + other.sum_error,
            above_tolerance=self.above_tolerance + other.above_tolerance,
        )


@dataclass(frozen=True)
class ReasonsPart:
    """One partition's reasons: reasons.csv ``lines`` as ``text`` (no header), in row order."""

    first_row: int
    text: str
    lines: int
    tally: ReasonsTally


@dataclass(frozen=True, eq=False)
class AdverseExplainer:
    """The explained sample's explainer, ready for any rows of the same dataset.

    ``stability`` maps the file positions of the sample's checked adverse decisions to their
    stability (the other rows have none: it is measured on a seeded subset only).
    """

    estimator: Any
    preprocessor: Any
    explainer: Explainer
    target: Target
    feature_map: FeatureMap
    input_names: tuple[str, ...]
    background: np.ndarray | None
    seed: int
    adverse_label: Any
    codes: tuple[ReasonCode, ...]
    sensitive: tuple[bool, ...]
    max_reasons: int
    tolerance: float
    stability: dict[int, float] = field(default_factory=dict)

    def explain(
        self, X: pd.DataFrame, favourable: np.ndarray, first_row: int, ids: np.ndarray | None
    ) -> ReasonsPart:
        """Reasons for the adverse rows of one partition (rows ``first_row``.. of the file);
        ``favourable[i]`` is the model's decision for row i, ``ids`` the id column's values."""
        adverse = np.flatnonzero(~np.asarray(favourable, dtype=bool))
        tally = ReasonsTally.empty(len(self.input_names))
        if adverse.size == 0:
            return ReasonsPart(first_row, "", 0, replace(tally, decisions=len(X)))
        rows = X.iloc[adverse].loc[:, list(self.input_names)]
        model_rows = transform_rows(self.preprocessor, rows)
        attribution = self.explainer.explain(
            self.estimator,
            model_rows,
            target=self.target,
            background=self.background,
            owner=self.feature_map.owner,
            seed=self.seed,
        )
        values = per_input(attribution.values, attribution, self.feature_map)
        errors = np.abs(attribution.base_value + values.sum(axis=1) - attribution.model_output)
        top = top_adverse(values, self.max_reasons)
        positions = first_row + adverse
        row_ids = positions if ids is None else np.asarray(ids)[adverse]
        columns = [rows.iloc[:, j].to_numpy() for j in range(rows.shape[1])]
        counts = np.zeros(len(self.input_names), dtype=np.int64)
        first = np.zeros(len(self.input_names), dtype=np.int64)
        sensitive = np.asarray(self.sensitive, dtype=bool)
        with_sensitive = 0
        decisions = []
        for i, chosen in enumerate(top):
            if chosen.size:
                counts[chosen] += 1
                first[chosen[0]] += 1
                with_sensitive += bool(sensitive[chosen].any())
            decisions.append(
                DecisionReasons(
                    row_id=plain_value(row_ids[i]),
                    decision=self.adverse_label,
                    reasons=tuple(
                        Reason(
                            rank=rank,
                            feature=self.codes[j].feature,
                            code=self.codes[j].code,
                            text=self.codes[j].text,
                            attribution=float(values[i, j]),
                            value=plain_value(columns[j][i]),
                        )
                        for rank, j in enumerate(chosen.tolist(), start=1)
                    ),
                    additivity_error=float(errors[i]),
                    stability=self.stability.get(int(positions[i])),
                )
            )
        buffer = io.StringIO()
        lines = write_reason_lines(buffer, decisions)
        tally = ReasonsTally(
            decisions=len(X),
            adverse=int(adverse.size),
            with_sensitive=with_sensitive,
            counts=counts,
            first=first,
            max_error=float(errors.max()),
            sum_error=float(errors.sum()),
            above_tolerance=int((errors > self.tolerance).sum()),
        )
        return ReasonsPart(first_row, buffer.getvalue(), lines, tally)
