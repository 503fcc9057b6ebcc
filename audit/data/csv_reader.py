"""CSV files read without guessing: encoding and delimiter detected, every value read as text,
then converted by explicit rules.

Why: ``pandas.read_csv`` guesses types, and its guesses destroy data an audit depends on (ZIP
codes and ids lose their leading zeros, ``"NA"`` - Namibia - becomes missing). Here:

1. encoding: a byte-order mark decides (utf-8-sig, utf-16); otherwise the whole file must
   decode as UTF-8, else it is read as latin-1 (which decodes any byte, so nothing is lost);
2. delimiter: :class:`csv.Sniffer` on the first 64 KiB, restricted to ``, ; TAB |``;
3. every column is read as text; only an empty field is missing (``"NA"``, ``"null"`` stay text);
   spaces after a delimiter are skipped, so a field of spaces only is empty, hence missing;
4. conversion: a column declared in ``dtypes`` (``string | integer | float | category``) is
   converted as declared, and values that do not fit are reported together; an undeclared column
   becomes a number only when *every* non-empty value is a plain decimal number without a leading
   zero (``42``, ``-3.5``, ``0.25``, ``1e-3``), so ``"007"`` or ``"01234"`` keep the column text.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

#: The declared column types a spec may give (``dtypes: {column: type}``).
DTYPES = ("string", "integer", "float", "category")
DELIMITERS = ",;\t|"
_SAMPLE = 64 * 1024
_INTEGER = r"[+-]?(?:0|[1-9][0-9]*)"
_PLAIN_INT = re.compile(rf"^{_INTEGER}$")
_PLAIN_NUMBER = re.compile(rf"^(?:{_INTEGER}(?:\.[0-9]+)?|[+-]?\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
# Declared numbers may have leading zeros ("007" declared integer is 7).
_ANY_INT = re.compile(r"^[+-]?[0-9]+$")
_ANY_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is encoded and delimited, as detected."""

    encoding: str
    delimiter: str


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` / ``utf-16`` by byte-order mark, ``utf-8`` if every byte decodes, else
    ``latin-1``."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def sniff_csv(path: Path) -> CsvDialect:
    """Detect the encoding and the delimiter (one of ``, ; TAB |``; ``,`` for one column)."""
    encoding = detect_encoding(path)
    with path.open("r", encoding=encoding, newline="") as fh:
        sample = fh.read(_SAMPLE)
    if len(sample) == _SAMPLE and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    return CsvDialect(encoding, delimiter)


def text_options(dialect: CsvDialect) -> dict[str, object]:
    """``pandas.read_csv`` options that read every value as text, only an empty field missing
    (shared with the Dask engine, whose partitions pandas reads)."""
    return {
        "sep": dialect.delimiter,
        "encoding": dialect.encoding,
        "dtype": str,
        "keep_default_na": False,
        "na_values": [""],
        "skipinitialspace": True,
    }


def read_csv(
    path: Path,
    columns: Sequence[str] | None = None,
    dtypes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read ``path`` as described in the module docstring; only ``columns`` when given.

    Columns named in ``columns`` but absent from the file are left out (validation reports them).
    Raises InputError listing every value that does not fit its declared type.
    """
    dialect = sniff_csv(path)
    wanted = set(columns) if columns else None
    frame = pd.read_csv(
        path,
        **text_options(dialect),
        usecols=(lambda c: c in wanted) if wanted is not None else None,
        engine="c",
    )
    return convert(frame, dtypes or {}, source=str(path))


def convert(frame: pd.DataFrame, dtypes: Mapping[str, str], *, source: str) -> pd.DataFrame:
    """Convert text columns: declared ones as declared, the rest only if plainly numeric."""
    unknown = {c: t for c, t in dtypes.items() if t not in DTYPES}
    if unknown:
        raise InputError(
            "dtypes: unknown type(s) " + ", ".join(f"{c}: {t!r}" for c, t in unknown.items()),
            hint=f"use one of {', '.join(DTYPES)}",
        )
    problems: list[str] = []
    out = {}
    for col in frame.columns:
        values = frame[col]
        declared = dtypes.get(str(col))
        if declared is None:
            out[col] = _infer(values)
        elif declared == "string":
            # as text (a Parquet column may be numbers; an integer column with gaps arrives as
            # floats, 1234.0, and is written 1234); a missing value stays missing, not "nan"
            text = values
            if pd.api.types.is_float_dtype(values) and bool((values.dropna() % 1 == 0).all()):
                text = values.astype("Int64")
            out[col] = text.astype("str").mask(values.isna())
        elif declared == "category":
            out[col] = values.astype("category")
        else:
            out[col] = _declared_number(values, str(col), declared, problems)
    if problems:
        body = "\n".join(f"  - {p}" for p in problems)
        raise InputError(
            f"dataset {source}: values do not fit the declared dtypes:\n{body}",
            hint="fix the values, or declare the column as string",
        )
    return pd.DataFrame(out, index=frame.index)


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values) or values.dtype == object


def _infer(values: pd.Series) -> pd.Series:
    if not _is_text(values):
        return values
    present = values.dropna()
    if present.empty:
        return values
    text = present.astype(str)
    if text.str.fullmatch(_PLAIN_INT.pattern).all():
        numbers = pd.to_numeric(values)
        return numbers if values.isna().any() else numbers.astype(np.int64)
    if text.str.fullmatch(_PLAIN_NUMBER.pattern).all():
        return pd.to_numeric(values).astype(np.float64)
    return values


def _declared_number(values: pd.Series, col: str, declared: str, problems: list[str]) -> pd.Series:
    if not _is_text(values):
        return values.astype(np.float64) if declared == "float" else values
    pattern = _ANY_INT if declared == "integer" else _ANY_NUMBER
    present = values.dropna().astype(str)
    bad = present[~present.str.fullmatch(pattern.pattern)]
    if len(bad):
        examples = ", ".join(f"{v!r} (data row {int(i) + 1})" for i, v in bad.head(3).items())
        problems.append(
            f"column {col!r} is declared {declared} but {len(bad)} value(s) are not: {examples}"
        )
        return values
    numbers = pd.to_numeric(values)
    if declared == "float":
        return numbers.astype(np.float64)
    return numbers if values.isna().any() else numbers.astype(np.int64)
