"""The ``changes`` section: what changed since the previous version of the same system."""

from __future__ import annotations

from typing import Literal

from .base import Scalar, Section

Presence = Literal["added", "removed", "changed"]


class FieldChange(Section):
    """One field whose value differs: ``old`` in the earlier report, ``new`` in the later."""

    field: str
    old: Scalar
    new: Scalar


class InputFieldChange(Section):
    input: Literal["model", "dataset", "reference dataset", "policy", "baseline"]
    field: str
    old: Scalar
    new: Scalar


class RuleFieldChanges(Section):
    id: str
    change: Presence
    fields: list[FieldChange]


class GroupFieldChanges(Section):
    """Changes of one group (``group`` None: of the feature; ``feature`` None: the section)."""

    feature: str | None
    group: str | None
    change: Presence
    fields: list[FieldChange]


class Since(Section):
    report_id: str | None
    version: int | None
    created_at: str | None


class Changes(Section):
    since: Since
    outcome: FieldChange | None
    inputs: list[InputFieldChange]
    settings: list[FieldChange]
    rules: list[RuleFieldChanges]
    fairness: list[GroupFieldChanges]
    performance: list[FieldChange]
    explanations: list[FieldChange]
    drift: list[GroupFieldChanges]
    data: list[GroupFieldChanges]
    lines: list[str]
