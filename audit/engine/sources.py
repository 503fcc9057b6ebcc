"""Reading a dataset in record batches, with the column types the whole file would get.

The in-memory reader (:func:`audit.data.read_table`) decides each column's type from the whole
column: a CSV column of whole numbers becomes integers, floats when any value is missing; a
Parquet integer column with nulls becomes floats. A batch alone would decide differently
(``30`` in one batch, ``30.0`` in the next), and group labels are the text of the values, so
the streaming reader first learns the whole file's types — from the Parquet metadata, or for a
CSV from one pass over the text of the columns — and then converts every batch the same way.

CSV text is read by pyarrow (``pyarrow.csv.open_csv``: every column as text, an empty field
missing, leading spaces after the delimiter skipped), as pandas reads it for the in-memory
backend; Parquet by a ``pyarrow.dataset`` scan with the columns projected. Memory is bounded by
the batch, not the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audit.data import detect_format, sniff_csv
from audit.data.csv_reader import _PLAIN_INT, _PLAIN_NUMBER, _arrow_text, _to_number, convert
from audit.errors import InputError

INT, FLOAT, TEXT = "int", "float", "text"


@dataclass(frozen=True)
class DataSource:
    """A dataset file read in batches of about ``batch_rows`` rows."""

    path: Path
    display: str
    columns: tuple[str, ...] | None  # None: every column
    dtypes: Mapping[str, str] = field(default_factory=dict)
    batch_rows: int = 250_000

    @property
    def format(self) -> str:
        return detect_format(self.path)

    def available(self) -> list[str]:
        if self.format == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(self.path).names)
        return list(_csv_header(self.path))

    def wanted(self) -> list[str]:
        names = self.available()
        return [c for c in self.columns if c in names] if self.columns else names

    def rows_hint(self) -> int | None:
        """The row count when the file states it (Parquet metadata), else None."""
        if self.format != "parquet":
            return None
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(self.path).metadata.num_rows)

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """The dataset's rows in order, as pandas batches typed as the whole file would be."""
        wanted = list(columns) if columns is not None else self.wanted()
        try:
            if self.format == "parquet":
                yield from self._parquet(wanted)
            else:
                yield from self._csv(wanted)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyarrow's ArrowException family and OSError
            raise InputError(
                f"dataset {self.display} cannot be read: {' '.join(str(exc).split())[:500]}",
                hint="check that the file is a complete, well-formed CSV (with a header row) or "
                "Parquet file",
            ) from None

    # -- Parquet -------------------------------------------------------------------------

    def _parquet(self, wanted: list[str]) -> Iterator[pd.DataFrame]:
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        from audit.data import _refuse_nested

        schema = pq.read_schema(self.path)
        _refuse_nested(schema, wanted, self.path)
        nullable_ints = _parquet_nullable_ints(self.path, schema, wanted)
        dataset = ds.dataset(str(self.path), format="parquet")
        # read ahead one batch, not pyarrow's default 16 (which would hold 16 batches at once),
        # and without pre-buffering whole column chunks: measured on a 100M-row file, the
        # defaults held 6 GiB and pre-buffering alone grew the resident set batch by batch
        batches = dataset.to_batches(
            columns=wanted,
            batch_size=self.batch_rows,
            batch_readahead=1,
            fragment_readahead=1,
            fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False),
        )
        done = 0
        for batch in batches:
            if batch.num_rows == 0:
                continue
            frame = batch.to_pandas()
            # indexed by position in the file, so that messages name the file's data rows
            frame.index = pd.RangeIndex(done, done + len(frame))
            done += len(frame)
            for name in nullable_ints:
                frame[name] = frame[name].astype(np.float64)
            yield convert(frame, self.dtypes, source=self.display) if self.dtypes else frame

    # -- CSV ------------------------------------------------------------------------------

    def _csv(self, wanted: list[str]) -> Iterator[pd.DataFrame]:
        kinds = self.csv_kinds(wanted)
        done = 0
        for table in self._csv_text(wanted):
            yield self._typed(table, kinds, done)
            done += table.num_rows  # type: ignore[attr-defined]

    def _csv_text(self, wanted: list[str]) -> Iterator[object]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        dialect = sniff_csv(self.path)
        header = _csv_header(self.path)
        row_bytes = max(16, _row_bytes(self.path))
        block = int(min(max(row_bytes * self.batch_rows, 1 << 20), 1 << 30))
        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(
                column_names=header,
                skip_rows=1,
                encoding="utf8" if dialect.encoding in ("utf-8", "utf-8-sig") else dialect.encoding,
                block_size=block,
                use_threads=True,
            ),
            parse_options=pacsv.ParseOptions(delimiter=dialect.delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                include_columns=wanted,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        for block in reader:
            for start in range(0, block.num_rows, self.batch_rows):
                yield _text_batch(block.slice(start, self.batch_rows))

    def csv_kinds(self, wanted: list[str]) -> dict[str, tuple[str, bool]]:
        """Each column's type as the whole file decides it, and whether any value is missing."""
        import pyarrow.compute as pc

        state = {c: [True, True, False, False] for c in wanted}  # int, number, missing, present
        for table in self._csv_text(wanted):
            for name in wanted:
                column = table.column(name)  # type: ignore[attr-defined]
                s = state[name]
                nulls = column.null_count
                s[2] |= nulls > 0
                if nulls == len(column):
                    continue
                s[3] = True
                if s[0]:
                    s[0] = bool(
                        pc.all(pc.match_substring_regex(column, _PLAIN_INT.pattern)).as_py()
                    )
                if s[1] and not s[0]:
                    s[1] = bool(
                        pc.all(pc.match_substring_regex(column, _PLAIN_NUMBER.pattern)).as_py()
                    )
        kinds = {}
        for name, (is_int, is_number, missing, present) in state.items():
            kind = TEXT
            if present and is_int:
                kind = FLOAT if missing else INT
            elif present and is_number:
                kind = FLOAT
            kinds[name] = (kind, missing)
        return kinds

    def _typed(
        self, table: object, kinds: dict[str, tuple[str, bool]], first_row: int
    ) -> pd.DataFrame:
        text = table.to_pandas()  # type: ignore[attr-defined]  # text as pandas reads it
        text.index = pd.RangeIndex(first_row, first_row + len(text))  # data rows of the file
        return typed_frame(text, kinds, self.dtypes, self.display)


def typed_frame(
    text: pd.DataFrame,
    kinds: Mapping[str, tuple[str, bool]],
    dtypes: Mapping[str, str],
    display: str,
) -> pd.DataFrame:
    """A batch of CSV text typed as the whole file is (``kinds`` from DataSource.csv_kinds)."""
    declared = {c: t for c, t in dtypes.items() if c in text.columns}
    frame = convert(text, declared, source=display) if declared else text.copy()
    for name in text.columns:
        kind, missing = kinds[name]
        dtype = declared.get(name)
        if dtype is None and kind != TEXT:
            frame[name] = _numbers(text[name], integer=kind == INT)
        elif dtype == "integer" and missing:
            frame[name] = frame[name].astype(np.float64)
    return frame


def _numbers(values: pd.Series, *, integer: bool) -> pd.Series:
    """``pd.to_numeric(values)`` as int64 (an INT column, never missing) or float64, parsed by
    pyarrow where that gives the same bits (:func:`audit.data.csv_reader._to_number`)."""
    arrow = _arrow_text(values)
    if arrow is None:
        return pd.to_numeric(values).astype(np.int64 if integer else np.float64)
    return _to_number(values, arrow, integer=integer)


def _text_batch(batch: object) -> object:
    """A CSV record batch as a table of text, leading spaces skipped and an empty field missing
    (pandas' ``skipinitialspace=True, na_values=[""]``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = []
    for array in batch.columns:  # type: ignore[attr-defined]
        trimmed = pc.utf8_ltrim(array, characters=" ")
        arrays.append(pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed))
    return pa.table(arrays, names=batch.schema.names)  # type: ignore[attr-defined]


def _csv_header(path: Path) -> list[str]:
    import csv

    dialect = sniff_csv(path)
    with path.open("r", encoding=dialect.encoding, newline="") as fh:
        row = next(csv.reader(fh, delimiter=dialect.delimiter, skipinitialspace=True), [])
    return [c for c in row]


def _row_bytes(path: Path) -> int:
    """Bytes per line in the file's first 64 KiB (sizes the CSV reader's blocks)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    return len(head) // max(1, head.count(b"\n"))


def _parquet_nullable_ints(path: Path, schema: object, wanted: list[str]) -> list[str]:
    """Integer columns with a null anywhere in the file (read as floats in every batch, as a
    whole-file read would); the metadata's null counts, else a read of that column alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert isinstance(schema, pa.Schema)
    ints = [c for c in wanted if pa.types.is_integer(schema.field(c).type)]
    if not ints:
        return []
    meta = pq.ParquetFile(path).metadata
    index = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
    out = []
    for name in ints:
        nulls = 0
        known = True
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(index[name]).statistics
            if stats is None or not stats.has_null_count:
                known = False
                break
            nulls += stats.null_count
        if not known:
            nulls = pq.read_table(path, columns=[name]).column(name).null_count
        if nulls:
            out.append(name)
    return out
