"""Sufficient statistics of one partition of an audit, and their associative merge.

Every number of the report's fairness, performance and data-profile sections is a function of:

- ``cells``: rows per *joint cell* — one combination of every sensitive feature's value (a
  missing value is part of the combination), crossed with the confusion cell
  ``2 * y_true + y_pred`` and with "has a missing value in a column the audit uses" —
  so every single feature's groups and every intersection are sums of joint cells;
- ``scores``: one exact :class:`~audit.fairness.counters.ScoreCounter` per joint key;
- ``label_values`` / ``decision_values``: the distinct label and decision values (for the checks
  that only the whole dataset can answer, e.g. "the positive label never occurs");
- the explanation sample (:mod:`audit.engine.sample`) and the drift statistics
  (:mod:`audit.drift.stream`).

Each is a count or a set, so two partitions' statistics merge by addition and union: exactly,
in any grouping and order. Statistics never hold a row of the data except the explanation
sample, whose size is bounded by the spec (``explain.population``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from audit.fairness.counters import MAX_DISTINCT, ScoreCounter, counters_by_code, merge
from audit.fairness.counts import CODE_DTYPE, _dense_codes, group_codes

Key = tuple[str | None, ...]
#: Distinct label (or decision) values remembered: a binary audit needs two, three prove a problem.
_MAX_VALUES = 3


@dataclass(frozen=True, eq=False)
class Stats:
    """Sufficient statistics of some rows (see the module docstring)."""

    rows: int
    keys: tuple[Key, ...]
    cells: np.ndarray  # int64 (len(keys), 8): 4 * missing + 2 * y_true + y_pred
    scores: tuple[ScoreCounter, ...] | None = None
    labelled: bool = False
    label_values: frozenset[str] = frozenset()
    decision_values: frozenset[str] = frozenset()
    sample: Any = None  # audit.engine.sample.Sample
    drift: Any = None  # audit.drift.stream.CurrentDriftStats
    timings: Any = None  # audit.engine.partition.Timings: seconds per step, summed
    #: the model's decisions, kept for a later pass (``explain.rows: adverse``)
    decisions: Any = None  # audit.engine.decisions.Decisions
    #: the statistics of the audit's task and extensions, by name (audit.engine.tasks): each a
    #: value with an exact, associative ``merge`` (counts keyed by joint key, not by position)
    parts: dict[str, Any] | None = None

    @property
    def distinct_scores(self) -> int:
        return 0 if self.scores is None else sum(c.size for c in self.scores)

    @property
    def rounded(self) -> bool:
        return self.scores is not None and any(c.rounded for c in self.scores)

    def merge(self, other: Stats) -> Stats:
        return merge_stats([self, other])


def summarise_arrays(
    sensitive: pd.DataFrame,
    y_pred: np.ndarray,
    *,
    y_true: np.ndarray | None = None,
    scores: np.ndarray | None = None,
    missing: np.ndarray | None = None,
    label_values: Iterable[str] = (),
    decision_values: Iterable[str] = (),
) -> Stats:
    """The statistics of one partition whose decisions are known.

    ``sensitive`` holds one column per sensitive feature; ``y_pred`` and ``y_true`` are booleans
    (True = favourable); ``scores`` finite floats; ``missing`` marks rows with a missing value in
    a used column. Rows are never looped over in Python: one ``np.bincount`` counts the cells and
    one sort by (joint key, score) builds the score counters.
    """
    n = len(sensitive)
    joint, keys = joint_codes(sensitive)
    cell = y_pred.astype(np.int64)
    if y_true is not None:
        cell += 2 * y_true.astype(np.int64)
    if missing is not None:
        cell += 4 * missing.astype(np.int64)
    cells = np.bincount(joint * 8 + cell, minlength=len(keys) * 8).reshape(len(keys), 8)
    counters = None
    if scores is not None:
        counters = tuple(counters_by_code(scores, cell & 3, joint, len(keys)))
    stats = Stats(
        rows=n,
        keys=keys,
        cells=cells.astype(np.int64),
        scores=counters,
        labelled=y_true is not None,
        label_values=frozenset(list(label_values)[:_MAX_VALUES]),
        decision_values=frozenset(list(decision_values)[:_MAX_VALUES]),
    )
    return _bounded(stats)


def joint_codes(sensitive: pd.DataFrame) -> tuple[np.ndarray, tuple[Key, ...]]:
    """Each row's joint key code and the keys (tuples of group labels, None = missing)."""
    n = len(sensitive)
    combined = np.zeros(n, dtype=np.int64)
    parts: list[tuple[str, ...]] = []
    for i in range(sensitive.shape[1]):
        codes, labels = group_codes(sensitive.iloc[:, i])
        combined *= len(labels) + 1
        combined += codes.astype(np.int64) + 1  # 0 = missing
        parts.append(labels)
    size = 1
    for labels in parts:
        size *= len(labels) + 1
    present, joint = _dense_codes(combined, size)
    keys = []
    for value in present:
        key: list[str | None] = []
        for labels in reversed(parts):
            code = value % (len(labels) + 1)
            value //= len(labels) + 1
            key.append(None if code == 0 else labels[code - 1])
        keys.append(tuple(reversed(key)))
    return joint.astype(CODE_DTYPE).ravel(), tuple(keys)


def merge_stats(parts: Sequence[Stats]) -> Stats:
    """The statistics of the union of the parts' rows (disjoint rows; any order and grouping)."""
    if len(parts) == 1:
        return parts[0]
    index: dict[Key, int] = {}
    for part in parts:
        for key in part.keys:
            index.setdefault(key, len(index))
    keys = tuple(sorted(index, key=_sort_key))
    order = {key: i for i, key in enumerate(keys)}
    cells = np.zeros((len(keys), 8), np.int64)
    scored = [p for p in parts if p.scores is not None]
    by_key: list[list[ScoreCounter]] = [[] for _ in keys]
    for part in parts:
        rows = np.fromiter((order[k] for k in part.keys), dtype=np.intp, count=len(part.keys))
        np.add.at(cells, rows, part.cells)
        if part.scores is not None:
            for i, counter in zip(rows.tolist(), part.scores, strict=True):
                by_key[i].append(counter)
    scores = tuple(merge(c) for c in by_key) if scored else None
    samples = [p.sample for p in parts if p.sample is not None]
    drifts = [p.drift for p in parts if p.drift is not None]
    merged = Stats(
        rows=sum(p.rows for p in parts),
        keys=keys,
        cells=cells,
        scores=scores,
        labelled=parts[0].labelled,
        label_values=_union(p.label_values for p in parts),
        decision_values=_union(p.decision_values for p in parts),
        sample=samples[0].merge(*samples[1:]) if samples else None,
        drift=_merge_all(drifts),
        timings=_merge_all([p.timings for p in parts if p.timings is not None]),
        decisions=_merge_all([p.decisions for p in parts if p.decisions is not None]),
        parts=_merge_parts([p.parts for p in parts if p.parts]),
    )
    return _bounded(merged)


def _merge_all(parts: list[Any]) -> Any:
    """Merge values that have a ``merge`` method (drift counts, timings); None if none."""
    if not parts:
        return None
    out = parts[0]
    for other in parts[1:]:
        out = out.merge(other)
    return out


def _merge_parts(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Merge the task's and extensions' statistics name by name (None if there are none)."""
    if not parts:
        return None
    names = sorted({name for part in parts for name in part})
    return {name: _merge_all([part[name] for part in parts if name in part]) for name in names}


def _sort_key(key: Key) -> tuple[tuple[int, str], ...]:
    return tuple((0, "") if part is None else (1, part) for part in key)


def _union(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    out: set[str] = set()
    for s in sets:
        out |= s
    return frozenset(sorted(out)[:_MAX_VALUES])


def _bounded(stats: Stats) -> Stats:
    """Round every score counter once any is rounded or they hold more than MAX_DISTINCT
    scores (rounding is a function of the score, so it commutes with merging)."""
    if stats.scores is None or (not stats.rounded and stats.distinct_scores <= MAX_DISTINCT):
        return stats
    return replace(stats, scores=tuple(c.rounded_to_grid() for c in stats.scores))
