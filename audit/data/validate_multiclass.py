"""The label, predictions and model checks of a ``task: multiclass`` audit.

The classes are fixed before any row is counted: the model's ``classes_``, or for recorded
predictions the spec's ``classes:`` (every class, in order). Values are compared as text (a CSV
column is text unless ``dtypes`` says otherwise). A label or recorded prediction that is not one
of the classes, or is missing, is a problem naming the column and the rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# ``req`` is an audit.data.validate.DatasetRequirements and ``problems`` its Problems (not
# imported: audit.data.validate imports this module).


def audit_classes(req: Any, estimator: Any, problems: Any) -> tuple[str, ...] | None:
    """The audit's classes as text (None, with a problem, when there are none)."""
    found = None if estimator is None else getattr(estimator, "classes_", None)
    if estimator is not None and found is None:
        problems.add(
            f"task: multiclass needs a classifier with classes; {type(estimator).__name__} has "
            "none (use task: regression for a model of numbers)"
        )
        return None
    if found is not None:
        classes = tuple(str(c) for c in np.asarray(found).tolist())
        if req.classes and tuple(str(c) for c in req.classes) != classes:
            problems.add(
                f"classes {list(map(str, req.classes))} differ from the model's classes "
                f"{list(classes)} (remove `classes:`, the model names its own)"
            )
    elif req.classes:
        classes = tuple(str(c) for c in req.classes)
    else:
        problems.add(
            "task: multiclass with recorded predictions needs `classes:` (every class, in order)"
        )
        return None
    if len(set(classes)) != len(classes):
        problems.add(f"classes {list(classes)} name a class twice")
        return None
    if len(classes) < 2:
        problems.add(f"task: multiclass needs at least two classes, got {list(classes)}")
        return None
    return classes


def _check_column(
    frame: pd.DataFrame, what: str, column: str, classes: tuple[str, ...], problems: Any
) -> None:
    values = frame[column]
    missing = values.isna().to_numpy()
    if missing.any():
        problems.add(
            f"{what} column {column!r} has {int(missing.sum())} missing values "
            f"({problems.rows(missing)})"
        )
    text = values.astype(str)
    unknown = ~missing & ~text.isin(classes).to_numpy()
    if unknown.any():
        seen = sorted(set(text[unknown].tolist()))
        problems.add(
            f"{what} column {column!r} holds value(s) {', '.join(map(repr, seen[:10]))} that are "
            f"not classes of the audit ({', '.join(map(repr, classes))}) ({problems.rows(unknown)}); "
            "list every class in `classes:` (recorded predictions) or fix the column"
        )


def check_multiclass(frame: pd.DataFrame, req: Any, estimator: Any, problems: Any) -> None:
    """Add a problem for each way the frame's label and predictions do not fit the classes."""
    classes = audit_classes(req, estimator, problems)
    if classes is None or not len(frame):
        return
    cols = set(map(str, frame.columns))
    if req.label is not None and req.label in cols:
        _check_column(frame, "label", req.label, classes, problems)
    if estimator is None and req.predictions is None:
        problems.add("task: multiclass needs a model or a recorded `predictions` column")
    elif estimator is None and req.predictions in cols:
        assert req.predictions is not None
        _check_column(frame, "predictions", req.predictions, classes, problems)
