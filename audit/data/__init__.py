"""Datasets: read CSV or Parquet, check everything the audit needs, and derive the outcomes.

CSV is read without type guessing (see :mod:`audit.data.csv_reader`); Parquet carries its own
types and is read column-wise, only the columns the audit needs. All problems with a dataset
are collected and reported together, before any computation (see :mod:`audit.data.validate`).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .csv_reader import DTYPES, CsvDialect, convert, read_csv, sniff_csv
from .model_inputs import ModelInputs, model_inputs
from .validate import DatasetRequirements, Problems, is_positive, validate

_SNIFF = 1 << 16


def _not_tabular(head: bytes) -> str | None:
    """What ``head`` (a file's first bytes) looks like when it cannot be a CSV, else None."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None  # UTF-16 text holds NUL bytes
    if b"-----BEGIN " in head:
        return "a PEM key or certificate"
    if b"\x00" in head:
        return "a binary file"
    if head.lstrip()[:1] in (b"{", b"["):
        return "a JSON document"
    return None


def detect_format(path: Path) -> str:
    """``parquet`` (by its magic bytes) or ``csv``; InputError for a file that is neither.

    A file that cannot be a dataset (a key, a binary, a JSON document) is refused without
    quoting any of it: a dataset's header and values are echoed in messages and starter
    policies, and the bytes of a key file given as a dataset must not be.
    """
    with path.open("rb") as fh:
        head = fh.read(_SNIFF)
    if head[:4] == b"PAR1":
        return "parquet"
    what = _not_tabular(head)
    if what is not None:
        raise InputError(
            f"dataset {path} is not a CSV/Parquet dataset (it looks like {what}; its content "
            "is not shown)",
            hint="give a CSV file with a header row, or a Parquet file",
        )
    return "csv"


def _refuse_nested(schema: object, columns: Sequence[str], path: Path) -> None:
    """InputError naming every wanted Parquet column of a nested type (list, struct, map)."""
    import pyarrow as pa

    assert isinstance(schema, pa.Schema)
    nested = [
        f"{name!r} ({schema.field(name).type})"
        for name in columns
        if pa.types.is_nested(schema.field(name).type)
    ]
    if nested:
        raise InputError(
            f"dataset {path}: {'columns' if len(nested) > 1 else 'column'} {', '.join(nested)} "
            f"{'hold' if len(nested) > 1 else 'holds'} nested values (lists, structs or maps); "
            "audit needs one plain value per cell",
            hint="flatten or drop those columns before the audit (e.g. one column per element)",
        )


def read_table(
    path: Path,
    columns: Sequence[str] | None = None,
    *,
    dtypes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a CSV or Parquet file; only ``columns`` when given (absent ones are left out).

    ``dtypes`` maps columns to ``string | integer | float | category`` (the spec's ``dtypes``).
    CSV: encoding and delimiter detected, no type guessing of ids and codes (csv_reader).
    Parquet: pyarrow reads only the wanted columns, with the file's own types.
    """
    if not path.is_file():
        raise InputError(f"dataset {path} does not exist", hint="check the `dataset` path")
    fmt = detect_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            available = schema.names
            wanted = [c for c in columns if c in available] if columns else None
            _refuse_nested(schema, wanted or available, path)
            frame = pq.read_table(path, columns=wanted).to_pandas()
            return convert(frame, dtypes or {}, source=str(path)) if dtypes else frame
        return read_csv(path, columns, dtypes)
    except InputError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(
            f"dataset {path} cannot be read as {fmt.upper()}: {' '.join(str(exc).split())[:500]}",
            hint="check that the file is a complete, well-formed CSV (with a header row) or "
            "Parquet file",
        ) from None
    except Exception as exc:  # noqa: BLE001 - pyarrow's ArrowException family and friends
        import pyarrow

        if isinstance(exc, pyarrow.ArrowException):
            raise InputError(
                f"dataset {path} cannot be read as {fmt.upper()}: {exc}",
                hint="the file may be truncated or corrupted; write it again",
            ) from None
        raise


def check_columns(
    frame: pd.DataFrame,
    source: str,
    *,
    label: str | None,
    positive_label: object,
    sensitive: Sequence[str],
    extra: Sequence[tuple[str, str]] = (),
    model_features: Sequence[str] | None = None,
) -> None:
    """Validate what the audit needs from the dataset; InputError listing all problems.

    Kept for callers that know only the model's feature names; :func:`validate` also checks
    the model's classes and input types.
    """
    named = dict(extra)
    requirements = DatasetRequirements(
        label=label,
        positive_label=positive_label,
        sensitive=tuple(sensitive),
        predictions=named.get("predictions"),
        scores=named.get("scores"),
    )
    validate(frame, requirements, _Named(model_features), source=source)


class _Named:
    """A stand-in model that only names its input columns (no types, no classes)."""

    def __init__(self, names: Sequence[str] | None) -> None:
        if names is not None:
            self.feature_names_in_ = list(names)
            self.feature_types_: dict[str, str] = {}


from .profile import data_profile  # noqa: E402

__all__ = [
    "DTYPES",
    "CsvDialect",
    "DatasetRequirements",
    "ModelInputs",
    "Problems",
    "check_columns",
    "data_profile",
    "detect_format",
    "is_positive",
    "model_inputs",
    "read_table",
    "sniff_csv",
    "validate",
]
