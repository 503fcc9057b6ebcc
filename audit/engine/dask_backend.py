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
from dataclasses import replace
from typing import Any

import pandas as pd

from audit.engine.partition import Plan
from audit.engine.sample import key_bound
from audit.engine.sources import DataSource
from audit.engine.stats import Stats
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
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise InputError(
                    f"the Dask scheduler {scheduler!r} (--scheduler / engine.scheduler) cannot "
                    f"be reached: {exc}",
                    hint="give an address such as tcp://host:8786, of a scheduler that runs",
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
    from audit.data.csv_reader import text_options

    return dd.read_csv(
        str(source.path),
        **text_options(sniff_csv(source.path)),
        usecols=columns,
        blocksize=max(1 << 16, min(source.path.stat().st_size // 4 + 1, 64 << 20)),
    )


def _typed(
    part: pd.DataFrame,
    plan: Plan,
    first_row: int,
    ints: list[str],
    dtypes: dict[str, str],
    kinds: dict[str, tuple[str, bool]] | None,
) -> pd.DataFrame:
    """On a worker: the partition typed as a whole-file read would type it."""
    from audit.data.csv_reader import convert
    from audit.engine.sources import typed_frame

    part.index = pd.RangeIndex(first_row, first_row + len(part))  # data rows of the file
    if kinds is not None:  # CSV text
        return typed_frame(part, kinds, dtypes, plan.source)
    for name in ints:
        part[name] = part[name].astype("float64")
    if dtypes:
        part = convert(part, dtypes, source=plan.source)
    return part


def _summarise(part: pd.DataFrame, plan: Plan, first_row: int, *args: Any) -> Stats:
    """On a worker: type the partition, then summarise it."""
    return plan.summarise(_typed(part, plan, first_row, *args), first_row)


def _reasons(
    part: pd.DataFrame,
    plan: Plan,
    explainer: Any,
    decisions: Any,
    index: int,
    first_row: int,
    *args: Any,
) -> tuple[int, Any]:
    """On a worker: type the partition, then give its adverse decisions their reasons."""
    typed = _typed(part, plan, first_row, *args)
    return index, plan.reasons(typed, first_row, explainer, decisions)


def _lengths(c: Any, frame: Any, source: DataSource) -> list[int]:
    """Rows per partition: from the Parquet metadata when partitions are its row groups, else
    counted on the workers (a pass that reads the partitions)."""
    if source.format == "parquet":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(source.path).metadata
        groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        if len(groups) == frame.npartitions:
            return groups
    return [int(n) for n in c.compute(frame.map_partitions(len)).result().tolist()]


def _pass(
    c: Any,
    frame: Any,
    plan: Plan,
    offsets: list[int],
    args: tuple[Any, ...],
    progress: Any,
    total: int,
) -> Stats | None:
    """One task per partition (read it, type it, summarise it, on a worker); the statistics
    are merged on the client as they arrive, so it never holds more than a few at once."""
    import dask
    from distributed import as_completed

    from audit.engine import Merger

    shipped = c.scatter(plan, broadcast=True)  # the plan and its model: sent once
    tasks = [
        dask.delayed(_summarise)(part, shipped, offset, *args)
        for part, offset in zip(frame.to_delayed(), offsets, strict=True)
    ]
    merger = Merger()
    done = 0
    for future in as_completed(c.compute(tasks)):
        stats = future.result()
        future.release()
        merger.add(stats)
        done += stats.rows
        if progress is not None:
            progress(done, total)
    return merger.result()


def _own(decisions: Any, first_row: int) -> Any:
    """The first pass's decisions of the partition starting at ``first_row`` (a task's share)."""
    if decisions is None:
        return None
    from audit.engine.decisions import Decisions

    own = tuple(p for p in decisions.parts if p[0] == first_row)
    return Decisions(own) if own else None


def _prepared(source: DataSource) -> tuple[Any, tuple[Any, ...]]:
    """The Dask frame of ``source`` and the typing arguments its partitions need."""
    import pyarrow.parquet as pq

    from audit.engine.sources import _parquet_nullable_ints

    wanted = source.wanted()
    frame = _read(source, wanted)
    parquet = source.format == "parquet"
    ints = (
        _parquet_nullable_ints(source.path, pq.read_schema(source.path), wanted) if parquet else []
    )
    kinds = None if parquet else source.csv_kinds(wanted)
    return frame, (ints, dict(source.dtypes), kinds)


def run_dask(
    plan: Plan,
    source: DataSource,
    *,
    scheduler: str | None,
    workers: int,
    progress: Any = None,
) -> Stats:
    """Summarise every partition on the cluster and merge on the client."""
    frame, args = _prepared(source)
    with client(scheduler, workers) as c:
        lengths = _lengths(c, frame, source)
        offsets = [sum(lengths[:i]) for i in range(len(lengths))]
        if plan.needs_median:
            from audit.engine import _median_pass

            plan = plan.with_median(_median_pass(plan, source))
        rows = sum(lengths)
        bounded = replace(plan, sample_below=key_bound(plan.population, rows))
        merged = _pass(c, frame, bounded, offsets, args, progress, rows)
        if (
            merged is not None
            and merged.sample is not None
            and bounded.sample_below is not None
            and merged.sample.free < (plan.population or 0)
        ):  # fewer rows under the bound than the sample needs (improbable): draw again
            merged = _pass(c, frame, plan, offsets, args, progress, rows)
    if merged is None:
        raise InputError(f"dataset {source.display} has no rows", hint="check the dataset")
    plan.check(merged)
    return merged


def reasons_dask(
    plan: Plan,
    source: DataSource,
    explainer: Any,
    spool: Any,
    *,
    scheduler: str | None,
    workers: int,
    decisions: Any = None,
    progress: Any = None,
) -> Any:
    """The reasons pass on the cluster: one task per partition (read, type, decide, explain its
    adverse rows, as the first pass decided them: ``decisions``); the plan and the explainer are
    sent once; the reasons are written on the
    client in partition order as they arrive (:class:`audit.engine.reasons.InOrder`)."""
    import dask
    from distributed import as_completed

    from audit.engine.reasons import _consume

    frame, args = _prepared(source)
    with client(scheduler, workers) as c:
        lengths = _lengths(c, frame, source)
        offsets = [sum(lengths[:i]) for i in range(len(lengths))]
        shipped_plan = c.scatter(plan, broadcast=True)
        shipped = c.scatter(explainer, broadcast=True)
        tasks = [
            dask.delayed(_reasons)(
                part, shipped_plan, shipped, _own(decisions, offset), i, offset, *args
            )
            for i, (part, offset) in enumerate(zip(frame.to_delayed(), offsets, strict=True))
        ]

        def parts() -> Iterator[tuple[int, Any]]:
            for future in as_completed(c.compute(tasks)):
                index, part = future.result()
                future.release()
                yield index, part

        return _consume(parts(), spool, explainer, progress, sum(lengths))
