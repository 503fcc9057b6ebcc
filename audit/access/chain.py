"""Checking an access-log chain: every entry against its predecessor and the signed checkpoints.

Finds edits (including whitespace: stored bytes must equal their canonical form), deletions,
reorderings, insertions, truncation below any checkpoint, and checkpoints not signed by a
trusted key. Used by :meth:`audit.access.log.AccessLog.verify` (rows from SQLite) and by
:func:`verify_export` (a JSON Lines export, checked without the database).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .. import jsonio
from ..digest import canonical_json
from ..errors import InputError
from ..jsonio import max_depth
from .keys import TrustedKeys, keyring
from .merkle import MerkleFrontier
from .records import ENTRY_DEPTH, GENESIS, Checkpoint, LogVerification

__all__ = ["check_entry", "verify_export", "verify_rows"]

_MAX_PROBLEMS = 50


def check_entry(
    expected_seq: int, seq: int | None, body: bytes, stored: str | None, prev: str
) -> tuple[str, int] | None:
    """What is wrong with one stored entry and which entry is the first bad one, or None.

    ``prev`` is the hash of the previous entry's stored bytes. When an entry does not chain to
    its predecessor, the predecessor is the one that changed (its bytes no longer hash to what
    this entry recorded), unless this entry's own link was rewritten; the earlier is named.
    """
    k = expected_seq
    if seq is not None and seq != k:
        if seq > k:
            return f"entry {k} is missing (deleted): the next stored entry is {seq}", k
        return f"entry {seq} appears after entry {k - 1} (reordered or duplicated)", seq
    if max_depth(body) > ENTRY_DEPTH:
        return f"entry {k} nests deeper than any entry (edited)", k
    try:
        data = json.loads(body)
    except ValueError:
        return f"entry {k} is not valid JSON (edited)", k
    if not isinstance(data, dict):
        return f"entry {k} is not a JSON object (edited)", k
    if canonical_json(data) != body:
        return f"entry {k}: stored bytes are not canonical JSON (edited, e.g. whitespace)", k
    body_seq = data.get("seq")
    if body_seq != k:
        first = min(body_seq, k) if isinstance(body_seq, int) and body_seq >= 1 else k
        return f"entry {k}: its body says seq {body_seq} (reordered, inserted or renumbered)", first
    if data.get("prev_hash") != prev:
        if k == 1:
            return "entry 1: prev_hash is not the genesis value (chain broken)", 1
        return (
            f"entry {k - 1} was altered (its bytes no longer hash to the prev_hash recorded "
            f"by entry {k}), or entry {k}'s link was rewritten",
            k - 1,
        )
    if stored is not None and hashlib.sha256(body).hexdigest() != stored:
        return f"entry {k}: stored hash does not match its bytes (edited)", k
    return None


def verify_rows(
    rows: Iterable[tuple[int | None, bytes, str | None]],
    stored: list[Checkpoint],
    external: list[Checkpoint],
    trusted: Mapping[str, Ed25519PublicKey],
    log_id: str | None,
) -> LogVerification:
    problems: list[str] = []
    bad: list[int] = []
    good_at: dict[int, Checkpoint] = {}  # checkpoints whose signature verified, by size
    for where, cps in (("stored", stored), ("external", external)):
        last_size = -1
        for cp in cps:
            sig_problem = cp.check_signature(trusted)
            if sig_problem:
                problems.append(f"{where} {sig_problem}")
                continue
            if log_id is not None and cp.log_id != log_id:
                problems.append(
                    f"{where} checkpoint of size {cp.size} belongs to log {cp.log_id}, "
                    f"not to this log ({log_id})"
                )
                continue
            if where == "stored" and cp.size < last_size:
                problems.append(
                    f"stored checkpoint of size {cp.size} follows one of size {last_size} "
                    "(checkpoints reordered)"
                )
            last_size = max(last_size, cp.size)
            first = good_at.setdefault(cp.size, cp)
            if (first.root, first.last_hash) != (cp.root, cp.last_hash):
                problems.append(f"two validly signed checkpoints of size {cp.size} disagree")
                bad.append(1)
    pending = sorted(s for s in good_at if s > 0)
    frontier = MerkleFrontier()
    prev, count, last_good, n_rows = GENESIS, 0, 0, 0
    for seq, body, stored_hash in rows:
        n_rows += 1
        found = check_entry(count + 1, seq, body, stored_hash, prev)
        if found:
            bad.append(found[1])
            if len(problems) < _MAX_PROBLEMS:
                problems.append(found[0])
        if seq is not None and seq > count + 1:
            count = seq - 1
        frontier.append(body)
        count += 1
        prev = hashlib.sha256(body).hexdigest()
        while pending and pending[0] == count:
            cp = good_at[pending.pop(0)]
            if (
                frontier.size == cp.size
                and frontier.root().hex() == cp.root
                and (prev == cp.last_hash)
            ):
                last_good = cp.size
                continue
            problems.append(
                f"entries {last_good + 1}..{cp.size} differ from the signed checkpoint of "
                f"size {cp.size} (entries edited, deleted or inserted; chain rewritten)"
            )
            if not any(last_good < b <= cp.size for b in bad):
                bad.append(last_good + 1)  # the first entry no valid checkpoint vouches for
    for size in pending:
        bad.append(count + 1)
        problems.append(
            f"the log ends at entry {count} but a signed checkpoint covers {size} entries: "
            f"entries {count + 1}..{size} were removed (truncated)"
        )
    return LogVerification(
        ok=not problems,
        entries=n_rows,
        checkpoints=len(stored) + len(external),
        problems=tuple(problems),
        first_bad_seq=min(bad) if bad else None,
        root=frontier.root().hex(),
    )


def verify_export(path: Path, trusted_keys: TrustedKeys) -> LogVerification:
    """Verify a file written by :meth:`AccessLog.export`: the chain and its checkpoint line."""
    try:
        lines = Path(path).read_bytes().split(b"\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the export: {exc}") from None
    if lines and lines[-1] == b"":
        lines.pop()
    cps: list[Checkpoint] = []
    if lines and lines[-1].startswith(b'{"checkpoint":'):
        line = jsonio.loads(lines.pop(), f"{path}: checkpoint line", limit=ENTRY_DEPTH)
        cps.append(Checkpoint.from_dict(line["checkpoint"] if isinstance(line, dict) else {}))
    log_id = cps[0].log_id if cps else None
    return verify_rows(((None, b, None) for b in lines), [], cps, keyring(trusted_keys), log_id)
