"""The report: one typed, frozen document from the runner to every renderer and reader.

``report.json`` is :meth:`Report.to_bytes` of this model, and ``audit/schemas/report.schema.json``
is :func:`report_schema` of it (a test keeps the shipped file equal to the generated one). The
key order is the field order below, so the same inputs and seed give byte-identical JSON apart
from ``report_id``, ``version``, ``previous``, ``changes``, ``trend`` (both depend on the
versions published before) and ``created_at``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, ValidationError

from .base import Section
from .changes import Changes
from .counterfactual import Counterfactual
from .explanations import Explanations
from .fairness import FeatureFairness
from .multiclass import Multiclass
from .regression import Regression
from .sections import (
    Actor,
    BaselineRef,
    DataProfile,
    Drift,
    Environment,
    Finding,
    Performance,
    Settings,
    Subject,
    Summary,
    Tool,
)
from .shift import Shift
from .trend import Trend

SCHEMA_VERSION = "1.0"
SCHEMA_ID = "https://audit.example/schemas/report.schema.json"


class Report(Section):
    """Everything an audit found about one system, as published in one bundle version."""

    schema_version: Literal["1.0"]
    report_id: str
    version: int = Field(ge=1)
    previous: str | None
    changes: Changes | None
    created_at: str
    tool: Tool
    actor: Actor
    subject: Subject
    outcome: Literal["pass", "fail"]
    summary: Summary
    rules: list[Finding]
    fairness: dict[str, FeatureFairness]
    performance: Performance
    explanations: Explanations
    data: DataProfile | None  # absent only in reports written before the data profile existed
    baseline: BaselineRef | None = None
    drift: Drift | None = None
    #: what kind of decisions were audited; unset (binary) in binary reports
    task: Literal["binary", "multiclass", "regression"] | None = None
    regression: Regression | None = None
    multiclass: Multiclass | None = None
    counterfactual: Counterfactual | None = None
    shift: Shift | None = None
    #: each rule's value across the earlier versions of the system and this audit
    trend: Trend | None = None
    settings: Settings
    environment: Environment

    def to_bytes(self) -> bytes:
        """Canonical bytes of report.json: UTF-8, 2-space indent, no NaN, trailing newline."""
        return canonical_bytes(self.to_json())

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Report:
        """Parse report.json; raises :class:`ReportFormatError` naming the first bad field."""
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise ReportFormatError(exc) from None

    def rule(self, rule_id: str) -> Finding | None:
        return next((f for f in self.rules if f.id == rule_id), None)


class ReportFormatError(ValueError):
    """report.json does not match the typed report (message names the field)."""

    def __init__(self, exc: ValidationError) -> None:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        self.field = where
        super().__init__(f"{where}: {first['msg']} ({exc.error_count()} problem(s) in all)")


def canonical_bytes(document: Any) -> bytes:
    """UTF-8 JSON, 2-space indent, no NaN, trailing newline (the form of every report.json)."""
    return (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def report_schema() -> dict[str, Any]:
    """The JSON Schema of report.json, generated from :class:`Report`."""
    schema = Report.model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "audit report.json",
        "description": "The canonical report of one audit (generated from audit.contract.Report).",
        **schema,
    }
