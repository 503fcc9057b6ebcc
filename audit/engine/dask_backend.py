"""The Dask backend: partitions read by Dask on its workers, statistics merged on the client.

``scheduler`` is a Dask scheduler address (``tcp://host:8786``); without one a
``distributed.LocalCluster`` of ``workers`` processes is started for the audit and closed after
it. The plan (model included) is scattered to the workers once; each partition is read there
(``dask.dataframe.read_parquet`` / ``read_csv``, columns projected), typed as the whole file would
be (:mod:`audit.engine.sources`), validated and summarised, and only the small statistics travel
back. Partition row offsets (for row numbers and the seeded explanation sample) come from a first,
cheap pass that counts each partition's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from audit.engine.partition import Plan
from audit.engine.sources import DataSource
from audit.engine.stats import Stats, merge_stats
from audit.errors import InputError


def _dask() -> tuple[Any, Any]:
    try:
        import dask.dataframe as dd
        import distributed
    except ImportError:
        raise InputError(
            "the dask engine needs Dask: pip install 'audit[dask]' (dask[dataframe] and distributed)",
            hint="or run with --engine stream, which needs nothing more",
        ) from None
    return dd, distributed


@contextmanager
def client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A Dask client of ``scheduler``, or of a LocalCluster started (and closed) here."""
    _, distributed = _dask()
    import dask

    settings = {
        "distributed.worker.daemon": False,
        "logging.distributed": "error",
        "dataframe.convert-string": False,  # plain object strings, as the other backends read
    }
    with dask.config.set(settings):
        if scheduler:
            try:
                c = distributed.Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"the Dask scheduler {scheduler} cannot be reached: {exc}",
                    hint="check the address (tcp://host:8786) and that the scheduler runs",
                ) from None
            try:
                yield c
            finally:
                c.close()
            return
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        c = distributed.Client(cluster)
        try:
            yield c
        finally:
            c.close()
            cluster.close()


def _read(source: DataSource, columns: list[str]) -> Any:
    """The dataset as a Dask frame: Parquet by row groups, CSV by byte blocks, read by pandas
    with the options of the in-memory reader (every column as text; typed on the workers)."""
    dd, _ = _dask()
    if source.format == "parquet":
        return dd.read_parquet(str(source.path), columns=columns, split_row_groups=True)
    from audit.data import sniff_csv

    dialect = sniff_csv(source.path)
    return dd.read_csv(
        str(source.path),
        sep=dialect.delimiter,
        encoding=dialect.encoding,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        skipinitialspace=True,
        usecols=columns,
        blocksize=max(1 << 16, min(source.path.stat().st_size // 4 + 1, 64 << 20)),
    )


def _summarise(
    part: pd.DataFrame,
    plan: Plan,
    first_row: int,
    ints: list[str],
    dtypes: dict[str, str],
    kinds: dict[str, tuple[str, bool]] | None,
) -> Stats:
    """On a worker: type the partition as a whole-file read would, then summarise it."""
    from audit.data.csv_reader import convert
    from audit.engine.sources import typed_frame

    part = part.reset_index(drop=True)
    if kinds is not None:  # CSV text
        part = typed_frame(part, kinds, dtypes, plan.source)
    else:
        for name in ints:
            part[name] = part[name].astype("float64")
        if dtypes:
            part = convert(part, dtypes, source=plan.source)
    return plan.summarise(part, first_row)


def run_dask(
    plan: Plan,
    source: DataSource,
    *,
    scheduler: str | None,
    workers: int,
    progress: Any = None,
) -> Stats:
    """Summarise every partition on the cluster and merge on the client."""
    import pyarrow.parquet as pq

    from audit.engine.sources import _parquet_nullable_ints

    wanted = source.wanted()
    frame = _read(source, wanted)
    parquet = source.format == "parquet"
    ints = (
        _parquet_nullable_ints(source.path, pq.read_schema(source.path), wanted) if parquet else []
    )
    kinds = None if parquet else source.csv_kinds(wanted)
    total = source.rows_hint()
    with client(scheduler, workers) as c:
        lengths = c.compute(frame.map_partitions(len)).result().tolist()
        offsets = [sum(lengths[:i]) for i in range(len(lengths))]
        if plan.needs_median:
            from audit.engine import _median_pass

            plan = plan.with_median(_median_pass(plan, source))
        shipped = c.scatter(plan, broadcast=True)
        parts = frame.to_delayed()
        futures = [
            c.submit(
                _summarise, part, shipped, offset, ints, dict(source.dtypes), kinds, pure=False
            )
            for part, offset in zip(c.compute(parts), offsets, strict=True)
        ]
        from distributed import as_completed

        done = 0
        results: dict[int, Stats] = {}
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            stats = future.result()
            results[index[future.key]] = stats
            done += stats.rows
            if progress is not None:
                progress(done, total)
    merged = merge_stats([results[i] for i in sorted(results)]) if results else None
    if merged is None:
        raise InputError(f"dataset {source.display} has no rows", hint="check the dataset")
    plan.check(merged)
    return merged
