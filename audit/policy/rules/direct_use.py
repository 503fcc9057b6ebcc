"""Direct-use rules: a sensitive feature must not itself be a model input.

A proxy lets a model rely on a sensitive attribute it is not given; direct use is the model being
given it. ``feature`` names one sensitive feature (default: every one of the audit's). Without
``max_share`` any direct use fails (the finding's value is how many sensitive features are
inputs, judged ``<= 0``); with it, a sensitive input is tolerated while its share of the total
mean |SHAP| stays at or below ``max_share`` (the value is the largest such share).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...contract import Skipped
from ...errors import InputError
from ..evidence import Evidence
from ..findings import Breach, Finding
from .interface import ID_PATTERN, PolicyContext, RuleModel
from .judging import finding, fmt, skip, status


def _percent(value: float) -> str:
    return f"{value:.1%}"


class DirectUseRule(RuleModel):
    """No sensitive feature (or not the named ``feature``) is a model input, or, with
    ``max_share``, none carries more than that share of the attribution."""

    id: str = Field(pattern=ID_PATTERN, description="unique rule id")
    kind: Literal["direct_use"]
    feature: str | None = Field(
        None, description="the sensitive feature judged (default: every sensitive feature)"
    )
    max_share: float | None = Field(
        None,
        ge=0,
        le=1,
        description="tolerate a sensitive input whose share of mean |SHAP| is at most this",
    )
    severity: Literal["error", "warning"] = Field(
        "error", description="error blocks; warning informs"
    )
    description: str | None = None

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        kw: dict[str, Any] = (
            {"metric": "direct_use", "operator": "<=", "threshold": 0}
            if self.max_share is None
            else {"metric": "direct_use_share", "operator": "<=", "threshold": self.max_share}
        )
        ex = evidence.explanations
        if isinstance(ex, Skipped):
            return skip(self, f"explanations skipped ({ex.reason})", **kw)
        judged = list(ex.sensitive_features)
        if self.feature is not None:
            if self.feature not in judged:
                raise InputError(
                    f"{policy.where(self.id)}: rule {self.id!r} names feature {self.feature!r}, "
                    f"which is not a sensitive feature of the audit "
                    f"(sensitive features: {', '.join(judged) or 'none'})",
                    hint="name one of the spec's sensitive_features",
                )
            judged = [self.feature]
        if not judged:
            return skip(self, "the audit names no sensitive features", **kw)
        used = [d for d in ex.direct_use if d.feature in judged]
        inputs = len(ex.global_)
        described = [
            f"{d.feature} is a model input ({_percent(d.share)} of attribution, rank {d.rank} of "
            f"{inputs})"
            for d in used
        ]
        if self.max_share is None:
            ok = not used
            if ok:
                msg = f"no sensitive feature is a model input ({', '.join(judged)} checked)"
            else:
                msg = "; ".join(described) + "; direct use of a sensitive feature is not allowed"
            breaches = [Breach(feature=d.feature, group=None, value=d.share) for d in used]
            return finding(
                self,
                status(self, ok),
                float(len(used)),
                msg,
                feature=self.feature or (used[0].feature if used else None),
                breaches=breaches,
                **kw,
            )
        over = [d for d in used if d.share > self.max_share]
        value = max((d.share for d in used), default=0.0)
        ok = not over
        limit = f"at most {fmt(self.max_share)} of attribution is allowed"
        if not used:
            msg = f"no sensitive feature is a model input ({', '.join(judged)} checked)"
        else:
            msg = "; ".join(described) + f"; {limit}" + ("" if ok else ", exceeded")
        breaches = [Breach(feature=d.feature, group=None, value=d.share) for d in over]
        worst = max(used, key=lambda d: d.share).feature if used else None
        return finding(
            self,
            status(self, ok),
            value,
            msg,
            feature=self.feature or worst,
            breaches=breaches,
            **kw,
        )
