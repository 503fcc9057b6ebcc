"""Drift rules: population drift of the audit data against the reference data."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ...contract import ColumnDrift
from ...errors import InputError
from ..evidence import Evidence
from ..findings import Breach, Finding
from .interface import ID_PATTERN, PolicyContext, RuleModel
from .judging import finding, fmt, skip, some, status


class DriftRule(RuleModel):
    """Population drift of the audit data against the reference data (``reference_dataset``).

    A column has drifted when its population stability index exceeds ``threshold`` AND its
    two-sample test (KS for numbers, chi-squared for categories) gives p < ``alpha``: PSI alone
    reads high on small samples with no drift at all. ``per_group`` also judges each group of
    each sensitive feature (groups too small to compare are skipped).
    """

    id: str = Field(pattern=ID_PATTERN)
    kind: Literal["drift"]
    target: Literal["features", "label", "predictions"] = "features"
    feature: str | None = None
    per_group: bool = False
    threshold: float = Field(0.25, gt=0, description="PSI above this (and significant) is drift")
    alpha: float = Field(0.001, gt=0, lt=1)
    severity: Literal["error", "warning"] = "error"
    description: str | None = None

    @model_validator(mode="after")
    def _check(self) -> DriftRule:
        if self.target != "features" and (self.feature is not None or self.per_group):
            raise ValueError("`feature` and `per_group` apply to target: features")
        return self

    def judge(self, policy: PolicyContext, evidence: Evidence) -> Finding:
        kw: dict[str, Any] = {"metric": "psi", "operator": "<=", "threshold": self.threshold}
        drift = evidence.drift
        if drift is None:
            return skip(self, "no reference_dataset was given, so drift was not measured", **kw)
        columns: dict[str, ColumnDrift]
        if self.target == "features":
            columns = dict(drift.features)
            if self.feature is not None:
                if self.feature not in columns:
                    raise InputError(
                        f"drift rule {self.id!r} names feature {self.feature!r}, which was not "
                        f"compared (compared: {', '.join(columns)})",
                        hint="name one of the model's input columns",
                    )
                columns = {self.feature: columns[self.feature]}
        else:
            section = getattr(drift, self.target)
            if section is None:
                return skip(self, f"no {self.target} drift was measured", **kw)
            columns = {self.target: section}
        judged: dict[tuple[str, str | None], tuple[float, float]] = {}
        for name, col in columns.items():
            if col.psi is not None and col.p_value is not None:
                judged[(name, None)] = (col.psi, col.p_value)
            if self.per_group:
                for sens, groups in (col.groups or {}).items():
                    for g, d in groups.items():
                        if d.psi is not None and d.p_value is not None:
                            judged[(name, f"{sens}={g}")] = (d.psi, d.p_value)
        if not judged:
            return skip(self, "no column could be compared", **kw)
        breaches = [
            Breach(feature=n, group=g, value=psi)
            for (n, g), (psi, p) in judged.items()
            if psi > self.threshold and p < self.alpha
        ]
        worst = max(judged, key=lambda k: judged[k][0])
        psi, p = judged[worst]
        where = worst[0] + (f" ({worst[1]})" if worst[1] else "")
        if breaches:
            names = some(
                [
                    f"{b.feature}{f' ({b.group})' if b.group else ''} PSI {fmt(b.value)}"
                    for b in breaches
                ]
            )
            msg = (
                f"{len(breaches)} of {len(judged)} comparisons drifted (PSI > {fmt(self.threshold)} "
                f"and p < {self.alpha}): {names}"
            )
        else:
            msg = (
                f"no drift in {len(judged)} comparisons (largest PSI {fmt(psi)} for {where}, "
                f"p = {fmt(p)}; drift means PSI > {fmt(self.threshold)} and p < {self.alpha})"
            )
        feature, group = worst
        return finding(
            self,
            status(self, not breaches),
            psi,
            msg,
            feature=feature,
            group=group,
            breaches=breaches,
            **kw,
        )
