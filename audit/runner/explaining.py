"""Explanations of an audit: the columns the explanation sample keeps, and the explanation."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..loaders import LoadedModel


def _explain_columns(spec: Any, features: list[str] | None, present: list[str]) -> tuple[str, ...]:
    """The columns the explanation sample keeps: the model's inputs, the sensitive features and
    the id column."""
    inputs = features or [c for c in present if c not in (spec.label, spec.id_column)]
    extra = [*spec.sensitive_features, *([spec.id_column] if spec.id_column else [])]
    return tuple(dict.fromkeys([*inputs, *[c for c in extra if c in present]]))


def _explain(
    spec: Any, model: LoadedModel, features: list[str] | None, stats: Any, reason_codes: Any
) -> Any:
    """Explanations on the explanation population the pass kept (every row up to
    ``explain.population``, else a seeded sample of that many: :mod:`audit.engine.sample`)."""
    from ..explain import explain_model
    from ..explain.classes import explain_classes

    explain: Any = explain_classes if spec.task == "multiclass" else explain_model
    sample = stats.sample
    rows = sample.population()
    X = (
        rows[features]
        if features
        else rows.drop(columns=[spec.id_column] if spec.id_column else [])
    )
    row_ids = None
    if spec.id_column:
        row_ids = rows[spec.id_column]
    elif not sample.complete:
        row_ids = pd.Series(rows.index.to_numpy())  # positions in the dataset
    ex = spec.explain
    return explain(  # multiclass: each class against the rest
        model.estimator,
        X,
        positive_label=spec.positive_label,
        # every sensitive feature, input or not: those that are inputs are direct use, and
        # proxies are looked for among the other inputs either way
        sensitive_features=list(spec.sensitive_features),
        sample_size=ex.sample_size,
        background_size=ex.background_size,
        seed=spec.seed,
        rows="sample" if ex.rows == "adverse" else ex.rows,
        row_ids=row_ids,
        groups=rows[list(spec.sensitive_features)],
        reason_codes=reason_codes,
        max_reasons=ex.max_reasons,
        method=ex.method,
        permutations=ex.permutations,
        stability_replicas=ex.stability_replicas,
        stability_rows=ex.stability_rows,
        stability_background=ex.stability_background,
        proxy_threshold=ex.proxy_threshold,
        proxy_auc_threshold=ex.proxy_auc_threshold,
        proxy_model_rows=ex.proxy_model_rows,
        adverse=ex.rows == "adverse",
    )
