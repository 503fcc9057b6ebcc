"""Datasets: read CSV or Parquet, check the columns an audit needs, and derive the outcomes.

All problems with a dataset are collected and reported together, before any computation, so a
user fixes them in one round instead of one per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError


def detect_format(path: Path) -> str:
    """``parquet`` (by its magic bytes) or ``csv``."""
    with path.open("rb") as fh:
        head = fh.read(4)
    return "parquet" if head == b"PAR1" else "csv"


def read_table(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file; for Parquet read only ``columns`` when given."""
    if not path.is_file():
        raise InputError(f"dataset {path} does not exist", hint="check the `dataset` path")
    fmt = detect_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            available = pq.read_schema(path).names
            wanted = [c for c in columns if c in available] if columns else None
            return pq.read_table(path, columns=wanted).to_pandas()
        return pd.read_csv(path, skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(
            f"dataset {path} cannot be read as {fmt.upper()}: {' '.join(str(exc).split())}",
            hint="check that the file is a complete, well-formed CSV (with a header row) or Parquet file",
        ) from None


def is_positive(values: pd.Series, positive_label: object) -> np.ndarray:
    """Boolean array: which values equal the favourable label (numbers compared as numbers)."""
    if isinstance(positive_label, bool):
        return (values.astype(str).str.lower() == str(positive_label).lower()).to_numpy()
    if isinstance(positive_label, int | float) and pd.api.types.is_numeric_dtype(values):
        return (values.to_numpy() == positive_label).astype(bool)
    return (values.astype(str) == str(positive_label)).to_numpy()


@dataclass(frozen=True)
class Problems:
    """Collects every dataset problem so they are reported in one message."""

    source: str
    items: list[str]

    def add(self, msg: str) -> None:
        self.items.append(msg)

    def raise_if_any(self) -> None:
        if self.items:
            body = "\n".join(f"  - {m}" for m in self.items)
            raise InputError(
                f"dataset {self.source} cannot be audited:\n{body}",
                hint="fix the dataset or the spec (label, positive_label, sensitive_features, "
                "predictions/scores) and run again",
            )


def check_columns(
    frame: pd.DataFrame,
    source: str,
    *,
    label: str,
    positive_label: object,
    sensitive: Sequence[str],
    extra: Sequence[tuple[str, str]] = (),
    model_features: Sequence[str] | None = None,
) -> None:
    """Validate everything the audit needs from the dataset; InputError listing all problems."""
    problems = Problems(source, [])
    cols = set(frame.columns)
    available = ", ".join(map(str, frame.columns[:30])) + (
        " ..." if len(frame.columns) > 30 else ""
    )
    if len(frame) == 0:
        problems.add("it has no rows")
    for what, col in [("label", label), *[("sensitive feature", s) for s in sensitive], *extra]:
        if col not in cols:
            problems.add(f"{what} column {col!r} is missing (columns: {available})")
    if label in cols and len(frame):
        y = frame[label]
        if y.isna().any():
            problems.add(f"label column {label!r} has {int(y.isna().sum())} missing values")
        pos = is_positive(y, positive_label)
        if not pos.any():
            seen = ", ".join(map(repr, sorted(map(str, y.dropna().unique()))[:10]))
            problems.add(
                f"positive_label {positive_label!r} never occurs in label column {label!r} "
                f"(values: {seen})"
            )
        elif pos.all():
            problems.add(
                f"label column {label!r} holds only the positive class; both classes are needed"
            )
    if model_features is not None:
        missing = [c for c in model_features if c not in cols]
        if missing:
            problems.add(
                f"the model needs columns the dataset lacks: {', '.join(map(repr, missing))}"
            )
    problems.raise_if_any()


from .profile import data_profile  # noqa: E402

__all__ = ["check_columns", "data_profile", "detect_format", "is_positive", "read_table"]
