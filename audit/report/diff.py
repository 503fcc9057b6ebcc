"""What changed between two versions of an audit's report.json ("since the last audit").

:func:`diff_reports` compares two report documents section by section and keeps only what
changed; identifiers and timestamps (``report_id``, ``version``, ``previous``, ``created_at``),
the actor, the tool and the environment are not compared, so two runs on the same inputs and seed
give an empty diff.

Measured numbers (rule values, fairness and performance metrics, SHAP importances) count as
changed when ``|new - old| > tolerance``; a number appearing or disappearing (``None`` on one
side) always counts. Configuration and verdicts (rule status, threshold, operator, severity and
judging mode; input names, versions and digests; run settings such as the seed) are compared
exactly: a threshold moved by any amount is a different policy.

The result is plain data (frozen dataclasses): ``to_dict()`` for the ``changes`` section of
report.json (shape published as :data:`CHANGES_SCHEMA`), ``to_text()`` for a terminal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: Per-group fairness quantities compared between reports (report.json ``fairness`` groups).
FAIRNESS_METRICS = (
    "n",
    "selection_rate",
    "base_rate",
    "tpr",
    "fpr",
    "fnr",
    "ppv",
    "accuracy",
    "impact_ratio",
)
#: Fields of a rule finding that are policy configuration (compared exactly).
RULE_SETTINGS = ("operator", "threshold", "severity", "mode")
#: Subject inputs and the identifying fields compared for each.
INPUT_FIELDS = {
    "model": ("name", "version", "sha256"),
    "dataset": ("name", "version", "sha256", "rows"),
    "policy": ("name", "version", "sha256"),
}

Scalar = float | int | str | bool | None
Presence = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    """One field whose value differs: ``old`` in the earlier report, ``new`` in the later."""

    field: str
    old: Scalar
    new: Scalar

    @property
    def delta(self) -> float | None:
        """``new - old`` for two numbers, else ``None``."""
        if _is_number(self.old) and _is_number(self.new):
            return float(self.new) - float(self.old)  # type: ignore[arg-type]
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}

    def text(self) -> str:
        old, new = _pair(self.old, self.new)
        delta = self.delta
        sign = "" if delta is None or self.field in RULE_SETTINGS else f" ({delta:+.3g})"
        return f"{self.field} {old} -> {new}{sign}"


@dataclass(frozen=True)
class InputChange:
    """A changed identity of an audited input: ``input`` is model, dataset or policy."""

    input: str
    change: Change

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, **self.change.to_dict()}

    def text(self) -> str:
        c = self.change
        if c.field == "sha256":
            return f"{self.input} sha256 {_short(c.old)} -> {_short(c.new)}"
        return f"{self.input} {c.text()}"


@dataclass(frozen=True)
class RuleChange:
    """A rule (matched by id) added, removed, or judged differently; ``fields`` say how."""

    id: str
    change: Presence
    fields: tuple[Change, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "change": self.change, "fields": [f.to_dict() for f in self.fields]}

    def text(self) -> str:
        if self.change == "changed":
            return f"rule {self.id}: " + "; ".join(f.text() for f in self.fields)
        status = next((f.new if self.change == "added" else f.old for f in self.fields), None)
        return f"rule {self.id}: {self.change}" + (f" (status {status})" if status else "")


@dataclass(frozen=True)
class GroupChange:
    """Fairness quantities of one group (or, with ``group`` None, of the feature) that changed.

    ``feature`` is a sensitive feature or intersection key of report.json ``fairness``.
    ``added``/``removed`` mean the group (or feature) exists in only one of the two reports.
    """

    feature: str
    group: str | None
    change: Presence
    fields: tuple[Change, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "group": self.group,
            "change": self.change,
            "fields": [f.to_dict() for f in self.fields],
        }

    def text(self) -> str:
        where = self.feature if self.group is None else f"{self.feature}={self.group}"
        if self.change != "changed":
            return f"fairness {where}: {self.change}"
        return f"fairness {where}: " + "; ".join(f.text() for f in self.fields)


@dataclass(frozen=True)
class ReportDiff:
    """Everything that changed from report ``old`` to report ``new``.

    ``since`` identifies the earlier report (report_id, version, created_at), for the reader.
    """

    since: Mapping[str, Any]
    outcome: Change | None
    inputs: tuple[InputChange, ...]
    settings: tuple[Change, ...]
    rules: tuple[RuleChange, ...]
    fairness: tuple[GroupChange, ...]
    performance: tuple[Change, ...]
    explanations: tuple[Change, ...]

    @property
    def is_empty(self) -> bool:
        """True when nothing but identifiers and timestamps differ."""
        return not (
            self.outcome
            or self.inputs
            or self.settings
            or self.rules
            or self.fairness
            or self.performance
            or self.explanations
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the ``changes`` section of report.json (see CHANGES_SCHEMA)."""
        return {
            "since": dict(self.since),
            "outcome": None if self.outcome is None else self.outcome.to_dict(),
            "inputs": [c.to_dict() for c in self.inputs],
            "settings": [c.to_dict() for c in self.settings],
            "rules": [c.to_dict() for c in self.rules],
            "fairness": [c.to_dict() for c in self.fairness],
            "performance": [c.to_dict() for c in self.performance],
            "explanations": [c.to_dict() for c in self.explanations],
            "lines": self.lines(),
        }

    def lines(self) -> list[str]:
        """One line per change, for a terminal, in the order of the report's sections."""
        out = [f"outcome {self.outcome.old} -> {self.outcome.new}"] if self.outcome else []
        out += [c.text() for c in self.inputs]
        out += [f"setting {c.text()}" for c in self.settings]
        out += [c.text() for c in self.rules]
        out += [c.text() for c in self.fairness]
        out += [f"performance: {c.text()}" for c in self.performance]
        out += [f"explanations: mean |SHAP| of {c.text()}" for c in self.explanations]
        return out

    def to_text(self) -> str:
        """The changes as terminal lines, or a line saying there are none."""
        if self.is_empty:
            version = self.since.get("version")
            return "no changes" if version is None else f"no changes since v{version}"
        return "\n".join(self.lines())


def diff_reports(
    old: Mapping[str, Any], new: Mapping[str, Any], *, tolerance: float = 1e-9
) -> ReportDiff:
    """Compare two report.json documents of one audited system (``old`` earlier).

    A measured number changed when ``|new - old| > tolerance`` (absolute); see the module doc.
    """
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise ValueError(f"tolerance must be a finite number >= 0, not {tolerance!r}")
    outcome = None
    if old.get("outcome") != new.get("outcome"):
        outcome = Change("outcome", old.get("outcome"), new.get("outcome"))
    return ReportDiff(
        since={k: old.get(k) for k in ("report_id", "version", "created_at")},
        outcome=outcome,
        inputs=tuple(_inputs(old.get("subject") or {}, new.get("subject") or {})),
        settings=tuple(_flat_changes(old.get("settings"), new.get("settings"), 0.0)),
        rules=tuple(_rules(old.get("rules") or [], new.get("rules") or [], tolerance)),
        fairness=tuple(_fairness(old.get("fairness") or {}, new.get("fairness") or {}, tolerance)),
        performance=tuple(_flat_changes(old.get("performance"), new.get("performance"), tolerance)),
        explanations=tuple(
            _importances(old.get("explanations") or {}, new.get("explanations") or {}, tolerance)
        ),
    )


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _differs(old: Any, new: Any, tolerance: float) -> bool:
    if _is_number(old) and _is_number(new):
        return abs(float(new) - float(old)) > tolerance
    return bool(old != new)


def _short(v: Any) -> str:
    return str(v)[:12] if v else "none"


def _show(v: Any, digits: int = 4) -> str:
    if v is None:
        return "none"
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def _pair(old: Any, new: Any) -> tuple[str, str]:
    """Both values printed with just enough digits to see that they differ."""
    if isinstance(old, float) and isinstance(new, float):
        for digits in (4, 6, 10, 17):
            a, b = _show(old, digits), _show(new, digits)
            if a != b:
                return a, b
        return repr(old), repr(new)
    return _show(old), _show(new)


def _changes(
    old: Mapping[str, Any], new: Mapping[str, Any], fields: Iterable[str], tolerance: float
) -> list[Change]:
    return [
        Change(f, old.get(f), new.get(f))
        for f in fields
        if _differs(old.get(f), new.get(f), tolerance)
    ]


def _inputs(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[InputChange]:
    for part, fields in INPUT_FIELDS.items():
        for c in _changes(old.get(part) or {}, new.get(part) or {}, fields, 0.0):
            yield InputChange(part, c)


def _flatten(value: Any, prefix: str = "") -> dict[str, Scalar]:
    """Nested dicts as ``a.b`` keys; lists as their JSON-like string (compared exactly)."""
    if isinstance(value, Mapping):
        out: dict[str, Scalar] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}." if isinstance(v, Mapping) else f"{prefix}{k}"))
        return out
    if isinstance(value, list | tuple):
        return {prefix: repr(list(value))}
    return {prefix: value}


def _flat_changes(old: Any, new: Any, tolerance: float) -> list[Change]:
    a, b = _flatten(old or {}), _flatten(new or {})
    keys = list(dict.fromkeys([*a, *b]))
    return [Change(k, a.get(k), b.get(k)) for k in keys if _differs(a.get(k), b.get(k), tolerance)]


def _rules(
    old: list[Mapping[str, Any]], new: list[Mapping[str, Any]], tolerance: float
) -> Iterator[RuleChange]:
    before = {str(r.get("id")): r for r in old}
    after = {str(r.get("id")): r for r in new}
    for rid, r in after.items():
        if rid not in before:
            yield RuleChange(rid, "added", (Change("status", None, r.get("status")),))
            continue
        # Cause before effect: the policy's settings, then the measured value, then the verdict.
        fields = _changes(before[rid], r, RULE_SETTINGS, 0.0)
        fields += _changes(before[rid], r, ("value",), tolerance)
        fields += _changes(before[rid], r, ("status",), 0.0)
        if fields:
            yield RuleChange(rid, "changed", tuple(fields))
    for rid, r in before.items():
        if rid not in after:
            yield RuleChange(rid, "removed", (Change("status", r.get("status"), None),))


def _fairness(
    old: Mapping[str, Any], new: Mapping[str, Any], tolerance: float
) -> Iterator[GroupChange]:
    for feature in dict.fromkeys([*old, *new]):
        if feature not in new or feature not in old:
            yield GroupChange(feature, None, "removed" if feature not in new else "added")
            continue
        ref = _changes(old[feature], new[feature], ("reference_group",), 0.0)
        if ref:
            yield GroupChange(feature, None, "changed", tuple(ref))
        g_old, g_new = old[feature].get("groups") or {}, new[feature].get("groups") or {}
        for group in dict.fromkeys([*g_old, *g_new]):
            if group not in g_new or group not in g_old:
                yield GroupChange(feature, group, "removed" if group not in g_new else "added")
                continue
            fields = _changes(g_old[group], g_new[group], FAIRNESS_METRICS, tolerance)
            if fields:
                yield GroupChange(feature, group, "changed", tuple(fields))


def _importances(
    old: Mapping[str, Any], new: Mapping[str, Any], tolerance: float
) -> Iterator[Change]:
    """Changes of global mean |SHAP| per feature; a feature missing on one side is ``None``."""
    a = {str(g["feature"]): g.get("mean_abs_shap") for g in old.get("global") or []}
    b = {str(g["feature"]): g.get("mean_abs_shap") for g in new.get("global") or []}
    for feature in dict.fromkeys([*a, *b]):
        if _differs(a.get(feature), b.get(feature), tolerance):
            yield Change(feature, a.get(feature), b.get(feature))


#: JSON Schema of :meth:`ReportDiff.to_dict`, for the ``changes`` property of report.json.
_CHANGE: dict[str, Any] = {
    "type": "object",
    "required": ["field", "old", "new"],
    "additionalProperties": False,
    "properties": {
        "field": {"type": "string"},
        "old": {"type": ["number", "string", "boolean", "null"]},
        "new": {"type": ["number", "string", "boolean", "null"]},
    },
}
_PRESENCE: dict[str, Any] = {"enum": ["added", "removed", "changed"]}
CHANGES_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "required": [
        "since",
        "outcome",
        "inputs",
        "settings",
        "rules",
        "fairness",
        "performance",
        "explanations",
        "lines",
    ],
    "additionalProperties": False,
    "properties": {
        "lines": {"type": "array", "items": {"type": "string"}},
        "since": {
            "type": "object",
            "required": ["report_id", "version", "created_at"],
            "properties": {
                "report_id": {"type": ["string", "null"]},
                "version": {"type": ["integer", "null"]},
                "created_at": {"type": ["string", "null"]},
            },
        },
        "outcome": {"oneOf": [{"type": "null"}, _CHANGE]},
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["input", "field", "old", "new"],
                "additionalProperties": False,
                "properties": {"input": {"enum": list(INPUT_FIELDS)}, **_CHANGE["properties"]},
            },
        },
        "settings": {"type": "array", "items": _CHANGE},
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "change", "fields"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "change": _PRESENCE,
                    "fields": {"type": "array", "items": _CHANGE},
                },
            },
        },
        "fairness": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["feature", "group", "change", "fields"],
                "additionalProperties": False,
                "properties": {
                    "feature": {"type": "string"},
                    "group": {"type": ["string", "null"]},
                    "change": _PRESENCE,
                    "fields": {"type": "array", "items": _CHANGE},
                },
            },
        },
        "performance": {"type": "array", "items": _CHANGE},
        "explanations": {"type": "array", "items": _CHANGE},
    },
}
