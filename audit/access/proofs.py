"""Inclusion proofs: evidence, carried outside the log, that one entry is in it.

A bundle's ``log-proof.json`` holds its ``report:publish`` entry (the exact stored bytes), the
entry's leaf index, the RFC 6962 audit path to the root of the first ``tree_size`` entries, and
the checkpoint signed over that root by a *log* key. :meth:`LogProof.problems` checks all of it
against the trusted log keys alone: the entry is in the log the checkpoint vouches for, at that
position, and nobody can add, drop or edit a publish entry without a log key.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .. import jsonio
from ..errors import InputError
from .merkle import leaf_hash, root_from_proof
from .records import Checkpoint, Entry

__all__ = ["PROOF_KIND", "LogProof"]

PROOF_KIND = "audit.access-log.inclusion-proof"


@dataclass(frozen=True)
class LogProof:
    """Entry ``leaf_index`` (0-based; entry seq ``leaf_index + 1``) of a log of ``tree_size``."""

    entry_body: bytes
    leaf_index: int
    tree_size: int
    audit_path: tuple[bytes, ...]
    checkpoint: Checkpoint

    @property
    def entry(self) -> Entry:
        return Entry.from_body(self.entry_body)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": PROOF_KIND,
            "entry": base64.b64encode(self.entry_body).decode(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "audit_path": [h.hex() for h in self.audit_path],
            "checkpoint": self.checkpoint.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> LogProof:
        """Read :meth:`to_dict`'s output; InputError naming what is malformed."""
        try:
            if not isinstance(data, Mapping) or data.get("kind") != PROOF_KIND:
                raise ValueError(f"kind is not {PROOF_KIND!r}")
            path = data["audit_path"]
            if not isinstance(path, list) or len(path) > 64:
                raise ValueError("audit_path is not a list of at most 64 hashes")
            hashes = tuple(bytes.fromhex(str(h)) for h in path)
            if any(len(h) != 32 for h in hashes):
                raise ValueError("audit_path holds a hash that is not 32 bytes")
            return cls(
                entry_body=base64.b64decode(str(data["entry"]), validate=True),
                leaf_index=int(data["leaf_index"]),
                tree_size=int(data["tree_size"]),
                audit_path=hashes,
                checkpoint=Checkpoint.from_dict(data["checkpoint"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"not an access-log inclusion proof: {exc}") from None

    def problems(self, log_keys: Mapping[str, Ed25519PublicKey]) -> list[str]:
        """What is wrong with this proof, given the trusted *log* keys (empty: it holds)."""
        cp = self.checkpoint
        found = cp.check_signature(log_keys)
        if found:
            return [found + " (not a log key of the trusted configuration)"]
        if cp.size != self.tree_size:
            return [f"the proof is for {self.tree_size} entries, its checkpoint for {cp.size}"]
        root = root_from_proof(
            leaf_hash(self.entry_body), self.leaf_index, self.tree_size, list(self.audit_path)
        )
        if root is None or root.hex() != cp.root:
            return [
                "the entry is not in the log the checkpoint vouches for (the audit path does "
                "not lead to the signed root)"
            ]
        try:
            entry = Entry.from_body(self.entry_body)
        except Exception as exc:  # noqa: BLE001 - IntegrityError or anything a forged body raises
            return [f"the logged entry is malformed: {exc}"]
        if entry.seq != self.leaf_index + 1:
            return [
                f"the logged entry says seq {entry.seq} but sits at position {self.leaf_index + 1}"
            ]
        return []

    @staticmethod
    def parse(raw: bytes, where: str) -> LogProof:
        data = jsonio.loads(raw, where, limit=16)
        try:
            return LogProof.from_dict(data)
        except InputError as exc:
            raise InputError(f"{where}: {exc.message}") from None
