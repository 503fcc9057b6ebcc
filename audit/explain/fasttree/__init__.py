"""Exact path-dependent TreeSHAP of our own, compiled with numba, parallel over rows.

The maths (the lead's derivation, checked against brute-force Shapley values in the tests):
split every tree into root-to-leaf paths and merge a path's repeated features into one element
per unique feature ``j``: its zero fraction ``z_j`` is the product of ``cover(child taken) /
cover(node)`` over the path's splits on ``j``; for a row, ``o_j = 1`` when the row goes the path's
way at every one of them. With ``d`` unique features and leaf value ``v`` the path's game is
``f(S) = v prod_{j in S} o_j prod_{j not in S} z_j``. Only the set ``U`` of satisfied features
matters; with ``K(U) = sum_{S subset U} w(|S|, d) prod_{j in U \\ S} z_j`` (``w(s, d) =
s! (d-s-1)! / d!``) and ``G(U) = v prod_{j not in U} z_j``:

* a feature ``i`` not in ``U`` gets ``-G(U) K(U)``;
* a feature ``i`` in ``U`` gets ``(1 - z_i) G(U) K(U \\ {i})`` (no division: ``z_i = 0`` is fine).

``K`` depends on the zero fractions only, so each leaf with ``d <= table_cap`` gets a table of
``2**d`` values (built once per model, subset DP over elementary symmetric polynomials) and a row
costs ``O(d)`` per leaf; deeper leaves use an ``O(d^2)`` kernel (e_k of the satisfied z's, one
polynomial division per satisfied feature). The base value is ``sum_leaf v prod_j z_j`` plus the
model's constant (GB init, HGB baseline, XGBoost base_score as a margin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audit.explain.fasttree.extract import (
    Forest,
    Unsupported,
    lightgbm_trees,
    sklearn_trees,
    xgboost_trees,
)

__all__ = ["NAME", "Ensemble", "Unsupported", "compile_ensemble"]

#: The explainer name reported for values computed here.
NAME = "audit fast TreeSHAP (numba, exact path-dependent)"

#: Leaves with more unique features than this use the O(d^2) kernel instead of a table.
TABLE_CAP = 16
#: Upper bound on the tables' memory; the cap is lowered until they fit.
TABLE_BUDGET = 512 * 2**20
#: Leaves with at most this many unique features get mode-2 tables (2**d * d values each).
FULL_CAP = 10
#: Upper bound on the mode-2 tables (2**d * d contributions per leaf); smaller leaves first.
FULL_BUDGET = 256 * 2**20
#: Paths with more unique features than this are not compiled (masks are 64-bit).
MAX_UNIQUE = 62


@dataclass(eq=False)
class Ensemble:
    """A compiled tree ensemble: plain numpy arrays (pickles; the tables are rebuilt lazily).

    ``shap_values(X)`` gives ``(values, base)``: values ``(n, features)`` for one output or
    ``(n, features, outputs)`` for several (random forest class fractions), base ``(outputs,)``.
    """

    arrays: dict[str, np.ndarray]
    n_features: int
    n_out: int
    float32_input: bool
    base: np.ndarray
    max_depth: int
    table_cap: int
    _tables: np.ndarray | None = field(default=None, repr=False)

    _full: np.ndarray | None = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tables"] = state["_full"] = None  # cheap to rebuild, often large to ship
        return state

    @property
    def full(self) -> np.ndarray:
        """Mode-2 leaves' contributions per pattern and slot (see ``kernels.build_full``)."""
        if self._full is None:
            from audit.explain.fasttree import kernels

            a = self.arrays
            self._full = kernels.build_full(
                a["leaf_d"], a["slot_off"], a["slot_ratio"], a["table_off"], self.tables,
                a["full_off"], max(int(a["full_size"].sum()), 1),
            )  # fmt: skip
        return self._full

    @property
    def tables(self) -> np.ndarray:
        if self._tables is None:
            from audit.explain.fasttree import kernels

            a = self.arrays
            total = int(a["table_size"].sum())
            self._tables = kernels.build_tables(
                a["leaf_d"], a["slot_off"], a["slot_z"], a["table_off"], a["w"], max(total, 1),
                a["leaf_mode"], a["fold_value"],
            )  # fmt: skip
        return self._tables

    @property
    def table_bytes(self) -> int:
        return int(self.arrays["table_size"].sum() + self.arrays["full_size"].sum()) * 8

    def shap_values(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from audit.explain.fasttree import kernels

        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got {X.shape}")
        if self.float32_input:
            X = X.astype(np.float32).astype(np.float64)
        X = np.ascontiguousarray(X)
        a = self.arrays
        phi = kernels.shap_values(
            X, a["roots"], a["left"], a["right"], a["feature"], a["threshold"], a["kind"],
            a["flags"], a["cat_off"], a["cat_len"], a["known_off"], a["known_len"], a["bits"],
            a["node_slot"], a["leaf_of_node"], a["leaf_d"], a["slot_off"], a["slot_feature"],
            a["slot_z"], a["kernel_value"], a["table_off"], self.tables, a["w"], self.max_depth,
            _block(len(X)), a["leaf_mode"], a["slot_ratio"], a["full_off"], self.full,
            a["tree_leaf0"], a["tree_leaves"],
        )  # fmt: skip
        if self.n_out == 1:
            values = phi[:, :, 0]
        elif phi.shape[2] == 1:  # two class fractions adding up to a constant: phi_0 = -phi_1
            values = np.concatenate([-phi, phi], axis=2)
        else:
            values = phi
        return values, self.base.copy()


def _block(n: int) -> int:
    import numba

    threads = max(1, numba.get_num_threads())
    # Large blocks: each leaf's table is read once per block from memory, then from cache (the
    # block's SHAP values, rows x features, stay in the core's cache up to about 1,024 rows).
    return int(max(1, min(1024, -(-n // threads))))


def compile_ensemble(
    estimator: Any, *, table_cap: int = TABLE_CAP, table_budget: int = TABLE_BUDGET
) -> Ensemble:
    """Compile a supported tree model; raises ``Unsupported`` for anything else."""
    return _compile(_forest(estimator), table_cap, table_budget)


def _forest(estimator: Any) -> Forest:
    library = type(estimator).__module__.split(".", 1)[0]
    if library == "sklearn":
        return sklearn_trees(estimator)
    if library == "xgboost":
        import xgboost

        booster = estimator if isinstance(estimator, xgboost.Booster) else estimator.get_booster()
        if not isinstance(estimator, xgboost.Booster) and estimator.get_params().get(
            "booster"
        ) not in (None, "gbtree"):
            raise Unsupported("XGBoost booster other than gbtree")
        return xgboost_trees(booster)
    if library == "lightgbm":
        import lightgbm

        booster = estimator if isinstance(estimator, lightgbm.Booster) else estimator.booster_
        try:
            return lightgbm_trees(booster)
        except RecursionError as exc:
            raise Unsupported("LightGBM tree too deep to read") from exc
    if type(estimator).__module__.startswith("audit.loaders."):
        booster = getattr(estimator, "booster", None)
        if booster is not None:
            return _forest(booster)
    raise Unsupported(type(estimator).__name__)


def _compile(forest: Forest, table_cap: int, table_budget: int) -> Ensemble:
    from audit.explain.fasttree import kernels

    a = forest.arrays()
    n_leaves = int(a["is_leaf"].sum())
    out = kernels.prepare_paths(
        a["left"], a["right"], a["feature"], a["cover"], n_leaves, MAX_UNIQUE
    )
    node_slot, leaf_of_node, leaf_node, leaf_d, slot_off, slot_feature, slot_z, ok = out
    if not ok:
        raise Unsupported(f"a path with more than {MAX_UNIQUE} features, or a node without cover")
    leaf_d = leaf_d.astype(np.int64)
    cap = table_cap
    while True:
        size = np.where(leaf_d <= cap, np.left_shift(1, np.minimum(leaf_d, 62)), 0)
        if int(size.sum()) * 8 <= table_budget or cap < 0:
            break
        cap -= 1
    table_off = np.where(size > 0, np.cumsum(size) - size, -1).astype(np.int64)
    positive = np.ones(len(leaf_d), bool)
    zero = np.flatnonzero(slot_z <= 0.0)
    if zero.size:
        positive[np.searchsorted(slot_off, zero, side="right") - 1] = False
    with np.errstate(divide="ignore"):
        slot_ratio = np.where(slot_z > 0, (1.0 - slot_z) / slot_z, 0.0)
    leaf_value = np.ascontiguousarray(a["value"][leaf_node])
    # One output computed: the only one, or class 1 of two fractions with a constant sum (a
    # forest's leaves), whose class-0 values are then the negatives.
    total = leaf_value.sum(axis=1)
    pair = forest.n_out == 2 and np.ptp(total) <= 1e-12 * max(1.0, float(np.abs(total).max()))
    column = 0 if forest.n_out == 1 else 1 if pair else -1
    kernel_value = leaf_value if column < 0 else np.ascontiguousarray(leaf_value[:, [column]])
    weight = kernels.leaf_weights(leaf_d, slot_off, slot_z)
    base = weight @ leaf_value + forest.constant
    depth = int(kernels.max_depth(a["left"], a["right"], a["roots"]))
    # the leaves of tree t are leaves tree_leaf0[t] .. + tree_leaves[t] (nodes are in tree order)
    roots = a["roots"]
    ends = np.append(roots[1:], len(leaf_of_node))
    if np.any(np.diff(roots) <= 0):
        raise Unsupported("trees not stored one after another")
    is_leaf = leaf_of_node >= 0
    counts = np.add.reduceat(is_leaf.astype(np.int64), roots) if len(roots) else roots
    tree_leaf0 = np.cumsum(counts) - counts
    if not np.array_equal(leaf_of_node[is_leaf], np.arange(int(is_leaf.sum()))) or np.any(
        ends <= roots
    ):
        raise Unsupported("leaves not numbered in tree order")
    mode = ((size > 0) & positive & (column >= 0)).astype(np.int8)
    full_cap = min(cap, FULL_CAP)
    while True:  # mode 2: one contiguous run of d contributions per pattern, while they fit
        full_size = np.where((mode == 1) & (leaf_d <= full_cap), size * leaf_d, 0)
        if int(full_size.sum()) * 8 <= FULL_BUDGET or full_cap < 0:
            break
        full_cap -= 1
    mode[full_size > 0] = 2
    full_off = np.where(full_size > 0, np.cumsum(full_size) - full_size, -1).astype(np.int64)
    compiled = {
        name: a[name]
        for name in (
            "roots",
            "left",
            "right",
            "feature",
            "threshold",
            "kind",
            "flags",
            "cat_off",
            "cat_len",
            "known_off",
            "known_len",
            "bits",
        )  # fmt: skip
    }
    compiled.update(
        node_slot=node_slot.astype(np.int64),
        leaf_of_node=leaf_of_node.astype(np.int64),
        leaf_d=leaf_d,
        slot_off=slot_off,
        slot_feature=slot_feature.astype(np.int64),
        slot_z=slot_z,
        kernel_value=kernel_value,
        leaf_mode=mode,
        tree_leaf0=tree_leaf0.astype(np.int64),
        tree_leaves=counts.astype(np.int64),
        full_off=full_off,
        full_size=full_size,
        fold_value=kernel_value[:, 0].copy() if column >= 0 else np.ones(len(leaf_d)),
        slot_ratio=slot_ratio,
        table_off=table_off,
        table_size=size.astype(np.int64),
        w=kernels.weights(MAX_UNIQUE + 1),
    )
    return Ensemble(
        compiled, forest.n_features, forest.n_out, forest.float32_input, base, depth, cap
    )
