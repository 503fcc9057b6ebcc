"""The model's decisions from the audit's pass, kept for the reasons pass (bit-packed).

Deciding a row costs a model call, about as much as explaining a fifth of it; the reasons pass
(``explain.rows: adverse``) needs each row's decision again to find the adverse ones, so the
first pass keeps them: one bit per row (a million rows: 125 kB), per partition, merged by
concatenation. The reasons pass then calls the model on no row it has already decided.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Decisions:
    """Favourable (True) or adverse decisions of disjoint row ranges ``[first, first + rows)``."""

    parts: tuple[tuple[int, int, bytes], ...]  # (first_row, rows, np.packbits of the decisions)

    @classmethod
    def of(cls, first_row: int, favourable: np.ndarray) -> Decisions:
        bits = np.packbits(np.asarray(favourable, dtype=bool)).tobytes()
        return cls(((first_row, len(favourable), bits),))

    def merge(self, other: Decisions) -> Decisions:
        return Decisions(tuple(sorted(self.parts + other.parts)))

    @property
    def rows(self) -> int:
        return sum(n for _, n, _ in self.parts)

    def favourable(self, first_row: int, rows: int) -> np.ndarray:
        """The decisions of rows ``first_row`` .. ``first_row + rows - 1`` (within one part)."""
        i = bisect.bisect_right([p[0] for p in self.parts], first_row) - 1
        if i < 0:
            raise KeyError(first_row)
        start, n, bits = self.parts[i]
        if first_row + rows > start + n:
            raise KeyError((first_row, rows))
        packed = np.frombuffer(bits, dtype=np.uint8)
        return np.unpackbits(packed, count=n).astype(bool)[first_row - start :][:rows]
