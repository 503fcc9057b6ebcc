"""Explanation rules: how the model's SHAP attributions fall on sensitive features and their
proxies, and how well the model's inputs predict the sensitive features."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...contract import ExplanationsComputed, ReasonsComputed, Skipped
from ..evidence import Evidence
from ..findings import Finding
from ..metrics import EXPLANATION_METRICS
from .interface import Comparison, PolicyContext
from .judging import OPS, finding, fmt, scalar, skip, some, status, verdict


class ExplanationRule(Comparison):
    """Compare an explanation metric: share of attribution on sensitive features (or on their
    strong proxies), the highest proxy-model AUC, additivity error, sensitive features among the
    top ``k``, stability of the top reasons."""

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
        elif metric in ("proxy_share", "proxy_auc"):
            return self._proxies(ex)
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

    def _proxies(self, ex: ExplanationsComputed) -> Finding:
        """proxy_share or proxy_auc, the message saying what was found: the strong proxies, the
        proxy models, the share of attribution on proxies, then the verdict."""
        if not ex.sensitive_features:
            return skip(self, "the audit names no sensitive features to look for proxies of")
        if self.metric == "proxy_share":
            value = ex.proxy_share
            what = "proxy share"
            if value is None:
                return skip(self, "proxy_share is not in this audit's explanations")
        else:
            value = ex.proxy_auc
            if value is None:
                notes = [f"{m.sensitive_feature}: {m.note}" for m in ex.proxy_models if m.note]
                return skip(
                    self,
                    "no proxy model was fitted"
                    + (f" ({'; '.join(notes)})" if notes else " (explain.proxy_model_rows is 0)"),
                )
            best = max(ex.proxy_models, key=lambda m: -1.0 if m.auc is None else m.auc)
            what = f"the highest proxy-model AUC ({best.sensitive_feature})"
        ok = OPS[self.operator](value, self.threshold)
        msg = f"{proxy_story(ex)}; {what} is {fmt(value)}; {verdict(self, ok)}"
        return finding(self, status(self, ok), value, msg)


def percent(value: float) -> str:
    """0.391 as ``39%``; under 1% with two decimals (``0.25%``)."""
    return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.2%}"


def proxy_story(ex: ExplanationsComputed) -> str:
    """What the proxy analysis found, in words: ``is_black is a strong proxy of race (Cramér's V
    1.00); the inputs predict race with AUC 0.93 (5-fold CV); 39% of attribution is carried by
    proxies`` (at most three proxies and two proxy models, the strongest)."""
    strong = [p for p in ex.proxies if p.proxy]
    if strong:
        named = [
            f"{p.feature} is a strong proxy of {p.sensitive_feature} (Cramér's V {p.value:.2f})"
            for p in strong
        ]
        parts = [some(named, 3)]
    else:
        threshold = fmt(float(ex.proxy_threshold)) if ex.proxy_threshold is not None else "?"
        parts = [f"no input has a Cramér's V of {threshold} or more with a sensitive feature"]
    fitted = sorted((m for m in ex.proxy_models if m.auc is not None), key=lambda m: -(m.auc or 0))
    parts += [
        f"the inputs predict {m.sensitive_feature} with AUC {m.auc:.2f} ({m.folds}-fold CV)"
        for m in fitted[:2]
    ]
    if ex.proxy_share is not None:
        parts.append(f"{percent(ex.proxy_share)} of attribution is carried by proxies")
    return "; ".join(parts)
