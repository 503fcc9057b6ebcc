"""Data governance rules: group sizes and shares, missing and unknown values, label balance."""

from __future__ import annotations

from typing import Literal

from ..evidence import Evidence
from ..findings import Breach, Finding
from ..metrics import DATA_METRICS
from .interface import Comparison, PolicyContext
from .judging import (
    OPS,
    finding,
    fmt,
    per_group,
    scalar,
    select_features,
    skip,
    status,
    verdict,
    worst_key,
)

#: The data profile's name for each per-group data metric.
_PROFILE_FIELD = {"group_size": "n", "group_share": "share", "missing_share": "missing_share"}


class DataRule(Comparison):
    """Data governance: group sizes and shares, missing values per group, unknown sensitive
    values, label balance (share of the minority class)."""

    metrics = DATA_METRICS

    kind: Literal["data"]
    feature: str | None = None

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        data = evidence.data
        if not data:
            return skip(self, "the audit has no data profile")
        if self.metric == "label_balance":
            return scalar(
                self,
                data.label_balance,
                "share of the minority label",
                "label balance is undefined",
            )
        features = select_features(self, policy, data.features)
        meets = OPS[self.operator]
        if self.metric == "unknown_share":
            values = {
                f: d.unknown_share for f, d in features.items() if d.unknown_share is not None
            }
            if not values:
                return skip(self, "no unknown shares")
            breaches = [
                Breach(feature=f, group=None, value=v)
                for f, v in values.items()
                if not meets(v, self.threshold)
            ]
            worst = worst_key(values, self.operator)
            ok = not breaches
            msg = (
                f"share of rows with an unknown {worst} is {fmt(values[worst])}; "
                f"{verdict(self, ok)}"
            )
            return finding(
                self, status(self, ok), values[worst], msg, feature=worst, breaches=breaches
            )
        judged = {(f, g): d for f, fd in features.items() for g, d in fd.groups.items()}
        judgement = per_group(
            self,
            _PROFILE_FIELD[self.metric],
            judged,
            [],
            0,
            lambda _k, v: not meets(v, self.threshold),
        )
        return judgement.model_copy(update={"metric": self.metric})
