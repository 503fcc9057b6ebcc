"""Merkle tree hashing of RFC 6962 (Certificate Transparency), section 2.1.

For leaves ``D[0:n]``::

    MTH({})      = SHA-256()
    MTH({d0})    = SHA-256(0x00 || d0)                       (leaf hash)
    MTH(D[0:n])  = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  k = largest power of 2 < n

The 0x00/0x01 prefixes keep a leaf from being passed off as an inner node (second preimage).
:class:`MerkleFrontier` keeps only the roots of the perfect subtrees (at most log2(n) of them), so
the root of every prefix of a log is available in one pass; that is how ``verify`` checks many
checkpoints over 100,000 entries without rebuilding the tree for each.

:func:`inclusion_proof` and :func:`root_from_proof` are the audit paths of RFC 6962 section 2.1.1
(verification as in RFC 9162 section 2.1.3.2): a bundle carries the path from its log entry to a
signed checkpoint's root, so a verifier holding only the bundle can tell that the entry is in
the log the checkpoint vouches for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleFrontier:
    """An append-only RFC 6962 tree that remembers only its perfect subtrees' roots.

    Appending leaf ``n`` merges equal-height subtrees like a binary counter; the root of the
    current size folds the subtrees from the right, which is exactly the recursive split of
    RFC 6962 (the left subtree of every split is the largest perfect one).
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (height, hash), heights strictly decreasing

    def append(self, data: bytes) -> None:
        height, h = 0, leaf_hash(data)
        stack = self._stack
        while stack and stack[-1][0] == height:
            h = node_hash(stack.pop()[1], h)
            height += 1
        stack.append((height, h))
        self.size += 1

    def dump(self) -> list[list[int | str]]:
        """The subtree roots as ``[[height, hex], ...]`` (to resume without re-reading leaves)."""
        return [[h, digest.hex()] for h, digest in self._stack]

    @classmethod
    def restore(cls, dumped: list[list[int | str]]) -> MerkleFrontier:
        """Rebuild a frontier from :meth:`dump` (callers must check its root against a signed one)."""
        tree = cls()
        tree._stack = [(int(h), bytes.fromhex(str(d))) for h, d in dumped]
        tree.size = sum(1 << h for h, _ in tree._stack)
        return tree

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def _subtree_root(hashes: list[bytes]) -> bytes:
    """The root over leaf *hashes* (already prefixed), by the RFC 6962 split."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_subtree_root(hashes[:k]), _subtree_root(hashes[k:]))


def inclusion_proof(leaf_hashes: list[bytes], index: int) -> list[bytes]:
    """PATH(index, D[0:n]) of RFC 6962 2.1.1 over the tree of ``leaf_hashes`` (n of them).

    Leaf hashes, not raw leaves: :func:`leaf_hash` of each entry body. The path lists sibling
    hashes from the leaf up; :func:`root_from_proof` folds it back into the root.
    """
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is outside a tree of {n} leaves")
    path: list[bytes] = []
    lo, hi, m = 0, n, index
    splits: list[tuple[int, int, int]] = []
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        splits.append((lo, hi, k))
        if m < k:
            hi = lo + k
        else:
            lo, m = lo + k, m - k
    for lo, hi, k in reversed(splits):
        left, right = (lo, lo + k), (lo + k, hi)
        inside_left = index < lo + k
        sib = right if inside_left else left
        path.append(_subtree_root(leaf_hashes[sib[0] : sib[1]]))
    return path


def root_from_proof(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """The root an inclusion ``path`` for leaf hash ``leaf`` at ``index`` implies, or None.

    RFC 9162 2.1.3.2: ``None`` when the path has the wrong length for (index, size), so a
    caller comparing the result with a signed root rejects any malformed proof.
    """
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of ``leaves`` (raw leaf data, not leaf hashes)."""
    tree = MerkleFrontier()
    for data in leaves:
        tree.append(data)
    return tree.root()
