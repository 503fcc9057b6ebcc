"""Confusion counts per group: the one pass over the rows that every fairness metric derives from.

A binary decision splits each row into one of four confusion cells::

    cell = 2 * y_true + y_pred      0 = tn, 1 = fp, 2 = fn, 3 = tp

Groups are turned into integer codes (``pd.factorize``), and a single ``np.bincount`` over
``(group_code + 1) * 4 + cell`` counts every (group, cell) pair at once; the extra leading
block (code -1 + 1 = 0) collects the rows whose group is unknown. No Python loop touches rows.

Counts, not rows, are what later work resamples (a multinomial bootstrap over the cells of each
group) and tests, so :class:`GroupCounts` is a first-class value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import InputError

#: Column index of each confusion cell in :attr:`GroupCounts.cells`.
TN, FP, FN, TP = 0, 1, 2, 3
CELL_NAMES = ("tn", "fp", "fn", "tp")

#: Integer type of group codes: half the memory of int64, room for 2**31 groups.
CODE_DTYPE = np.int32

#: Separator between the parts of an intersection key ("sex&race") and label ("Female&White").
INTERSECTION_SEP = "&"


@dataclass(frozen=True, eq=False)
class GroupCounts:
    """Confusion counts of one sensitive feature (or intersection), one row per group.

    ``cells[g] = (tn, fp, fn, tp)`` for the group labelled ``labels[g]``; labels are sorted.
    ``unknown`` counts the rows left out because their group value is missing. With scores,
    ``above_cells[g]`` counts the rows of each cell that score above the full sample's median
    (NYC LL144's scoring rate), so cells and scoring can be resampled jointly.
    The array is read-only, so a ``GroupCounts`` can be shared without copying.
    """

    labels: tuple[str, ...]
    cells: np.ndarray
    unknown: int
    above_cells: np.ndarray | None = None

    def __post_init__(self) -> None:
        for attribute in ("cells", "above_cells"):
            given = getattr(self, attribute)
            if given is None:
                continue
            cells = np.asarray(given, dtype=np.int64)
            if cells.shape != (len(self.labels), 4):
                raise ValueError(
                    f"{attribute} must have shape ({len(self.labels)}, 4), got {cells.shape}"
                )
            if cells is given:
                cells = cells.copy()
            cells.setflags(write=False)
            object.__setattr__(self, attribute, cells)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroupCounts):
            return NotImplemented
        same_above = (self.above_cells is None and other.above_cells is None) or (
            self.above_cells is not None
            and other.above_cells is not None
            and np.array_equal(self.above_cells, other.above_cells)
        )
        return (
            self.labels == other.labels
            and self.unknown == other.unknown
            and np.array_equal(self.cells, other.cells)
            and same_above
        )

    __hash__ = None  # type: ignore[assignment]  # holds an array: equal but not hashable

    @property
    def tn(self) -> np.ndarray:
        return self.cells[:, TN]

    @property
    def fp(self) -> np.ndarray:
        return self.cells[:, FP]

    @property
    def fn(self) -> np.ndarray:
        return self.cells[:, FN]

    @property
    def tp(self) -> np.ndarray:
        return self.cells[:, TP]

    @property
    def n(self) -> np.ndarray:
        """Rows per group: tn + fp + fn + tp."""
        return self.cells.sum(axis=1)

    @property
    def above(self) -> np.ndarray | None:
        """Rows per group scoring above the full sample's median (None without scores)."""
        return None if self.above_cells is None else self.above_cells.sum(axis=1)


def as_outcome(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D boolean array (True = positive outcome, i.e. selected).

    Accepts booleans, or numbers that are all 0 or 1. Anything else (strings, NaN, missing
    values, other numbers) is refused, because guessing which label is "positive" would
    silently flip every metric.
    """
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if arr.ndim != 1:
        raise InputError(
            f"{name} must be one-dimensional, got shape {arr.shape}",
            hint="pass a single column of outcomes, e.g. y.ravel() or df['label']",
        )
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind in "iuf":
        is_zero, is_one = arr == 0, arr == 1
        bad = ~(is_zero | is_one)
        if bad.any():
            first = arr[np.flatnonzero(bad)[0]]
            raise InputError(
                f"{name} must hold only booleans or 0/1, found {first!r}",
                hint="map the outcome to booleans first, True meaning the positive "
                "(selected/favourable) outcome, and drop or fill missing values",
            )
        return is_one
    raise InputError(
        f"{name} must be boolean (True = positive outcome), got values of dtype {arr.dtype}",
        hint="map labels to booleans, e.g. df['decision'] == 'approved', and drop or fill "
        "missing values",
    )


def check_lengths(**lengths: int) -> None:
    """Refuse empty or misaligned inputs, naming every length so the culprit is obvious."""
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {length} rows" for name, length in lengths.items())
        raise InputError(
            f"inputs have different lengths: {listed}",
            hint="pass one outcome, prediction and sensitive row per dataset row",
        )
    if next(iter(lengths.values())) == 0:
        raise InputError(
            "no rows to audit: the inputs are empty",
            hint="check the dataset path and any row filter in the audit spec",
        )


def group_codes(column: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer group code per row (-1 = missing) and the sorted group labels.

    A group's label is ``str(value)``; values with the same string form are one group.
    Codes index the labels, which are sorted so that results do not depend on row order.
    """
    raw_codes, uniques = _factorize(column)
    raw_labels = np.array([str(u) for u in uniques], dtype=object)
    labels, remap = np.unique(raw_labels, return_inverse=True)
    remap = np.append(remap.astype(CODE_DTYPE), -1)  # raw code -1 indexes the last slot: stays -1
    return remap[raw_codes], tuple(str(label) for label in labels)


def _factorize(column: pd.Series) -> tuple[np.ndarray, Any]:
    """Integer codes (-1 = missing) and the values they index, by the fastest route for the dtype.

    Measured on 1M rows of 5 strings (benchmarks/bench_fairness.py): pyarrow's
    ``dictionary_encode`` on an Arrow-backed string column takes about half the time of
    ``pd.factorize``; a categorical already holds its codes (unused categories are dropped here
    so that they do not become empty groups).
    """
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        used = np.bincount(codes[codes >= 0], minlength=len(dtype.categories)) > 0
        remap = np.append(np.cumsum(used) - 1, -1).astype(CODE_DTYPE)  # -1 stays -1
        return remap[codes], dtype.categories[used]
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        array = pa.array(column.array)
        if isinstance(array, pa.ChunkedArray):  # e.g. after pd.concat
            array = array.combine_chunks()
        encoded = pc.dictionary_encode(array)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return codes, encoded.dictionary.to_pylist()
    return pd.factorize(column, use_na_sentinel=True)


def intersect_codes(
    parts: Sequence[tuple[np.ndarray, tuple[str, ...]]], *, key: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes and labels of the intersection of several grouped features.

    Only combinations that occur become groups; a row is missing (-1) if any part is missing.
    Labels are the part labels joined with ``&`` and sorted. ``key`` names the intersection
    in error messages.
    """
    codes, labels = parts[0]
    for next_codes, next_labels in parts[1:]:
        width = len(next_labels)
        combined = codes.astype(np.int64)
        combined *= width
        combined += next_codes
        combined[(codes < 0) | (next_codes < 0)] = -1
        present, codes = _dense_codes(combined, len(labels) * width)
        joined = [labels[c // width] + INTERSECTION_SEP + next_labels[c % width] for c in present]
        labels = tuple(joined)
        del combined
    order = np.argsort(np.array(labels, dtype=object), kind="stable")
    sorted_labels = tuple(labels[i] for i in order)
    if len(set(sorted_labels)) != len(sorted_labels):
        raise InputError(
            f"intersection {key!r}: different value combinations give the same group label "
            f"because a value contains {INTERSECTION_SEP!r}",
            hint=f"replace {INTERSECTION_SEP!r} in the sensitive values, or pass "
            "intersections=False",
        )
    rank = np.empty(len(order) + 1, dtype=CODE_DTYPE)
    rank[order] = np.arange(len(order))
    rank[-1] = -1
    return rank[codes], sorted_labels


def _dense_codes(combined: np.ndarray, size: int) -> tuple[list[int], np.ndarray]:
    """The values of ``combined`` (in [0, size), or -1) that occur, sorted, and each row's index
    into them (-1 stays -1).

    When ``size`` is small next to the row count, one ``np.bincount`` finds the values that
    occur and a lookup table renumbers them: no sort, and no array larger than the codes.
    Otherwise (many sparse combinations) ``np.unique`` sorts the known values.
    """
    known = combined >= 0
    if size <= max(4 * len(combined), 1 << 16):
        present = np.flatnonzero(np.bincount(combined[known], minlength=size))
        lookup = np.full(size + 1, -1, dtype=CODE_DTYPE)
        lookup[present] = np.arange(len(present))
        return present.tolist(), lookup[combined]  # combined -1 indexes the last slot: -1
    present, inverse = np.unique(combined[known], return_inverse=True)
    codes = np.full(combined.shape, -1, dtype=CODE_DTYPE)
    codes[known] = inverse
    return present.tolist(), codes


def count_cells(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    codes: np.ndarray,
    labels: tuple[str, ...],
    above: np.ndarray | None = None,
) -> GroupCounts:
    """Count (tn, fp, fn, tp) per group in one ``np.bincount``; code -1 rows count as unknown.

    ``y_true`` and ``y_pred`` must be boolean arrays and ``codes`` integer codes indexing
    ``labels`` (as returned by :func:`group_codes`), all of the same length. ``above``
    (boolean, optional) splits each cell by "scores above the median", in the same pass.
    """
    n_groups = len(labels)
    width = 4 if above is None else 8
    # In place, one int64 array: (code + 1) * width + 2 y_true + y_pred (+ 4 above).
    index = codes.astype(np.intp)
    index += 1
    index *= width
    index += y_true.view(np.uint8) * np.uint8(2)  # a 1-byte temporary, not an int64 one
    index += y_pred
    if above is not None:
        index += above.view(np.uint8) * np.uint8(4)
    flat = np.bincount(index, minlength=(n_groups + 1) * width)
    cells = flat.reshape(n_groups + 1, width)
    if above is None:
        return GroupCounts(labels=labels, cells=cells[1:], unknown=int(cells[0].sum()))
    return GroupCounts(
        labels=labels,
        cells=cells[1:, :4] + cells[1:, 4:],
        unknown=int(cells[0].sum()),
        above_cells=cells[1:, 4:],
    )
