"""``audit log export`` and ``audit log verify`` as library calls."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..access import Checkpoint, LogVerification
from ..errors import InputError
from .session import Session


@dataclass(frozen=True)
class Exported:
    entries: int
    checkpoint: Checkpoint | None  # None: no signing identity, the export is unsigned


def export_log(session: Session, out: Path, passphrase_file: Path | None = None) -> Exported:
    """Write the access log to ``out`` (JSON Lines; never overwrites, never through a planted
    name) with a checkpoint freshly signed by the home's log key."""
    import io

    from ..safefs import create_file
    from .trust import log_key

    if os.path.lexists(out):
        raise InputError(f"{out} already exists", hint="choose a new file name")
    log = session.access.log
    key = log_key(session.home)
    checkpoint = log.checkpoint(key) if key is not None else None
    buf = io.BytesIO()
    n = log.export(buf, checkpoint)
    create_file(out, buf.getvalue())
    return Exported(n, checkpoint)


def verify_log(session: Session, checkpoint_files: list[Path]) -> LogVerification:
    """Verify the chain and every checkpoint: the log's own and those in ``checkpoint_files``."""
    external = [
        Checkpoint.from_dict(cp) for path in checkpoint_files for cp in checkpoints_in(path)
    ]
    from dataclasses import replace

    from ..errors import IntegrityError

    try:
        keys = session.log_keys()
    except IntegrityError as exc:  # the chain can still be checked, and say where it breaks
        found = session.access.log.verify({}, external)
        return replace(
            found, ok=False, problems=(f"trust configuration: {exc.message}", *found.problems)
        )
    return session.access.log.verify(keys, external)


def checkpoints_in(path: Path) -> list[dict[str, Any]]:
    """Checkpoints found in a log export, a bundle's attestation.json, or a checkpoint file."""
    from .. import jsonio
    from ..safefs import read_file

    try:
        text = read_file(path, limit=1 << 30).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"{path} is not UTF-8 text", hint="give a log export or attestation"
        ) from None
    found: list[dict[str, Any]] = []
    for line in text.splitlines() if path.suffix == ".jsonl" else [text]:
        if jsonio.max_depth(line.encode("utf-8")) > 32:
            raise InputError(f"{path}: JSON nested too deep to be a log export or attestation")
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "payload" in doc and "payloadType" in doc:  # DSSE envelope
            try:
                statement = jsonio.loads(base64.b64decode(doc["payload"]), path, limit=32)
            except (ValueError, TypeError):
                continue
            if not isinstance(statement, dict) or not isinstance(statement.get("predicate"), dict):
                continue
            cp = statement["predicate"].get("checkpoint")
            if cp:
                found.append(cp)
        elif isinstance(doc, dict) and isinstance(doc.get("checkpoint"), dict):
            found.append(doc["checkpoint"])
        elif isinstance(doc, dict) and doc.get("kind") and "root" in doc:
            found.append(doc)
    if not found:
        raise InputError(f"{path} holds no access-log checkpoint")
    return found
