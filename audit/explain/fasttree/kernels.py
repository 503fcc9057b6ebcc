"""numba kernels of the exact path-dependent TreeSHAP (see the package docstring for the maths).

Nodes of all trees live in one set of flat arrays (global node ids; ``left[n] < 0`` marks a
leaf). Every leaf owns ``d`` *slots*, one per unique feature on its root-to-leaf path, in order of
first appearance from the root; an internal node's ``node_slot`` is the slot of its feature on
every path through it (the prefix above it is shared), so one walk of a tree per row yields, at
each leaf, the bit mask of the slots whose splits the row failed.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from audit.explain.fasttree.codes import (
    CAT_EXACT,
    CAT_TRUNCATE,
    NAN_AS_ZERO,
    NAN_LEFT,
    NUMERIC,
    ZERO_MISSING,
)

_ZERO = 1e-35  # LightGBM's kZeroThreshold


def weights(max_d: int) -> np.ndarray:
    """``w[d, s] = s! (d - s - 1)! / d!`` for 1 <= d <= max_d, 0 <= s < d."""
    w = np.zeros((max_d + 1, max_d + 1))
    for d in range(1, max_d + 1):
        for s in range(d):
            w[d, s] = 1.0 / (d * math.comb(d - 1, s))
    return w


@numba.njit(cache=True, nogil=True)
def _in_bits(bits: np.ndarray, offset: int, length: int, c: int) -> bool:
    word = c >> 5
    if word >= length:
        return False
    return (bits[offset + word] >> np.uint32(c & 31)) & np.uint32(1) == 1


@numba.njit(cache=True, nogil=True)
def go_left(x, kind, threshold, flags, cat_off, cat_len, known_off, known_len, bits):
    """Whether a row with value ``x`` at this node goes to its left child."""
    missing_left = (flags & NAN_LEFT) != 0
    if math.isnan(x):
        if flags & NAN_AS_ZERO:
            x = 0.0
        else:
            return missing_left
    if kind == NUMERIC:
        if flags & ZERO_MISSING and -_ZERO <= x <= _ZERO:
            return missing_left
        return x <= threshold
    if flags & CAT_TRUNCATE:
        if x <= -1.0 or x >= 2147483648.0:
            return missing_left
        c = int(x)
    else:
        if x < 0.0 or x >= 2147483648.0:
            return missing_left
        if flags & CAT_EXACT and x != math.floor(x):
            return missing_left
        c = int(x)
    if _in_bits(bits, cat_off, cat_len, c):
        return True
    if known_off >= 0 and not _in_bits(bits, known_off, known_len, c):
        return missing_left  # a category unseen in training is treated as missing (HGB)
    return False


@numba.njit(cache=True, nogil=True)
def _no_paths():
    """prepare_paths' result when a path cannot be compiled (``ok`` False)."""
    none32 = np.empty(0, np.int32)
    none64 = np.empty(0, np.int64)
    return none32, none32, none64, none32, none64, none32, np.empty(0), False


@numba.njit(cache=True, nogil=True)
def prepare_paths(left, right, feature, cover, n_leaves, max_unique):
    """Slots of internal nodes; per leaf its unique features, zero fractions and ``d``.

    Returns (node_slot, leaf_of_node, leaf_node, leaf_d, slot_off, slot_feature, slot_z, ok);
    ``ok`` is False when some path has more than ``max_unique`` unique features or a node with
    a non-positive cover (the caller then falls back).
    """
    n = left.shape[0]
    parent = np.full(n, -1, np.int64)
    for i in range(n):
        if left[i] >= 0:
            parent[left[i]] = i
            parent[right[i]] = i
    node_slot = np.full(n, -1, np.int32)
    leaf_of_node = np.full(n, -1, np.int32)
    leaf_node = np.empty(n_leaves, np.int64)
    leaf_d = np.zeros(n_leaves, np.int32)
    slot_off = np.zeros(n_leaves + 1, np.int64)
    chain = np.empty(n, np.int64)
    feats = np.empty(max_unique + 1, np.int64)
    zs = np.empty(max_unique + 1)
    slot_feature = np.empty(n_leaves * max_unique, np.int32)
    slot_z = np.empty(n_leaves * max_unique)
    leaf = 0
    for i in range(n):
        # the root-to-node chain, root first
        length = 0
        j = i
        while j >= 0:
            chain[length] = j
            length += 1
            j = parent[j]
        d = 0
        for a in range(length - 1, 0, -1):
            node = chain[a]
            child = chain[a - 1]
            if cover[node] <= 0.0:
                return _no_paths()
            ratio = cover[child] / cover[node]
            s = -1
            for k in range(d):
                if feats[k] == feature[node]:
                    s = k
                    break
            if s < 0:
                if d == max_unique:
                    return _no_paths()
                feats[d] = feature[node]
                zs[d] = ratio
                d += 1
            else:
                zs[s] *= ratio
        if left[i] >= 0:
            s = d
            for k in range(d):
                if feats[k] == feature[i]:
                    s = k
                    break
            if s == max_unique:
                return _no_paths()
            node_slot[i] = s
        else:
            leaf_of_node[i] = leaf
            leaf_node[leaf] = i
            leaf_d[leaf] = d
            base = slot_off[leaf]
            for k in range(d):
                slot_feature[base + k] = feats[k]
                slot_z[base + k] = zs[k]
            slot_off[leaf + 1] = base + d
            leaf += 1
    end = slot_off[n_leaves]
    return (
        node_slot,
        leaf_of_node,
        leaf_node,
        leaf_d,
        slot_off,
        slot_feature[:end].copy(),
        slot_z[:end].copy(),
        True,
    )


@numba.njit(cache=True, nogil=True, parallel=True)
def build_tables(leaf_d, slot_off, slot_z, table_off, w, total, leaf_mode, fold_value):
    """K(U) = sum_k w(|U| - k, d) e_k(z_U) for every subset U of every tabled leaf's slots.

    Leaves with ``leaf_mode`` 1 or 2 (one output, every z > 0) store ``v prod_{j not in U} z_j
    K(U)`` instead, ``v = fold_value[leaf]``: a row then costs one look-up per slot.
    """
    tables = np.zeros(total)
    for leaf in numba.prange(leaf_d.shape[0]):
        off = table_off[leaf]
        if off < 0:
            continue
        d = leaf_d[leaf]
        size = 1 << d
        e = np.zeros((size, d + 1))
        e[0, 0] = 1.0
        count = np.zeros(size, np.int32)
        for u in range(1, size):
            top = 0
            while (u >> (top + 1)) != 0:
                top += 1
            rest = u ^ (1 << top)
            z = slot_z[slot_off[leaf] + top]
            count[u] = count[rest] + 1
            e[u, 0] = 1.0
            for k in range(1, count[u] + 1):
                e[u, k] = e[rest, k] + z * e[rest, k - 1]
        for u in range(size):
            m = count[u]
            if m >= d:
                continue  # K(F) is never read
            acc = 0.0
            for k in range(m + 1):
                acc += w[d, m - k] * e[u, k]
            if leaf_mode[leaf] >= 1:  # modes 1 and 2 (which is built from mode 1's table)
                outside = fold_value[leaf]
                for s in range(d):
                    if not (u >> s) & 1:
                        outside *= slot_z[slot_off[leaf] + s]
                acc *= outside
            tables[off + u] = acc
    return tables


@numba.njit(cache=True, nogil=True, parallel=True)
def build_full(leaf_d, slot_off, slot_ratio, table_off, tables, full_off, total):
    """Per mode-2 leaf and pattern ``u`` (satisfied slots), every slot's contribution:
    ``-T(u)`` for a failed slot, ``(1 - z_s) / z_s * T(u - s)`` for a satisfied one, where ``T``
    is the leaf's mode-1 table; laid out ``[u * d + s]`` so a row reads one contiguous run."""
    full = np.zeros(total)
    for leaf in numba.prange(leaf_d.shape[0]):
        at = full_off[leaf]
        if at < 0:
            continue
        d = leaf_d[leaf]
        off = table_off[leaf]
        base = slot_off[leaf]
        for u in range(1 << d):
            t_u = tables[off + u]
            for s in range(d):
                if (u >> s) & 1:
                    full[at + u * d + s] = slot_ratio[base + s] * tables[off + (u ^ (1 << s))]
                else:
                    full[at + u * d + s] = -t_u
    return full


@numba.njit(cache=True, nogil=True)
def _leaf_direct(phi, r, leaf, fail, leaf_d, slot_off, slot_feature, slot_z, leaf_value, w, e, e2):
    """One leaf's contributions in O(d^2) (for leaves with too many slots for a table)."""
    d = leaf_d[leaf]
    base = slot_off[leaf]
    g = 1.0
    m = 0
    e[0] = 1.0
    for s in range(d):
        z = slot_z[base + s]
        if (fail >> s) & 1:
            g *= z
        else:
            m += 1
            e[m] = 0.0
            for k in range(m, 0, -1):
                e[k] += z * e[k - 1]
    k_all = 0.0
    if m < d:
        for k in range(m + 1):
            k_all += w[d, m - k] * e[k]
    n_out = leaf_value.shape[1]
    for s in range(d):
        f = slot_feature[base + s]
        if (fail >> s) & 1:
            val = -g * k_all
        else:
            z = slot_z[base + s]
            # e(U \ {s}) = e(U) / (1 + z x)
            e2[0] = 1.0
            for k in range(1, m):
                e2[k] = e[k] - z * e2[k - 1]
            acc = 0.0
            for k in range(m):
                acc += w[d, m - 1 - k] * e2[k]
            val = (1.0 - z) * g * acc
        for c in range(n_out):
            phi[r, f, c] += val * leaf_value[leaf, c]


@numba.njit(cache=True, nogil=True, parallel=True)
def shap_values(
    X,
    roots,
    left,
    right,
    feature,
    threshold,
    kind,
    flags,
    cat_off,
    cat_len,
    known_off,
    known_len,
    bits,
    node_slot,
    leaf_of_node,
    leaf_d,
    slot_off,
    slot_feature,
    slot_z,
    leaf_value,
    table_off,
    tables,
    w,
    max_depth,
    block,
    leaf_mode,
    slot_ratio,
    full_off,
    contrib,
    tree_leaf0,
    tree_leaves,
):
    """SHAP values ``phi[row, feature, output]``, in blocks of rows (one thread each).

    Tree by tree, every row of the block first walks the tree once (each leaf's mask of the
    slots the row failed), then the tree's leaves are visited one at a time for all the block's
    rows, so a leaf's table is read from cache by every row (the tables of a whole model do not
    fit in cache; visiting them row by row made TreeSHAP memory-bound). Leaves in mode 2 read
    their slots' contributions for the row's pattern from one contiguous run of ``contrib``;
    mode 1 from the ``2**d`` table; mode 0 multiply out per output; leaves without a table use
    the O(d^2) kernel.
    """
    n, n_features = X.shape
    n_out = leaf_value.shape[1]
    phi = np.zeros((n, n_features, n_out))
    n_blocks = (n + block - 1) // block
    width = w.shape[0]
    most = 1
    for t in range(tree_leaves.shape[0]):
        most = max(most, tree_leaves[t])
    for b in numba.prange(n_blocks):
        stack_node = np.empty(max_depth + 2, np.int64)
        stack_fail = np.empty(max_depth + 2, np.int64)
        masks = np.empty((block, most), np.int64)
        e = np.empty(width + 1)
        e2 = np.empty(width + 1)
        start = b * block
        stop = min(n, start + block)
        for t in range(roots.shape[0]):
            first = tree_leaf0[t]
            for r in range(start, stop):
                stack_node[0] = roots[t]
                stack_fail[0] = 0
                sp = 1
                while sp > 0:
                    sp -= 1
                    node = stack_node[sp]
                    fail = stack_fail[sp]
                    if left[node] < 0:
                        masks[r - start, leaf_of_node[node] - first] = fail
                        continue
                    bit = np.int64(1) << node_slot[node]
                    x = X[r, feature[node]]
                    if kind[node] == NUMERIC and flags[node] <= NAN_LEFT:
                        # the common case without branches: NaN goes left iff NAN_LEFT is set
                        goes = np.int64(x <= threshold[node]) | (
                            np.int64(x != x) & np.int64(flags[node])
                        )
                    else:
                        goes = np.int64(
                            go_left(
                                x,
                                kind[node],
                                threshold[node],
                                flags[node],
                                cat_off[node],
                                cat_len[node],
                                known_off[node],
                                known_len[node],
                                bits,
                            )
                        )
                    stack_node[sp] = right[node]
                    stack_fail[sp] = fail | (bit * goes)
                    stack_node[sp + 1] = left[node]
                    stack_fail[sp + 1] = fail | (bit * (1 - goes))
                    sp += 2
            for li in range(tree_leaves[t]):
                leaf = first + li
                d = leaf_d[leaf]
                sbase = slot_off[leaf]
                every = (np.int64(1) << d) - 1
                mode = leaf_mode[leaf]
                if mode == 2:
                    at0 = full_off[leaf]
                    for r in range(start, stop):
                        at = at0 + (every & ~masks[r - start, li]) * d
                        for s in range(d):
                            phi[r, slot_feature[sbase + s], 0] += contrib[at + s]
                    continue
                off = table_off[leaf]
                for r in range(start, stop):
                    fail = masks[r - start, li]
                    if off < 0:
                        _leaf_direct(
                            phi, r, leaf, fail, leaf_d, slot_off, slot_feature, slot_z,
                            leaf_value, w, e, e2,
                        )  # fmt: skip
                        continue
                    u = every & ~fail
                    if mode == 1:
                        t_u = tables[off + u]
                        for s in range(d):
                            f = slot_feature[sbase + s]
                            if (fail >> s) & 1:
                                phi[r, f, 0] -= t_u
                            else:
                                phi[r, f, 0] += slot_ratio[sbase + s] * tables[off + (u ^ (1 << s))]
                        continue
                    g = 1.0
                    for s in range(d):
                        if (fail >> s) & 1:
                            g *= slot_z[sbase + s]
                    k_u = tables[off + u]
                    for s in range(d):
                        f = slot_feature[sbase + s]
                        if (fail >> s) & 1:
                            val = -g * k_u
                        else:
                            val = (1.0 - slot_z[sbase + s]) * g * tables[off + (u ^ (1 << s))]
                        for c in range(n_out):
                            phi[r, f, c] += val * leaf_value[leaf, c]
    return phi


@numba.njit(cache=True, nogil=True)
def leaf_weights(leaf_d, slot_off, slot_z):
    """prod_j z_j per leaf: the share of the root's cover that reaches it."""
    out = np.ones(leaf_d.shape[0])
    for leaf in range(leaf_d.shape[0]):
        for k in range(slot_off[leaf], slot_off[leaf] + leaf_d[leaf]):
            out[leaf] *= slot_z[k]
    return out


@numba.njit(cache=True, nogil=True)
def max_depth(left, right, roots):
    """The deepest leaf's depth over all trees (sizes the walk's stack)."""
    deepest = 0
    stack = np.empty(left.shape[0] + 1, np.int64)
    level = np.empty(left.shape[0] + 1, np.int64)
    for t in range(roots.shape[0]):
        stack[0] = roots[t]
        level[0] = 0
        sp = 1
        while sp > 0:
            sp -= 1
            node = stack[sp]
            depth = level[sp]
            if left[node] < 0:
                deepest = max(deepest, depth)
                continue
            stack[sp] = left[node]
            level[sp] = depth + 1
            stack[sp + 1] = right[node]
            level[sp + 1] = depth + 1
            sp += 2
    return deepest
