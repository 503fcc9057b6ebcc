"""Exact score counters: the sufficient statistic of scores for every per-group score metric.

A :class:`ScoreCounter` holds the sorted distinct scores of some rows and, for each, how many
rows of each confusion cell (``tn, fp, fn, tp``: ``2 * y_true + y_pred``) have that score.
The median, the rows above it per cell, the mean score, the Mann-Whitney AUC (ties counting
1/2), the calibration table and the bootstrap of all of them are functions of these counts, and
two counters of disjoint rows merge by adding counts at equal scores. A merge is exact,
associative and commutative, so the result does not depend on how the rows were partitioned or
in which order the parts were merged: an audit streamed in batches or run on a Dask cluster
computes the same numbers as one that held every row.

Size: one entry per distinct score. A model whose scores are nearly all distinct gives about one
entry per row; past :data:`MAX_DISTINCT` distinct scores in an audit, scores are rounded to
multiples of :data:`RESOLUTION` (2**-16, about 1.5e-5), which bounds a probability's counter at
65,537 entries whatever the row count. Rounding is a function of the score alone, so it
commutes with merging: the result is still the same for every partitioning (rounded iff the whole
audit has more distinct scores than the limit). The report states the resolution used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

#: Distinct scores kept exactly; beyond this, scores are rounded to RESOLUTION.
MAX_DISTINCT = 2_000_000
#: Score resolution once rounding applies.
RESOLUTION = 2.0**-16


@dataclass(frozen=True, eq=False)
class ScoreCounter:
    """Sorted distinct ``values`` and ``counts[i, cell]`` rows per confusion cell."""

    values: np.ndarray  # float64, sorted, unique
    counts: np.ndarray  # int64, shape (len(values), 4)
    rounded: bool = False

    @classmethod
    def empty(cls) -> ScoreCounter:
        return cls(np.empty(0, np.float64), np.zeros((0, 4), np.int64))

    @property
    def size(self) -> int:
        return int(self.values.size)

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    def neg_pos(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows per distinct score with a negative and a positive label."""
        return self.counts[:, 0] + self.counts[:, 1], self.counts[:, 2] + self.counts[:, 3]

    def total(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    def rounded_to_grid(self) -> ScoreCounter:
        if self.rounded:
            return self
        return _collapse(round_scores(self.values), self.counts, rounded=True)

    def above(self, threshold: float) -> np.ndarray:
        """Rows per cell scoring strictly above ``threshold``."""
        start = int(np.searchsorted(self.values, threshold, side="right"))
        return self.counts[start:].sum(axis=0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScoreCounter):
            return NotImplemented
        return (
            self.rounded == other.rounded
            and np.array_equal(self.values, other.values)
            and np.array_equal(self.counts, other.counts)
        )

    __hash__ = None  # type: ignore[assignment]


def round_scores(values: np.ndarray) -> np.ndarray:
    """Scores rounded to the nearest multiple of RESOLUTION (halves up): a pure function."""
    return np.floor(values / RESOLUTION + 0.5) * RESOLUTION


def _collapse(values: np.ndarray, counts: np.ndarray, *, rounded: bool) -> ScoreCounter:
    """Add up the counts of equal values (values need not be sorted)."""
    if values.size == 0:
        return ScoreCounter(values.astype(np.float64), counts.reshape(0, 4), rounded)
    unique, inverse = np.unique(values, return_inverse=True)
    if unique.size == values.size and np.all(unique == values):
        return ScoreCounter(unique, counts, rounded)
    summed = np.zeros((unique.size, 4), np.int64)
    np.add.at(summed, inverse.ravel(), counts)
    return ScoreCounter(unique, summed, rounded)


def counters_by_code(
    scores: np.ndarray, cells: np.ndarray, codes: np.ndarray, n_codes: int
) -> list[ScoreCounter]:
    """One counter per code in ``[0, n_codes)`` from rows (score, cell 0-3, code); code -1 rows
    are left out. No Python loop over rows: the rows are put in (code, cell) order by a stable
    radix sort of that small key, each slice's scores are counted by ``np.unique`` (numpy's
    vectorised sort), and each code's four cell counters are then combined."""
    known = codes >= 0
    slot = codes[known].astype(np.int64) * 4 + cells[known].astype(np.int64)
    values = scores[known]
    n_slots = n_codes * 4
    key_type = np.int16 if n_slots < 2**15 else np.int64  # int16: numpy sorts it by radix
    order = np.argsort(slot.astype(key_type), kind="stable")
    bounds = np.searchsorted(slot[order], np.arange(n_slots + 1))
    sorted_values = values[order]
    out = []
    for code in range(n_codes):
        parts_values, parts_counts = [], []
        for cell in range(4):
            s = code * 4 + cell
            chunk = sorted_values[bounds[s] : bounds[s + 1]]
            if chunk.size == 0:
                continue
            unique, counts = np.unique(chunk, return_counts=True)
            block = np.zeros((unique.size, 4), np.int64)
            block[:, cell] = counts
            parts_values.append(unique)
            parts_counts.append(block)
        if not parts_values:
            out.append(ScoreCounter.empty())
        elif len(parts_values) == 1:
            out.append(ScoreCounter(parts_values[0], parts_counts[0]))
        else:
            out.append(
                _collapse(np.concatenate(parts_values), np.concatenate(parts_counts), rounded=False)
            )
    return out


def merge(counters: Iterable[ScoreCounter]) -> ScoreCounter:
    """The counter of the union of disjoint rows (rounded if any part is)."""
    parts = [c for c in counters]
    if not parts:
        return ScoreCounter.empty()
    rounded = any(p.rounded for p in parts)
    if rounded:
        parts = [p.rounded_to_grid() for p in parts]
    parts = [p for p in parts if p.size]
    if not parts:
        return ScoreCounter(np.empty(0, np.float64), np.zeros((0, 4), np.int64), rounded)
    if len(parts) == 1:
        return ScoreCounter(parts[0].values, parts[0].counts, rounded)
    return _collapse(
        np.concatenate([p.values for p in parts]),
        np.concatenate([p.counts for p in parts]),
        rounded=rounded,
    )


def median(counter: ScoreCounter) -> float:
    """``np.median`` of the rows the counter holds (the mean of the two middle scores for an
    even row count), computed from the counts."""
    total = counter.total()
    n = int(total.sum())
    if n == 0:
        return float("nan")
    cumulative = np.cumsum(total)
    lower = counter.values[int(np.searchsorted(cumulative, (n - 1) // 2 + 1))]
    upper = counter.values[int(np.searchsorted(cumulative, n // 2 + 1))]
    return float(lower) if n % 2 else float(np.mean([lower, upper]))


def auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """Mann-Whitney AUC of counts over sorted distinct scores, ties counting 1/2 (NaN with one
    class only). Every term is a half-integer, so the sum is exact below 2**53 pairs."""
    n_neg, n_pos = int(neg.sum()), int(pos.sum())
    if n_neg == 0 or n_pos == 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    wins = float(np.sum(pos * (below + 0.5 * neg)))
    return wins / (n_pos * n_neg)
