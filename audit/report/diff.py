"""What changed between two versions of an audit's report.json ("since the last audit").

:func:`diff_reports` compares two report documents section by section and keeps only what
changed; identifiers and timestamps (``report_id``, ``version``, ``previous``, ``created_at``),
the actor, the tool and the environment are not compared, so two runs on the same inputs and seed
give an empty diff.

Measured numbers (rule values, fairness and performance metrics, SHAP importances, drift PSI
and p-values, data-profile counts and shares) count as changed when ``|new - old| > tolerance``;
a number appearing or disappearing (``None`` on one side) always counts. Configuration and
verdicts (rule status, threshold, operator, severity and judging mode; input names, versions and
digests, including the drift reference dataset and the regression baseline report; run settings
such as the seed) are compared exactly: a threshold moved by any amount is a different policy.

The result is plain data (frozen dataclasses): ``to_changes()`` for the typed ``changes`` section
of the report (:class:`audit.contract.Changes`), ``to_text()`` for a terminal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from ..contract import Changes, Report
from ..contract.metrics import GROUP_METRICS

#: Per-group fairness quantities compared between reports: the group's size and every metric
#: of the catalogue (a metric added there is compared without editing this module).
FAIRNESS_METRICS = ("n", *(m.name for m in GROUP_METRICS))
#: Fields of a rule finding that are policy configuration (compared exactly).
RULE_SETTINGS = ("operator", "threshold", "severity", "mode")
#: Audited inputs and the identifying fields compared for each (see :data:`INPUT_PATHS`).
INPUT_FIELDS = {
    "model": ("name", "version", "sha256"),
    "dataset": ("name", "version", "sha256", "rows"),
    "reference dataset": ("name", "version", "sha256", "rows"),
    "policy": ("name", "version", "sha256"),
    "baseline": ("report_id", "version", "sha256"),
}
#: Where each input's identity is in report.json: the drift reference is ``subject.reference``,
#: the regression baseline (the report compared against) is the top-level ``baseline``.
INPUT_PATHS = {
    "model": ("subject", "model"),
    "dataset": ("subject", "dataset"),
    "reference dataset": ("subject", "reference"),
    "policy": ("subject", "policy"),
    "baseline": ("baseline",),
}
#: Drift quantities compared per column (report.json ``drift.features``, ``label``,
#: ``predictions``): a column has drifted when its PSI is high and its p-value low.
DRIFT_FIELDS = ("psi", "p_value")
#: Data-profile quantities compared (report.json ``data``): of the whole dataset, of each
#: sensitive feature (rows with no group), and of each of its groups.
DATA_FIELDS = ("rows", "rows_with_missing_values", "label_balance")
DATA_FEATURE_FIELDS = ("unknown", "unknown_share")
DATA_GROUP_FIELDS = ("n", "share", "missing_share")

Scalar = float | int | str | bool | None
Presence = Literal["added", "removed", "changed"]
G = TypeVar("G", bound="GroupChange")


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
        if delta is None or self.field in RULE_SETTINGS:
            sign = ""
        elif isinstance(self.old, int) and isinstance(self.new, int):
            sign = f" ({int(delta):+,})"  # counts: exact, not 1.26e+04
        else:
            sign = f" ({delta:+.3g})"
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
        if c.field in ("sha256", "report_id"):
            return f"{self.input} {c.field} {_short(c.old)} -> {_short(c.new)}"
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
    The same shape serves the ``drift`` and ``data`` sections (subclasses below), where
    ``feature`` None means the section as a whole.
    """

    feature: str | None
    group: str | None
    change: Presence
    fields: tuple[Change, ...] = ()

    #: The report.json section, first word of :meth:`text`.
    section: ClassVar[str] = "fairness"

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "group": self.group,
            "change": self.change,
            "fields": [f.to_dict() for f in self.fields],
        }

    def text(self) -> str:
        where = self.section
        if self.feature is not None:
            where += f" {self.feature}" + ("" if self.group is None else f"={self.group}")
        if self.change != "changed":
            return f"{where}: {self.change}"
        return f"{where}: " + "; ".join(f.text() for f in self.fields)


@dataclass(frozen=True)
class DriftChange(GroupChange):
    """Drift of one column against the reference dataset that changed (``group`` is None).

    ``feature`` is a column of report.json ``drift.features``; with ``feature`` None the change
    is of the whole section: present in one report only, or label / prediction drift
    (fields ``label.psi``, ``predictions.p_value`` ...).
    """

    section: ClassVar[str] = "drift"


@dataclass(frozen=True)
class DataChange(GroupChange):
    """Data profile of the dataset, a sensitive feature, or one of its groups that changed.

    ``feature`` (a key of report.json ``data.features``) None means the whole dataset (rows,
    rows with missing values, label balance); ``group`` None means the feature (rows in no group).
    """

    section: ClassVar[str] = "data"


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
    drift: tuple[DriftChange, ...] = ()
    data: tuple[DataChange, ...] = ()

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
            or self.drift
            or self.data
        )

    def to_changes(self) -> Changes:
        """The ``changes`` section of the typed report."""
        return Changes.model_validate(
            {
                "since": dict(self.since),
                "outcome": None if self.outcome is None else self.outcome.to_dict(),
                "inputs": [c.to_dict() for c in self.inputs],
                "settings": [c.to_dict() for c in self.settings],
                "rules": [c.to_dict() for c in self.rules],
                "fairness": [c.to_dict() for c in self.fairness],
                "performance": [c.to_dict() for c in self.performance],
                "explanations": [c.to_dict() for c in self.explanations],
                "drift": [c.to_dict() for c in self.drift],
                "data": [c.to_dict() for c in self.data],
                "lines": self.lines(),
            }
        )

    def lines(self) -> list[str]:
        """One line per change, for a terminal, in the order of the report's sections."""
        out = [f"outcome {self.outcome.old} -> {self.outcome.new}"] if self.outcome else []
        out += [c.text() for c in self.inputs]
        out += [f"setting {c.text()}" for c in self.settings]
        out += [c.text() for c in self.rules]
        out += [c.text() for c in self.fairness]
        out += [f"performance: {c.text()}" for c in self.performance]
        out += [f"explanations: mean |SHAP| of {c.text()}" for c in self.explanations]
        out += [c.text() for c in self.drift]
        out += [c.text() for c in self.data]
        return out

    def to_text(self) -> str:
        """The changes as terminal lines, or a line saying there are none."""
        if self.is_empty:
            version = self.since.get("version")
            return "no changes" if version is None else f"no changes since v{version}"
        return "\n".join(self.lines())


def diff_reports(old_report: Report, new_report: Report, *, tolerance: float = 1e-9) -> ReportDiff:
    """Compare two reports of one audited system (``old_report`` earlier).

    A measured number changed when ``|new - old| > tolerance`` (absolute); see the module doc.
    The comparison walks the reports' JSON form, so it sees exactly what report.json holds.
    """
    old, new = old_report.to_json(), new_report.to_json()
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise ValueError(f"tolerance must be a finite number >= 0, not {tolerance!r}")
    outcome = None
    if old.get("outcome") != new.get("outcome"):
        outcome = Change("outcome", old.get("outcome"), new.get("outcome"))
    return ReportDiff(
        since={k: old.get(k) for k in ("report_id", "version", "created_at")},
        outcome=outcome,
        inputs=tuple(_inputs(old, new)),
        settings=tuple(_flat_changes(old.get("settings"), new.get("settings"), 0.0)),
        rules=tuple(_rules(old.get("rules") or [], new.get("rules") or [], tolerance)),
        fairness=tuple(_fairness(old.get("fairness") or {}, new.get("fairness") or {}, tolerance)),
        performance=tuple(_flat_changes(old.get("performance"), new.get("performance"), tolerance)),
        explanations=tuple(
            _importances(old.get("explanations") or {}, new.get("explanations") or {}, tolerance)
        ),
        drift=tuple(_drift(old.get("drift"), new.get("drift"), tolerance)),
        data=tuple(_data(old.get("data"), new.get("data"), tolerance)),
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


def _at(report: Mapping[str, Any], path: Iterable[str]) -> Mapping[str, Any]:
    """The mapping at ``path`` in ``report``, or ``{}`` where it is absent (or null)."""
    value: Any = report
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _inputs(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[InputChange]:
    """An input absent from one report compares as all ``None`` (absent from both: no change)."""
    for part, fields in INPUT_FIELDS.items():
        path = INPUT_PATHS[part]
        for c in _changes(_at(old, path), _at(new, path), fields, 0.0):
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


def _by_group(
    kind: type[G],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    feature_fields: Iterable[str],
    group_fields: Iterable[str],
    tolerance: float,
) -> Iterator[G]:
    """Changes per feature of ``{feature: {...feature_fields, "groups": {group: {...}}}}``,
    then per group; a feature or group in one report only is ``added`` or ``removed``."""
    group_fields = tuple(group_fields)
    for feature in dict.fromkeys([*old, *new]):
        if feature not in new or feature not in old:
            yield kind(feature, None, "removed" if feature not in new else "added")
            continue
        fields = _changes(old[feature], new[feature], feature_fields, tolerance)
        if fields:
            yield kind(feature, None, "changed", tuple(fields))
        if not group_fields:
            continue
        g_old, g_new = old[feature].get("groups") or {}, new[feature].get("groups") or {}
        for group in dict.fromkeys([*g_old, *g_new]):
            if group not in g_new or group not in g_old:
                yield kind(feature, group, "removed" if group not in g_new else "added")
                continue
            fields = _changes(g_old[group], g_new[group], group_fields, tolerance)
            if fields:
                yield kind(feature, group, "changed", tuple(fields))


def _fairness(
    old: Mapping[str, Any], new: Mapping[str, Any], tolerance: float
) -> Iterator[GroupChange]:
    # reference_group is a name: compared exactly whatever the tolerance.
    return _by_group(GroupChange, old, new, ("reference_group",), FAIRNESS_METRICS, tolerance)


def _importances(
    old: Mapping[str, Any], new: Mapping[str, Any], tolerance: float
) -> Iterator[Change]:
    """Changes of global mean |SHAP| per feature; a feature missing on one side is ``None``."""
    a = {str(g["feature"]): g.get("mean_abs_shap") for g in old.get("global") or []}
    b = {str(g["feature"]): g.get("mean_abs_shap") for g in new.get("global") or []}
    for feature in dict.fromkeys([*a, *b]):
        if _differs(a.get(feature), b.get(feature), tolerance):
            yield Change(feature, a.get(feature), b.get(feature))


def _presence(old: Any, new: Any) -> Presence | None:
    """``added``/``removed`` when a section is null or absent in exactly one report, else None."""
    if (old is None) == (new is None):
        return None
    return "added" if old is None else "removed"


def _drift(old: Any, new: Any, tolerance: float) -> Iterator[DriftChange]:
    """PSI and p-value per feature, then of the label and the predictions (``feature`` None).

    Whether a column counts as drifted is the drift rules' verdict (their threshold and alpha
    are policy), so it shows as a rule status change; per-group drift is not compared.
    """
    if (presence := _presence(old, new)) is not None:
        yield DriftChange(None, None, presence)
    if old is None or new is None:
        return
    features = (old.get("features") or {}, new.get("features") or {})
    yield from _by_group(DriftChange, *features, DRIFT_FIELDS, (), tolerance)
    whole = _flat_changes(
        {t: {f: (old.get(t) or {}).get(f) for f in DRIFT_FIELDS} for t in ("label", "predictions")},
        {t: {f: (new.get(t) or {}).get(f) for f in DRIFT_FIELDS} for t in ("label", "predictions")},
        tolerance,
    )
    if whole:
        yield DriftChange(None, None, "changed", tuple(whole))


def _data(old: Any, new: Any, tolerance: float) -> Iterator[DataChange]:
    """Rows, missing values and label balance; per sensitive feature (and intersection) the
    rows in no group; per group its rows, share of the dataset and share with missing values."""
    if (presence := _presence(old, new)) is not None:
        yield DataChange(None, None, presence)
    if old is None or new is None:
        return
    whole = _changes(old, new, DATA_FIELDS, tolerance)
    if whole:
        yield DataChange(None, None, "changed", tuple(whole))
    features = (old.get("features") or {}, new.get("features") or {})
    yield from _by_group(DataChange, *features, DATA_FEATURE_FIELDS, DATA_GROUP_FIELDS, tolerance)
