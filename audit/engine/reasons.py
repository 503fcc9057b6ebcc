"""The reasons pass: reasons for every adverse decision, partition by partition.

With ``explain.rows: adverse`` the audit makes a second pass over the data once the explained
sample has fixed the explainer (:class:`audit.explain.adverse.AdverseExplainer`): each partition
is decided again by the model and its adverse rows explained (:meth:`Plan.reasons`, the same code
on every backend), and its reasons.csv lines are appended to a spool in row order, so memory is
bounded by the partition, not by the number of adverse decisions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from audit.engine.partition import Plan
from audit.engine.sources import DataSource
from audit.explain.adverse import ReasonsPart, ReasonsTally
from audit.explain.reasons import ReasonsSpool


class InOrder:
    """Writes partitions' reasons to the spool in partition order, whatever order they come in
    (Dask), holding only those that arrived early; the tallies are merged as they arrive."""

    def __init__(self, spool: ReasonsSpool, features: int) -> None:
        self.spool = spool
        self.tally = ReasonsTally.empty(features)
        self.next = 0
        self.waiting: dict[int, ReasonsPart] = {}

    def add(self, index: int, part: ReasonsPart) -> None:
        self.tally = self.tally.merge(part.tally)
        self.waiting[index] = part
        while self.next in self.waiting:
            ready = self.waiting.pop(self.next)
            self.spool.write(ready.text, ready.lines)
            self.next += 1


def _consume(
    parts: Iterable[tuple[int, ReasonsPart]],
    spool: ReasonsSpool,
    explainer: Any,
    progress: Any,
    total: int | None,
) -> ReasonsTally:
    writer = InOrder(spool, len(explainer.input_names))
    done = 0
    for index, part in parts:
        writer.add(index, part)
        done += part.tally.decisions
        if progress is not None:
            progress(done, total)
    spool.close()
    return writer.tally


def reasons_memory(
    plan: Plan,
    frame: pd.DataFrame,
    explainer: Any,
    spool: ReasonsSpool,
    *,
    batch_rows: int,
    decisions: Any = None,
    progress: Any = None,
) -> ReasonsTally:
    """The in-memory frame in slices of ``batch_rows`` rows (the explainer's working memory
    grows with the rows explained at once)."""
    parts = (
        (i, plan.reasons(frame.iloc[start : start + batch_rows], start, explainer, decisions))
        for i, start in enumerate(range(0, len(frame), batch_rows))
    )
    return _consume(parts, spool, explainer, progress, len(frame))


def reasons_stream(
    plan: Plan,
    source: DataSource,
    explainer: Any,
    spool: ReasonsSpool,
    *,
    decisions: Any = None,
    progress: Any = None,
) -> ReasonsTally:
    """The file's batches again, typed as in the first pass."""

    def parts() -> Iterable[tuple[int, ReasonsPart]]:
        done = 0
        for i, batch in enumerate(source.batches()):
            yield i, plan.reasons(batch, done, explainer, decisions)
            done += len(batch)

    return _consume(parts(), spool, explainer, progress, source.rows_hint())
