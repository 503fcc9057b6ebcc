"""The drift plan of an audit: the reference data and, with a model, its predictions."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..loaders import LoadedModel
from ..registry.resolve import Artifacts
from ..spec import ResolvedSpec


def _drift_plan(
    resolved: ResolvedSpec,
    artifacts: Artifacts,
    model: LoadedModel | None,
    features: list[str] | None,
    present: list[str],
) -> tuple[Any, dict[str, Any]]:
    """The drift plan: the reference data read (it is held in memory) and, with a model, its
    predictions; the audit data is then summarised against it partition by partition.

    Compared: the model's input columns (with recorded decisions: every column that is not the
    label, a sensitive feature, the decisions or scores), never the id column, whose values
    differ between any two datasets by design; the label when the audit has one.
    """
    from ..drift.stream import DriftPlan
    from ..engine import model_decisions

    spec = resolved.spec
    assert resolved.reference is not None
    copied, info = artifacts.resolve(resolved.reference, "dataset", "reference")
    excluded = {spec.label, *spec.sensitive_features, spec.predictions, spec.scores, spec.id_column}
    inputs = features or [c for c in present if c not in excluded]
    columns = [c for c in inputs if c != spec.id_column]
    label = [spec.label] if spec.label is not None else []
    wanted = list(dict.fromkeys([*inputs, *spec.sensitive_features, *label]))
    reference = artifacts.read_table(copied, resolved.reference, columns=wanted)
    missing = [c for c in wanted if c not in reference.columns]
    if missing:
        raise InputError(
            f"reference dataset {resolved.reference.display()} lacks columns the audit compares: "
            f"{', '.join(map(repr, missing))}",
            hint="the reference data needs the model's features, the sensitive features"
            + (" and the label" if label else ""),
        )
    ref_pred = None
    if model is not None and spec.task != "binary":
        from ..engine.tasks import predictions

        ref_pred = predictions(spec.task, model.estimator, reference[inputs])
    elif model is not None:
        ref_decisions, ref_scores = model_decisions(
            model.estimator, reference[inputs], spec.positive_label
        )
        ref_pred = ref_scores if ref_scores is not None else ref_decisions.astype(str)
    plan = DriftPlan.build(
        reference,
        features=columns,
        sensitive=list(spec.sensitive_features),
        label=spec.label,  # None: no label drift to measure
        reference_predictions=ref_pred,
    )
    info["rows"] = int(len(reference))
    return plan, info
