"""``audit policy init`` as a library call: a starter policy for a dataset file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError


def starter_policy_for(
    dataset: Path, name: str, label: str | None, sensitive: Sequence[str]
) -> str:
    """YAML text of a starter policy for the columns of ``dataset`` (CSV or Parquet); the named
    ``label`` and ``sensitive`` columns must exist (InputError listing the columns if not)."""
    from ..data import read_table
    from ..policy.starter import starter_policy

    frame = read_table(dataset)
    missing = [c for c in [*sensitive, *([label] if label else [])] if c not in frame.columns]
    if missing:
        raise InputError(
            f"{dataset}: no column(s) {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(map(str, frame.columns))})",
            hint="name columns exactly as in the dataset's header",
        )
    return starter_policy(name, frame.head(100_000), label, list(sensitive))
