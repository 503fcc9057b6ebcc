"""Explanation rules: how the model's SHAP attributions fall on sensitive features."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...contract import ReasonsComputed, Skipped
from ..evidence import Evidence
from ..findings import Finding
from ..metrics import EXPLANATION_METRICS
from .interface import Comparison, PolicyContext
from .judging import OPS, finding, scalar, skip, status, verdict


class ExplanationRule(Comparison):
    """Compare an explanation metric: share of attribution on sensitive features (or proxies),
    additivity error, sensitive features among the top ``k``, stability of the top reasons."""

    metrics = EXPLANATION_METRICS

    kind: Literal["explanation"]
    k: int | None = Field(None, ge=1, description="for sensitive_in_top_k: how many top features")

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        ex = evidence.explanations
        if isinstance(ex, Skipped):
            return skip(self, f"explanations skipped ({ex.reason})")
        metric = self.metric
        value: float | None
        if metric == "additivity_max_abs_error":
            value = ex.additivity.max_abs_error
        elif metric == "sensitive_in_top_k":
            k = self.k or 4
            top = [g.feature for g in ex.global_[:k]]
            sensitive = set(ex.sensitive_features)
            hits = [f for f in top if f in sensitive]
            value = float(len(hits))
            ok = OPS[self.operator](value, self.threshold)
            msg = (
                f"{len(hits)} sensitive feature(s) among the top {k} by mean |SHAP|"
                + (f" ({', '.join(hits)})" if hits else "")
                + f"; {verdict(self, ok)}"
            )
            return finding(self, status(self, ok), value, msg)
        elif metric == "reason_stability":
            reasons = ex.reasons
            value = reasons.stability.mean if isinstance(reasons, ReasonsComputed) else None
            if value is None:
                return skip(
                    self,
                    "reason stability was not measured (no reason codes, or stability_replicas: 0)",
                )
        else:
            value = getattr(ex, metric)
        return scalar(
            self, value, metric.replace("_", " "), f"{metric} is not in this audit's explanations"
        )
