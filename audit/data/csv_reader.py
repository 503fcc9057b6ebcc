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
from typing import Any

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
    from .csv_arrow import read_text

    dialect = sniff_csv(path)
    # pyarrow's reader where it reads as pandas does (several times faster), else pandas'
    frame = read_text(path, dialect.encoding, dialect.delimiter, columns or None)
    if frame is None:
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
    arrow = _arrow_text(values)
    if arrow is not None:
        if arrow.null_count == len(arrow):
            return values
        if _all_match(arrow, _PLAIN_INT):
            return _to_number(values, arrow, integer=True)
        if _all_match(arrow, _PLAIN_NUMBER):
            return _to_number(values, arrow, integer=False)
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
    arrow = _arrow_text(values)
    if arrow is not None and _all_match(arrow, pattern):
        return _to_number(values, arrow, integer=declared == "integer")
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


# -- the same numbers from pyarrow's text, without a Python object per value -------------------
#
# pandas' default text storage is pyarrow: a column's regular expressions run in pyarrow (RE2, as
# ``Series.str.fullmatch`` does), and its numbers are parsed by pyarrow's cast where that gives
# exactly what ``pd.to_numeric`` gives (which parses each value as a double by multiplying its
# digits, read as a whole number, by a power of ten: exact, hence correctly rounded as pyarrow's
# parse is, while there are at most 15 digits and no exponent). Elsewhere ``pd.to_numeric`` runs.

_EXACT_DIGITS = 15
_FIRST_ROWS = 1024


def _arrow_text(values: pd.Series) -> Any:
    """The pyarrow array of a text Series stored by pyarrow (pandas' default), else None."""
    dtype = values.dtype
    if not isinstance(dtype, pd.StringDtype) or dtype.storage != "pyarrow":
        return None
    import pyarrow as pa

    return pa.chunked_array(pa.array(values.array))


def _all_match(arrow: Any, pattern: re.Pattern[str]) -> bool:
    """Whether every present value matches ``pattern`` (anchored ``^...$``); the first rows
    are tried alone first, which settles most text columns without a pass over all values."""
    import pyarrow.compute as pc

    for part in (arrow.slice(0, _FIRST_ROWS), arrow) if len(arrow) > _FIRST_ROWS else (arrow,):
        # None: no value present in the part (its rows all missing), which settles nothing
        if pc.all(pc.match_substring_regex(part, pattern.pattern)).as_py() is False:
            return False
    return True


def _to_number(values: pd.Series, arrow: Any, *, integer: bool) -> pd.Series:
    """``values`` (every present one a number) as ``pd.to_numeric`` and the conversion rules
    make them: int64 for whole numbers without gaps, float64 otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    gaps = arrow.null_count > 0
    if arrow.null_count == len(arrow):  # nothing to parse: pandas' float NaNs
        return _parsed(values, integer=integer, gaps=gaps)
    # without gaps, whole numbers are parsed as int64 first (so "-0" declared float is 0.0)
    whole = not gaps and (integer or _all_match(arrow, _ANY_INT))
    try:
        if whole:
            numbers = pc.cast(arrow, pa.int64()).to_numpy()
            numbers = numbers if integer else numbers.astype(np.float64)
            return pd.Series(numbers, index=values.index, name=values.name)
        short = pc.max(pc.binary_length(arrow)).as_py() <= _EXACT_DIGITS
        if short and not pc.any(pc.match_substring(arrow, "e", ignore_case=True)).as_py():
            numbers = pc.cast(arrow, pa.float64()).to_numpy()
            return pd.Series(numbers, index=values.index, name=values.name)
    except pa.ArrowInvalid:  # e.g. "+5" or beyond int64: pandas decides
        pass
    return _parsed(values, integer=integer, gaps=gaps)


def _parsed(values: pd.Series, *, integer: bool, gaps: bool) -> pd.Series:
    parsed = pd.to_numeric(values)
    if not integer:
        return parsed.astype(np.float64)
    return parsed if gaps else parsed.astype(np.int64)
