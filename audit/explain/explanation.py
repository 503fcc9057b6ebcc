"""The result of explaining a model: per-row SHAP attributions on the model's input columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


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
    ``row_positions[i]``); ``base_value + attributions[i].sum()`` is the model output
    ``model_output[i]``, which was computed without SHAP. ``background_rows`` are the positions of
    the background sample (linear explanations only). Sizes are the numbers of rows actually used.
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

    @property
    def sample_size(self) -> int:
        return int(self.attributions.shape[0])

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
        chosen = [j for j, name in enumerate(self.feature_names) if name in self.sensitive_features]
        return float(means[chosen].sum() / total)

    @property
    def additivity(self) -> Additivity:
        errors = np.abs(self.base_value + self.attributions.sum(axis=1) - self.model_output)
        if errors.size == 0:
            return Additivity(0.0, 0.0)
        return Additivity(float(errors.max()), float(errors.mean()))

    def to_dict(self) -> dict[str, Any]:
        """The ``explanations`` section of report.json (plain Python types)."""
        additivity = self.additivity
        return {
            "status": "computed",
            "method": self.method,
            "explainer": self.explainer,
            "output_space": self.output_space,
            "sample_size": self.sample_size,
            "population_rows": self.population_rows,
            "seed": self.seed,
            "background_size": self.background_size,
            "base_value": float(self.base_value),
            "global": [
                {"feature": g.feature, "mean_abs_shap": g.mean_abs_shap, "share": g.share}
                for g in self.global_importance()
            ],
            "sensitive_features": list(self.sensitive_features),
            "sensitive_share": self.sensitive_share,
            "additivity": {
                "max_abs_error": additivity.max_abs_error,
                "mean_abs_error": additivity.mean_abs_error,
            },
        }
