"""Check a dataset against what the audit and the model need, before any computation.

Every problem found is collected and reported in one :class:`~audit.errors.InputError` (exit 2),
so a user fixes them in one round instead of one per run. Checked:

- the dataset has rows;
- the label, sensitive, predictions and scores columns exist;
- the label has no missing values, holds exactly two values, the positive label among them (so
  both classes are present), and they are classes of the model when it has ``classes_``;
- the positive label is one of the model's classes (with or without a label);
- recorded predictions have no missing values and are label values; with no label (an audit of
  decisions alone) they hold at most two values, the positive label (the selected decision)
  among them; recorded scores are numbers, none missing;
- the model's input columns exist (by name; by count when the model does not name them: every
  column but the label and the id column), have no missing values, and hold numbers where the
  model needs numbers.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .model_inputs import ModelInputs, model_inputs


@dataclass(frozen=True)
class DatasetRequirements:
    """What the audit spec needs from the dataset (label, outcome, groups, recorded decisions)."""

    label: str | None
    positive_label: object
    sensitive: tuple[str, ...]
    predictions: str | None = None
    scores: str | None = None
    id_column: str | None = None
    task: str = "binary"  # binary, multiclass or regression
    classes: tuple[Any, ...] | None = None  # multiclass with recorded predictions


@dataclass(frozen=True)
class Problems:
    """Collects every dataset problem so they are reported in one message."""

    source: str
    items: list[str] = field(default_factory=list)
    #: 0-based position of the frame's first row in the dataset (a partition of it)
    first_row: int = 0
    #: a partition: leave out the checks only the whole dataset answers (see check_whole)
    partial: bool = False

    def rows(self, mask: np.ndarray) -> str:
        rows = np.flatnonzero(mask)[:5] + 1 + self.first_row
        more = " ..." if mask.sum() > 5 else ""
        return f"data rows {', '.join(map(str, rows))}{more}"

    def add(self, msg: str) -> None:
        self.items.append(msg)

    def raise_if_any(self) -> None:
        if self.items:
            body = "\n".join(f"  - {m}" for m in self.items)
            raise InputError(
                f"dataset {self.source} cannot be audited ({len(self.items)} problem"
                f"{'s' if len(self.items) > 1 else ''}):\n{body}",
                hint="fix the dataset or the spec (label, positive_label, sensitive_features, "
                "predictions/scores, dtypes) and run again",
            )


def is_positive(values: pd.Series, positive_label: object) -> np.ndarray:
    """Boolean array: which values equal the favourable label (numbers compared as numbers)."""
    if isinstance(positive_label, bool):
        return (values.astype(str).str.lower() == str(positive_label).lower()).to_numpy()
    if isinstance(positive_label, int | float) and pd.api.types.is_numeric_dtype(values):
        return (values.to_numpy() == positive_label).astype(bool)
    return (values.astype(str) == str(positive_label)).to_numpy()


def validate(
    frame: pd.DataFrame,
    requirements: DatasetRequirements,
    model: Any = None,
    *,
    source: str,
    first_row: int = 0,
    partial: bool = False,
    header: Sequence[Any] | None = None,
) -> None:
    """Raise one InputError listing every problem of ``frame`` for this audit (see module doc).

    ``model`` is a fitted estimator, an audit adapter or a ``LoadedModel`` (or None when the
    audit judges recorded decisions). ``header``: every column of the file (``frame`` may hold
    only the columns the audit reads), named when a column is missing.
    """
    estimator = getattr(model, "estimator", model)
    inputs = model_inputs(estimator) if estimator is not None else None
    problems = Problems(source, first_row=first_row, partial=partial)
    _check(frame, requirements, estimator, inputs, problems, header)
    problems.raise_if_any()


def missing_column(what: str, col: str, header: Sequence[Any]) -> str:
    """The problem of a column the spec names that the file lacks: the closest column of the
    file (a did-you-mean) and every column the file has."""
    present = [str(c) for c in header]
    close = difflib.get_close_matches(col, present, n=1, cutoff=0.6)
    close = close or [c for c in present if c.lower() == col.lower()]
    name = f"{what} {col!r}" if what == "id_column" else f"{what} column {col!r}"
    return (
        f"{name} is missing"
        + (f" (did you mean {close[0]!r}?)" if close else "")
        + f"; the file's {len(present)} columns: {', '.join(present)}"
    )


def _check(
    frame: pd.DataFrame,
    req: DatasetRequirements,
    estimator: Any,
    inputs: ModelInputs | None,
    problems: Problems,
    header: Sequence[Any] | None = None,
) -> None:
    cols = set(map(str, frame.columns))
    header = list(frame.columns) if header is None else header
    if len(frame) == 0 and not problems.partial:
        problems.add("it has no rows")
    if _check_flat(frame, problems):
        return  # the checks below would hash or compare those cells
    named = [("label", req.label)] if req.label is not None else []
    named += [("sensitive feature", s) for s in req.sensitive]
    named += [("predictions", req.predictions)] if req.predictions else []
    named += [("scores", req.scores)] if req.scores else []
    named += [("id_column", req.id_column)] if req.id_column else []
    for what, col in named:
        if col not in cols:
            problems.add(missing_column(what, col, header))
    if req.task != "binary":
        _check_task(frame, req, estimator, problems)
    elif req.label in cols and len(frame):
        _check_label(frame[req.label], req, estimator, problems)
    elif req.label is None:
        _check_model_classes(req, estimator, problems)
    if (
        req.task == "binary"
        and req.predictions in cols
        and len(frame)
        and (req.label is None or req.label in cols)
    ):
        _check_predictions(frame, req, problems)
    if req.scores in cols and len(frame):
        scores = pd.to_numeric(frame[req.scores], errors="coerce")
        bad = scores.isna().to_numpy()
        if bad.any():
            problems.add(
                f"scores column {req.scores!r} has {int(bad.sum())} missing or non-numeric "
                f"values ({problems.rows(bad)})"
            )
    if inputs is not None and len(frame):  # a frame without rows has nothing to check
        _check_model_inputs(frame, req, inputs, problems)


def _check_task(
    frame: pd.DataFrame, req: DatasetRequirements, estimator: Any, problems: Problems
) -> None:
    """The label, predictions and model checks of a multiclass or regression audit."""
    if req.task == "regression":
        from .validate_regression import check_regression

        check_regression(frame, req, estimator, problems)
    else:
        from .validate_multiclass import check_multiclass

        check_multiclass(frame, req, estimator, problems)


_NESTED = (list, tuple, dict, set, np.ndarray)


def _check_flat(frame: pd.DataFrame, problems: Problems) -> bool:
    """Add a problem for each column whose cells hold lists, arrays or mappings (a Parquet
    ``list<...>`` or ``struct`` column); True if there is one."""
    found = False
    for col in frame.columns:
        if frame[col].dtype != object:
            continue
        nested = frame[col].map(lambda v: isinstance(v, _NESTED)).to_numpy(dtype=bool)
        if nested.any():
            first = frame[col].iloc[int(np.flatnonzero(nested)[0])]
            problems.add(
                f"column {str(col)!r} holds {type(first).__name__} values, not one value per "
                f"cell ({problems.rows(nested)}); flatten it into plain columns"
            )
            found = True
    return found


def _check_label(
    y: pd.Series, req: DatasetRequirements, estimator: Any, problems: Problems
) -> None:
    missing = y.isna().to_numpy()
    if missing.any():
        problems.add(
            f"label column {req.label!r} has {int(missing.sum())} missing values ({problems.rows(missing)})"
        )
    present = y[~missing]
    values = sorted(map(str, present.unique()))
    pos = is_positive(present, req.positive_label)
    if not problems.partial:  # else a question for the whole dataset: check_whole
        _label_classes(problems, req, values, int(pos.sum()), len(present))
    elif len(values) > 2:
        _label_classes(problems, req, values, 1, 2)
    model_classes = _check_model_classes(req, estimator, problems)
    if model_classes is not None:
        unknown = _not_in(present, model_classes)
        if unknown:
            problems.add(
                f"label values {', '.join(map(repr, unknown[:10]))} are not classes of the model "
                f"({', '.join(map(repr, map(str, model_classes)))})"
            )


def _check_model_classes(
    req: DatasetRequirements, estimator: Any, problems: Problems
) -> pd.Series | None:
    """The model's classes (None if it has none), with a problem if the positive label is not
    one of them."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return None
    model_classes = pd.Series(np.asarray(classes))
    if not is_positive(model_classes, req.positive_label).any():
        problems.add(
            f"positive_label {req.positive_label!r} is not one of the model's classes "
            f"({', '.join(map(repr, map(str, model_classes)))})"
        )
    return model_classes


def _not_in(values: pd.Series, allowed: pd.Series) -> list[str]:
    """Distinct ``values`` not among ``allowed``: compared as numbers when both are numbers
    (1 and 1.0 are the same class), else as text."""
    found = pd.Series(values.dropna().unique())
    allowed = pd.Series(allowed.dropna().unique())
    a = pd.to_numeric(found, errors="coerce")
    b = pd.to_numeric(allowed, errors="coerce")
    if len(found) and a.notna().all() and b.notna().all():
        known = set(b.tolist())
        return sorted(str(v) for v, n in zip(found, a, strict=True) if n not in known)
    return sorted(set(map(str, found)) - set(map(str, allowed)))


def _check_predictions(frame: pd.DataFrame, req: DatasetRequirements, problems: Problems) -> None:
    assert req.predictions is not None
    pred = frame[req.predictions]
    missing = pred.isna().to_numpy()
    if missing.any():
        problems.add(
            f"predictions column {req.predictions!r} has {int(missing.sum())} missing values "
            f"({problems.rows(missing)})"
        )
    if req.label is None:
        _check_decisions(pred[~missing], req, problems)
        return
    if not problems.partial:  # else a question for the whole dataset: check_whole
        label_values = sorted(map(str, frame[req.label].dropna().unique()))
        _decisions_are_labels(problems, req, pred, frame[req.label], label_values)


def _decisions_are_labels(
    problems: Problems,
    req: DatasetRequirements,
    pred: pd.Series,
    label: pd.Series,
    label_values: list[str],
) -> None:
    extra = _not_in(pred, label)
    if extra:
        problems.add(
            f"predictions column {req.predictions!r} holds values that are not label values: "
            f"{', '.join(map(repr, extra[:10]))} (label values: "
            f"{', '.join(map(repr, label_values[:10]))})"
        )


def _check_decisions(pred: pd.Series, req: DatasetRequirements, problems: Problems) -> None:
    """Recorded decisions with no label to check them against: binary, and the positive label
    (the selected decision) among them, so a misspelt positive_label cannot select nobody."""
    values = sorted(map(str, pred.unique()))
    selected = int(is_positive(pred, req.positive_label).sum()) if len(pred) else 1
    _decision_classes(problems, req, values, 1 if problems.partial else selected)


def _decision_classes(
    problems: Problems, req: DatasetRequirements, values: list[str], selected: int
) -> None:
    shown = ", ".join(map(repr, values[:10]))
    if len(values) > 2:
        problems.add(
            f"predictions column {req.predictions!r} has {len(values)} distinct values ({shown}); "
            "binary decisions hold at most two"
        )
    if selected == 0:
        problems.add(
            f"positive_label {req.positive_label!r} never occurs in predictions column "
            f"{req.predictions!r} (values: {shown}); with no label it names the selected decision"
        )


def _check_model_inputs(
    frame: pd.DataFrame, req: DatasetRequirements, inputs: ModelInputs, problems: Problems
) -> None:
    cols = [str(c) for c in frame.columns]
    if inputs.names is None:
        candidates = [c for c in cols if c not in (req.label, req.id_column)]
        if inputs.count is not None and inputs.count != len(candidates):
            besides = " and ".join(
                w for w, c in (("the label", req.label), ("the id column", req.id_column)) if c
            )
            problems.add(
                f"the model does not name its input columns and takes {inputs.count} of them, "
                f"but the dataset has {len(candidates)} columns"
                + (f" besides {besides}" if besides else "")
                + "; give the dataset exactly the model's input columns, in training order"
            )
        return
    missing = [c for c in inputs.names if c not in cols]
    if missing:
        problems.add(f"the model needs columns the dataset lacks: {', '.join(map(repr, missing))}")
    for col in inputs.names:
        if col not in cols:
            continue
        values = frame[col]
        na = values.isna().to_numpy()
        if na.any():
            problems.add(
                f"model input column {col!r} has {int(na.sum())} missing values ({problems.rows(na)})"
            )
        if col in inputs.numeric and not (
            pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
        ):
            text = values.dropna().astype(str)
            numeric = pd.to_numeric(text, errors="coerce")
            if numeric.notna().all():
                problems.add(
                    f"model input column {col!r} holds number-like codes kept as text (e.g. "
                    f"{text.iloc[0]!r}) but the model needs numbers; declare it in the spec's "
                    f"dtypes (e.g. {col}: integer) if it really is a number"
                )
            else:
                bad = text[numeric.isna()]
                problems.add(
                    f"model input column {col!r} must hold numbers but has text such as "
                    f"{', '.join(map(repr, bad.unique()[:3]))}"
                )


def check_whole(
    source: str,
    req: DatasetRequirements,
    *,
    rows: int,
    positives: int | None,
    label_values: Sequence[str],
    selected: int,
    decision_values: Sequence[str],
) -> None:
    """The checks of :func:`validate` that only the whole dataset answers, from counts: a
    partitioned audit validates each partition with ``partial=True``, then calls this."""
    problems = Problems(source)
    if rows == 0:
        problems.add("it has no rows")
    elif req.label is not None and positives is not None:
        _label_classes(problems, req, sorted(label_values), positives, rows)
        if req.predictions:
            values = sorted(label_values)
            _decisions_are_labels(
                problems, req, pd.Series(sorted(decision_values)), pd.Series(values), values
            )
    elif req.predictions:
        _decision_classes(problems, req, sorted(decision_values), selected)
    problems.raise_if_any()


def _label_classes(
    problems: Problems, req: DatasetRequirements, values: list[str], positives: int, rows: int
) -> None:
    if positives == 0:
        problems.add(
            f"positive_label {req.positive_label!r} never occurs in label column {req.label!r} "
            f"(values: {', '.join(map(repr, values[:10]))})"
        )
    elif positives == rows:
        problems.add(
            f"label column {req.label!r} holds only the positive class; both classes are needed"
        )
    if len(values) > 2:
        problems.add(
            f"label column {req.label!r} has {len(values)} distinct values "
            f"({', '.join(map(repr, values[:10]))}); a binary audit needs exactly two"
        )
