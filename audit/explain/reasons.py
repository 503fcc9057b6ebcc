"""Per-decision reasons for adverse decisions, in words, as adverse-action notices need.

ECOA / Regulation B (12 CFR 1002.9(b)(2) and Supplement I, comments 9(b)(2)-1 to -9) require the
*specific principal reasons* for an adverse action; more than four is "not likely to be helpful",
and comment -5 allows ranking factors by how far the applicant falls below a comparison group.
SHAP values relative to a stated background are that ranking: the reasons for row i are the input
columns with the most negative attribution ``phi_ij`` towards the favourable (positive) outcome,
at most ``k = 4``, most negative first. Columns with ``phi_ij >= 0`` helped the applicant and are
never reasons.

A *reason-code file* maps every input column to a code and its human wording::

    name: adult-census-income
    version: "1"
    reasons:
      capital_gain: {code: R07, text: "Insufficient capital gains"}

A column without an entry is an error that lists all such columns: reasons must be in words.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audit.errors import InputError
from audit.textsafe import csv_cell
from audit.yamlio import parse_yaml

#: At most four principal reasons (Regulation B, Supplement I, comment 9(b)(2)-1).
MAX_REASONS = 4

#: Columns of reasons.csv, in order.
CSV_COLUMNS = (
    "row_id",
    "decision",
    "rank",
    "feature",
    "code",
    "reason",
    "attribution",
    "value",
    "additivity_error",
    "stability",
)


class ReasonEntry(BaseModel):
    """One input column's reason: the code a notice carries and the words an applicant reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(min_length=1, max_length=32, description="the reason code (e.g. R05)")
    text: str = Field(
        min_length=1,
        max_length=200,
        description="the principal reason in the words of an adverse-action notice",
    )


class ReasonCodeFile(BaseModel):
    """A reason-code file (``explain.reason_codes``): every model input column mapped to a
    code and its wording (docs/reference.md; JSON Schema: audit/schemas/reason-codes.schema.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, description="names the file in the report")
    version: str | int = Field("1", description="the file's version, shown in the report")
    description: str | None = Field(None, description="what the codes are for")
    reasons: dict[str, ReasonEntry] = Field(
        min_length=1,
        description="input column -> {code, text}; every input of the model needs an entry",
    )


def reason_codes_schema() -> dict[str, object]:
    """The JSON Schema of a reason-code file (published as audit/schemas/reason-codes.schema.json)."""
    schema = ReasonCodeFile.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://audit.example/schemas/reason-codes.schema.json",
        **schema,
        "title": "audit reason-code file",
    }


@dataclass(frozen=True)
class ReasonCode:
    """The code and the wording an applicant reads for one input column."""

    feature: str
    code: str
    text: str


@dataclass(frozen=True)
class ReasonCodes:
    """A validated reason-code file: input column -> :class:`ReasonCode`."""

    name: str
    version: str
    sha256: str
    source: str
    codes: tuple[ReasonCode, ...]

    def lookup(self, features: Iterable[str]) -> dict[str, ReasonCode]:
        """The codes for ``features``; ``InputError`` naming every column without an entry."""
        by_feature = {c.feature: c for c in self.codes}
        features = list(features)
        missing = [f for f in features if f not in by_feature]
        if missing:
            raise InputError(
                f"reason-code file {self.source} has no entry for model input column(s): "
                f"{', '.join(missing)}",
                hint="add an entry `<column>: {code: ..., text: ...}` under `reasons:` for each; "
                "adverse-action reasons must be given in words",
            )
        return {f: by_feature[f] for f in features}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


def load_reason_codes(path: Path) -> ReasonCodes:
    """Read and validate a reason-code YAML file (``InputError`` naming the file and field)."""
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read reason-code file {path}: {exc.strerror}",
            hint="check the path of the reason-code file",
        ) from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"reason-code file {path} is not UTF-8 text: {exc}") from None
    raw, _ = parse_yaml(text, path)
    try:
        document = ReasonCodeFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(
            f"reason-code file {path}: field {where}: {first['msg']}",
            hint='each entry is `<column>: {code: R01, text: "Human wording"}` under `reasons:`',
        ) from None
    codes = tuple(ReasonCode(f, e.code, e.text) for f, e in document.reasons.items())
    return ReasonCodes(
        name=document.name,
        version=str(document.version),
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        source=str(path),
        codes=codes,
    )


@dataclass(frozen=True)
class Reason:
    """One principal reason: ``rank`` 1 is the column that pushed hardest towards the adverse
    outcome (most negative ``attribution``, in the explanation's output space)."""

    rank: int
    feature: str
    code: str
    text: str
    attribution: float
    value: Any


@dataclass(frozen=True)
class DecisionReasons:
    """The reasons for one adverse decision, with the fidelity of its explanation.

    ``additivity_error = |base + sum_j phi_j - f(x)|``; ``stability`` is the mean share of these
    reasons that stay among the top reasons when the explanation is recomputed with other seeds
    and background samples (None when not checked for this row).
    """

    row_id: Any
    decision: Any
    reasons: tuple[Reason, ...]
    additivity_error: float
    stability: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "row_id": plain_value(self.row_id),
            "decision": plain_value(self.decision),
            "reasons": [
                {
                    "rank": r.rank,
                    "feature": r.feature,
                    "code": r.code,
                    "text": r.text,
                    "attribution": r.attribution,
                    "value": plain_value(r.value),
                }
                for r in self.reasons
            ],
            "additivity_error": self.additivity_error,
            "stability": self.stability,
        }


def top_adverse(attributions: np.ndarray, k: int = MAX_REASONS) -> list[np.ndarray]:
    """Per row, the column indices of the (at most) ``k`` most negative attributions, most
    negative first; ties keep column order."""
    order = np.argsort(attributions, axis=1, kind="stable")[:, :k]
    return [o[attributions[i, o] < 0] for i, o in enumerate(order)]


def write_reasons_csv(path: Path, decisions: Sequence[DecisionReasons]) -> int:
    """Write ``reasons.csv`` (columns :data:`CSV_COLUMNS`, one line per reason); returns lines.

    A decision with no negative attribution at all gets one line with empty reason fields, so
    every adverse decision appears in the file.
    """
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write(CSV_HEADER)
        return write_reason_lines(fh, decisions)


#: The header line of reasons.csv.
CSV_HEADER = ",".join(CSV_COLUMNS) + "\n"


def write_reason_lines(fh: TextIO, decisions: Iterable[DecisionReasons]) -> int:
    """The lines of ``decisions`` (no header) written to ``fh``; returns how many."""
    lines = 0
    writer = csv.writer(fh, lineterminator="\n")
    for d in decisions:
        fidelity = [_number(d.additivity_error), _number(d.stability)]
        if not d.reasons:
            writer.writerow([*_cells(d.row_id, d.decision), "", "", "", "", "", "", *fidelity])
            lines += 1
        for r in d.reasons:
            writer.writerow(
                [
                    *_cells(d.row_id, d.decision),
                    r.rank,
                    *_cells(r.feature, r.code, r.text),
                    _number(r.attribution),  # the tool's own number: stays numeric
                    *_cells(plain_value(r.value)),
                    *fidelity,
                ]
            )
            lines += 1
    return lines


class ReasonsSpool:
    """reasons.csv written part by part (in row order) into a private temporary folder, for
    audits that give reasons for every adverse decision: the bundle copies the finished file,
    and :meth:`cleanup` (also run when the spool is garbage-collected) removes it."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="audit-reasons-"))
        self.path = self.folder / "reasons.csv"
        self.lines = 0
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)
        self._fh: TextIO | None = self.path.open("w", newline="", encoding="utf-8")
        self._fh.write(CSV_HEADER)

    def write(self, text: str, lines: int) -> None:
        """Append ``lines`` CSV lines (``text``, from :func:`write_reason_lines`)."""
        assert self._fh is not None, "the spool is closed"
        self._fh.write(text)
        self.lines += lines

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def copy_to(self, target: Path) -> None:
        self.close()
        shutil.copyfile(self.path, target)

    def cleanup(self) -> None:
        self.close()
        self._cleanup()


def _cells(*values: Any) -> list[Any]:
    """Values from the dataset, the model or the reason-code file, neutralised for spreadsheets
    (a row id ``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``)."""
    return [csv_cell(v) for v in values]


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def plain_value(value: Any) -> Any:
    """numpy scalars and missing values as plain JSON-able Python values."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
