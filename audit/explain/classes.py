"""Explanations of a multiclass classifier: each class explained against the rest.

:func:`explain_classes` calls :func:`audit.explain.engine.explain_model` once per class of the
model's ``classes_`` (``each_class=True``): the same explained rows, background and seed each
time, so the classes' attributions are of the same rows. Per class ``k`` the explainers explain:

- random forests and single trees: the probability of class k (``values[..., k]`` of TreeSHAP,
  adding up to ``predict_proba[:, k]``);
- gradient boosting: the raw score of class k (adding up to ``decision_function[:, k]``);
- linear models: ``coef_[k]`` (adding up to ``decision_function[:, k]``);
- anything else (permutation SHAP): ``predict_proba[:, k]``.

The report's explanation section then holds, per class, the global importance, sensitive share
and additivity (``by_class``), and at the top level the importance of the mean over classes of
|SHAP| (``mean_i mean_k |phi_ijk|``), with its sensitive and proxy shares, per-group importance
and bootstrap intervals computed from that matrix. The top-level additivity is the worst
class's, and so is the sampling error (permutation SHAP). Reasons per decision and stability
re-explanations are binary-only (there is no adverse class) and are not computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from audit import contract
from audit.errors import InputError
from audit.explain.explanation import Explanation

#: Keys of the explanation section computed from the class-averaged |SHAP| matrix.
_AVERAGED = (
    "global",
    "sensitive_share",
    "sensitive_share_ci",
    "sensitive_rank",
    "direct_use",
    "proxy_share",
    "groups",
)


@dataclass(frozen=True, eq=False)
class ClassExplanations:
    """One :class:`Explanation` per class, reported together (see the module docstring)."""

    classes: tuple[str, ...]
    each: tuple[Explanation, ...]
    #: no adverse class, so no reasons for other rows (the runner's reasons pass)
    row_explainer: Any = None

    def decision_reasons(self) -> Iterator[Any]:
        return iter(())

    def averaged(self) -> Explanation:
        """The first class's explanation with, as attributions, ``mean_k |phi_k|``."""
        stacked = np.stack([np.abs(np.asarray(e.attributions)) for e in self.each])
        mean = stacked.mean(axis=0)
        mean.setflags(write=False)
        return replace(self.each[0], attributions=mean, standard_error=None)

    def to_report(self) -> contract.ExplanationsComputed:
        first = self.each[0]._json()
        averaged = self.averaged()._json()
        out = {**first, **{k: averaged[k] for k in _AVERAGED}}
        per_class = {c: e._json() for c, e in zip(self.classes, self.each, strict=True)}
        worst = max(per_class.values(), key=lambda j: j["additivity"]["max_abs_error"])
        out["additivity"] = worst["additivity"]
        errors = [j["sampling_error"] for j in per_class.values() if j["sampling_error"]]
        if errors:  # permutation SHAP: the class with the largest standard error
            out["sampling_error"] = max(errors, key=lambda e: e["max"])
        space = str(first["output_space"]).replace("the positive class", "the class")
        out["output_space"] = (
            f"{space}, per class (one-vs-rest); importance: the mean over the classes of |SHAP|"
        )
        out["base_value"] = None
        out["distribution"] = []  # signed values differ by class: see by_class
        out["reasons"] = None
        out["classes"] = list(self.classes)
        out["by_class"] = {
            c: {
                "output_space": str(j["output_space"]).replace("the positive class", "the class"),
                "base_value": j["base_value"],
                "global": j["global"],
                "sensitive_share": j["sensitive_share"],
                "additivity": j["additivity"],
            }
            for c, j in per_class.items()
        }
        return contract.ExplanationsComputed.model_validate(out)


def explain_classes(model: Any, X: Any, **options: Any) -> ClassExplanations:
    """Explain every class of the multiclass ``model`` on rows of ``X`` (``options``: those of
    :func:`~audit.explain.engine.explain_model`, less ``positive_label``)."""
    from audit.explain.engine import _input_columns, _split, explain_model

    estimator, _ = _split(model, X, _input_columns(model, X))
    found = getattr(estimator, "classes_", None)
    if found is None:
        raise InputError(
            f"{type(estimator).__name__} has no classes_: a multiclass audit explains a classifier"
        )
    if options.get("reason_codes") is not None or options.get("adverse"):
        raise InputError(
            "reason codes and explain.rows: adverse need a favourable class; a multiclass "
            "audit has none",
            hint="remove explain.reason_codes and explain.rows: adverse",
        )
    options.pop("positive_label", None)
    options = {**options, "stability_replicas": 0, "adverse": False}
    labels = list(np.asarray(found).tolist())
    each = []
    for i, label in enumerate(labels):
        chosen = options if i == 0 else {**options, "proxy_model_rows": 0}
        each.append(explain_model(model, X, positive_label=label, each_class=True, **chosen))
    return ClassExplanations(tuple(str(c) for c in labels), tuple(each))
