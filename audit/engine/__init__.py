"""The audit engine: one pass over partitions that yield mergeable sufficient statistics.

Backends differ only in where partitions come from and where :meth:`Plan.summarise` runs:

- ``memory``: the whole dataset read into pandas (today's reader and its exact validation
  messages), one partition;
- ``stream``: record batches of a pyarrow scan of the Parquet or CSV file
  (:mod:`audit.engine.sources`), columns projected; memory bounded by the batch size;
- ``dask``: Dask partitions on a cluster (:mod:`audit.engine.dask_backend`); the plan, model
  included, is shipped to the workers once and the statistics are merged on the client.

``auto`` picks ``stream`` for files over :data:`AUTO_STREAM_BYTES`, else ``memory``. The
statistics are exact counts (:mod:`audit.engine.stats`), so every backend yields the same
merged statistics and therefore the same report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from audit.engine.partition import Plan, Timings, model_decisions
from audit.engine.sources import DataSource
from audit.engine.stats import Stats, merge_stats
from audit.fairness.counters import ScoreCounter, median, merge

#: ``engine: auto`` streams files larger than this (the in-memory reader needs several times
#: the file's size in memory).
AUTO_STREAM_BYTES = 512 * 1024**2

ENGINES = ("auto", "memory", "stream", "dask")

#: told the rows done so far and the total when known
Progress = Callable[[int, int | None], None]


def choose(backend: str, source: DataSource) -> str:
    """The backend ``auto`` stands for with this file (any other name is itself)."""
    if backend != "auto":
        return backend
    return "stream" if source.path.stat().st_size > AUTO_STREAM_BYTES else "memory"


def summarise(
    plan: Plan,
    backend: str,
    settings: Any,
    source: DataSource,
    frame: pd.DataFrame | None,
    progress: Progress | None = None,
) -> Stats:
    """The audit's pass on ``backend`` (``settings``: the spec's ``engine``; ``frame``: the
    in-memory reader's frame, for ``memory``)."""
    if backend == "memory":
        assert frame is not None
        return run_memory(plan, frame, progress)
    if backend == "stream":
        return run_stream(plan, source, progress)
    from audit.engine.dask_backend import run_dask

    return run_dask(
        plan, source, scheduler=settings.scheduler, workers=settings.workers, progress=progress
    )


def run_reasons(
    plan: Plan,
    backend: str,
    settings: Any,
    source: DataSource,
    frame: pd.DataFrame | None,
    explanation: Any,
    spool: Any,
    progress: Any = None,
    decisions: Any = None,
) -> Any:
    """The reasons pass (:mod:`audit.engine.reasons`) on ``backend`` with the explained
    sample's ``row_explainer``; returns the :class:`~audit.explain.adverse.ReasonsTally`.
    ``decisions`` (:class:`~audit.engine.decisions.Decisions`, kept by the first pass) spare
    the model a second call on every row."""
    from audit.engine.reasons import reasons_memory, reasons_stream

    explainer = explanation.row_explainer
    if backend == "memory":
        assert frame is not None
        return reasons_memory(
            plan,
            frame,
            explainer,
            spool,
            batch_rows=settings.batch_rows,
            decisions=decisions,
            progress=progress,
        )
    if backend == "stream":
        return reasons_stream(
            plan, source, explainer, spool, decisions=decisions, progress=progress
        )
    from audit.engine.dask_backend import reasons_dask

    return reasons_dask(
        plan,
        source,
        explainer,
        spool,
        scheduler=settings.scheduler,
        workers=settings.workers,
        decisions=decisions,
        progress=progress,
    )


def run_memory(plan: Plan, frame: pd.DataFrame, progress: Progress | None = None) -> Stats:
    """One partition: the frame the in-memory reader read (already validated as a whole)."""
    if plan.needs_median:
        assert plan.requirements.scores is not None
        values = pd.to_numeric(frame[plan.requirements.scores], errors="coerce").to_numpy(float)
        plan = plan.with_median(float(np.median(values)))
    stats = plan.summarise(frame, 0, validated=True)
    if progress is not None:
        progress(len(frame), len(frame))
    return stats


def run_stream(plan: Plan, source: DataSource, progress: Progress | None = None) -> Stats:
    """Batch by batch; the running statistics are merged after each batch."""
    total = source.rows_hint()
    if plan.needs_median:
        plan = plan.with_median(_median_pass(plan, source))
    done = 0
    merger = Merger()
    for batch in source.batches():
        merger.add(plan.summarise(batch, done))
        done += len(batch)
        if progress is not None:
            progress(done, total)
    merged = merger.result() or plan.summarise(_empty(source), 0)
    plan.check(merged)
    return merged


class Merger:
    """Merges partitions' statistics as a binary counter counts (the merges of a merge sort):
    level i holds the merge of 2**i partitions, so each score counter is merged about
    log2(partitions) times instead of once per later partition. The explanation sample and the
    drift counts, whose merges cost the same at any size, are merged at once, so only one
    sample is ever held."""

    def __init__(self) -> None:
        self.levels: list[Stats | None] = []
        self.sample: Any = None
        self.drift: Any = None

    def add(self, stats: Stats) -> None:
        if stats.sample is not None:
            self.sample = stats.sample if self.sample is None else self.sample.merge(stats.sample)
        if stats.drift is not None:
            self.drift = stats.drift if self.drift is None else self.drift.merge(stats.drift)
        stats = replace(stats, sample=None, drift=None)
        for i, held in enumerate(self.levels):
            if held is None:
                self.levels[i] = stats
                return
            stats = merge_stats([held, stats])
            self.levels[i] = None
        self.levels.append(stats)

    def result(self) -> Stats | None:
        held = [s for s in reversed(self.levels) if s is not None]
        if not held:
            return None
        return replace(merge_stats(held), sample=self.sample, drift=self.drift)


def _median_pass(plan: Plan, source: DataSource) -> float:
    """The recorded scores' median (the LL144 scoring-rate cut), from a first pass."""
    column = plan.requirements.scores
    assert column is not None
    counters: list[ScoreCounter] = []
    for batch in source.batches([column]):
        values = pd.to_numeric(batch[column], errors="coerce").to_numpy(float)
        values = values[~np.isnan(values)]
        unique, counts = np.unique(values, return_counts=True)
        counters.append(
            ScoreCounter(unique, np.column_stack([counts, np.zeros((len(counts), 3), np.int64)]))
        )
        counters = [merge(counters)]
    return median(merge(counters))


def _empty(source: DataSource) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in source.wanted()})


__all__ = [
    "AUTO_STREAM_BYTES",
    "ENGINES",
    "DataSource",
    "Merger",
    "Plan",
    "Progress",
    "Stats",
    "Timings",
    "choose",
    "merge_stats",
    "model_decisions",
    "run_memory",
    "run_reasons",
    "run_stream",
    "summarise",
]
