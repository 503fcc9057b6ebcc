"""The explanation population: every row up to a limit, else a seeded uniform sample of them.

Explanations (SHAP on a seeded sample, proxies, stability) need rows, not counts. They run on
the *population*: every row when the dataset has at most ``limit`` rows (so a small audit
explains exactly as before), else ``limit`` rows drawn uniformly without replacement.

The draw must not depend on how the rows were partitioned, and a partition must not need to
know the row count. Each row gets a key, a 64-bit hash (splitmix64) of its position in the
dataset and the seed; the sample is the ``limit`` rows with the smallest keys (a bottom-k
sketch). Each partition keeps its own bottom ``limit``; merging keeps the bottom ``limit`` of
the union, so the result is the same for every partitioning and merge order. Rows named in
``explain.rows`` are *forced*: always kept, beside the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_keys(positions: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64(position + seed * golden ratio): a uniform 64-bit key per row."""
    with np.errstate(over="ignore"):
        z = positions.astype(np.uint64) + np.uint64(seed) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@dataclass(frozen=True, eq=False)
class Sample:
    """Rows kept so far: their positions in the dataset, keys, and whether they are forced."""

    limit: int | None  # None: keep every row
    positions: np.ndarray
    keys: np.ndarray
    forced: np.ndarray
    frame: pd.DataFrame
    seen: int  # rows offered, kept or not

    @classmethod
    def draw(
        cls,
        frame: pd.DataFrame,
        first_row: int,
        *,
        seed: int,
        limit: int | None,
        forced: np.ndarray | None = None,
        below: int | None = None,
    ) -> Sample:
        """``below``: keep only rows whose key is under it (besides forced rows), a bound the
        Dask backend sets from the row count so that partitions send back about ``limit`` rows
        in all, not ``limit`` each (see :func:`key_bound`)."""
        positions = np.arange(first_row, first_row + len(frame), dtype=np.int64)
        forced = np.zeros(len(frame), bool) if forced is None else np.asarray(forced, bool)
        keys = row_keys(positions, seed)
        seen = len(frame)
        frame = frame.reset_index(drop=True)
        if below is not None:
            keep = np.flatnonzero(forced | (keys < np.uint64(below)))
            positions, keys, forced = positions[keep], keys[keep], forced[keep]
            frame = frame.iloc[keep].reset_index(drop=True)
        return cls(limit, positions, keys, forced, frame, seen)._trimmed()

    def merge(self, *others: Sample) -> Sample:
        parts = [self, *others]
        return Sample(
            self.limit,
            np.concatenate([p.positions for p in parts]),
            np.concatenate([p.keys for p in parts]),
            np.concatenate([p.forced for p in parts]),
            pd.concat([p.frame for p in parts], ignore_index=True),
            sum(p.seen for p in parts),
        )._trimmed()

    def _trimmed(self) -> Sample:
        free = np.flatnonzero(~self.forced)
        if self.limit is None or free.size <= self.limit:
            return self
        smallest = free[np.argpartition(self.keys[free], self.limit - 1)[: self.limit]]
        keep = np.sort(np.concatenate([np.flatnonzero(self.forced), smallest]))
        return Sample(
            self.limit,
            self.positions[keep],
            self.keys[keep],
            self.forced[keep],
            self.frame.iloc[keep].reset_index(drop=True),
            self.seen,
        )

    @property
    def free(self) -> int:
        """Rows kept by key (not forced)."""
        return int((~self.forced).sum())

    @property
    def complete(self) -> bool:
        """True when every row offered was kept (the population is the whole dataset)."""
        return len(self.positions) == self.seen

    def population(self) -> pd.DataFrame:
        """The kept rows in dataset order, indexed by their position in the dataset."""
        order = np.argsort(self.positions, kind="stable")
        frame = self.frame.iloc[order]
        frame.index = pd.Index(self.positions[order])
        return frame


def key_bound(limit: int | None, total: int) -> int | None:
    """A key below which, with overwhelming probability, at least ``limit`` of ``total``
    uniform keys fall (the mean plus 8 standard deviations, plus 64); None when every row is
    kept anyway. A caller that finds fewer than ``limit`` keys under it must draw again without
    the bound (the result is then the same: the bottom ``limit`` keys)."""
    if limit is None or total <= limit:
        return None
    share = (limit + 8 * limit**0.5 + 64) / total
    return None if share >= 1 else int(share * 2.0**64)
