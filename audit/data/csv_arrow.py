"""A CSV file's text read by pyarrow's multi-threaded reader, exactly as pandas would read it.

:func:`audit.data.csv_reader.read_csv` reads every value as text (pandas options:
``dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True``). pandas' C parser
does that at about 20 MB/s; pyarrow's reader at several times that. :func:`read_text` gives the
same frame (the same columns in file order, ``str`` dtype, only an empty field missing, spaces
after a delimiter skipped) when it can be sure to, and None otherwise, so that the caller reads
the file with pandas, which then also words any error (a ragged row, an empty file). None when:

- the encoding is not UTF-8 (latin-1 and UTF-16 files are transcoded by pandas);
- the header has an empty, duplicated or space-led name (pandas renames or trims them);
- the file has one column (pandas and pyarrow differ on lines of spaces) or no data row;
- a value starts with a space and the file holds a quote character: pandas skips the spaces
  *before* an opening quote (``a, "x"`` is ``x``) but keeps them inside one (``" x"``), which
  pyarrow's text cannot tell apart;
- pyarrow cannot parse the file (any row with another number of fields than the header).
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

_QUOTE = b'"'
_BLOCK = 16 << 20  # bytes parsed per task: large blocks, fewer tasks to merge


def read_text(
    path: Path, encoding: str, delimiter: str, columns: Sequence[str] | None
) -> pd.DataFrame | None:
    """The text frame pandas would read from ``path`` (only ``columns`` that exist), or None;
    ``encoding`` and ``delimiter`` as :func:`audit.data.csv_reader.sniff_csv` detected them."""
    if encoding not in ("utf-8", "utf-8-sig"):
        return None
    import pyarrow as pa
    import pyarrow.csv as pacsv

    quoted = _holds(path, _QUOTE)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted)
    try:
        # the header from the first MiB (a longer header line: pandas reads the file)
        head = pacsv.ReadOptions(use_threads=False, block_size=1 << 20)
        with pacsv.open_csv(path, read_options=head, parse_options=parse) as probe:
            raw = probe.schema.names
    except (pa.ArrowInvalid, OSError):
        return None
    # pandas skips the spaces after a delimiter in the header too
    header = [name.lstrip(" ") for name in raw] if not quoted else raw
    if (
        len(header) < 2
        or len(set(header)) != len(header)
        or any(name == "" or name.startswith(" ") for name in header)
    ):
        return None
    wanted = [c for c in header if columns is None or c in set(columns)]
    read = pacsv.ReadOptions(use_threads=True, block_size=_BLOCK, column_names=header, skip_rows=1)
    convert = pacsv.ConvertOptions(
        column_types={c: pa.large_string() for c in header},  # as pandas stores text
        include_columns=wanted,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        table = pacsv.read_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, OSError):
        return None
    if table.num_rows == 0:
        return None
    arrays = []
    for name in wanted:
        column = table.column(name)
        if _any_space_led(column):
            if quoted:
                return None
            column = _skip_initial_space(column)
        arrays.append(column)
    return pa.table(arrays, names=wanted).to_pandas()


def _holds(path: Path, byte: bytes) -> bool:
    """Whether ``byte`` occurs anywhere in the file (memory-mapped: no copy is read)."""
    with path.open("rb") as fh:
        try:
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
                return view.find(byte) >= 0
        except ValueError:  # an empty file cannot be mapped
            return False


def _any_space_led(column: Any) -> bool:
    import pyarrow.compute as pc

    return bool(pc.any(pc.starts_with(column, " ")).as_py())


def _skip_initial_space(column: Any) -> Any:
    """Leading spaces dropped and a value of spaces only missing (``skipinitialspace=True``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_ltrim(column, characters=" ")
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, column.type), trimmed)
