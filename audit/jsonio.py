"""Bounded JSON: refuse nesting deeper than a limit before any parser recurses into it.

``json.loads``, pydantic and XGBoost's own reader recurse once per level, so a file of a million
``[`` costs a RecursionError (a traceback, exit 5) or a crash inside a C++ library.
:func:`check_depth` scans the bytes without recursion - strings are skipped, only brackets count -
and raises :class:`~audit.errors.InputError` (exit 2) naming the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .errors import InputError

#: Deepest nesting accepted. XGBoost trees are flat arrays inside ~6 levels of objects, and a
#: report.json stays under 15 levels, so this is generous.
MAX_DEPTH = 200

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def max_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON ``data`` (0 for a scalar)."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKET)
    depth = deepest = 0
    for run in re.finditer(rb"[\[{]+|[\]}]+", brackets):
        n = run.end() - run.start()
        if brackets[run.start()] in b"[{":
            depth += n
            deepest = max(deepest, depth)
        else:
            depth -= n
    return deepest


def check_depth(data: bytes, source: str | Path, limit: int = MAX_DEPTH) -> None:
    """Raise InputError naming ``source`` if ``data`` nests deeper than ``limit`` levels."""
    depth = max_depth(data)
    if depth > limit:
        raise InputError(
            f"{source}: JSON nested {depth} levels deep; audit reads at most {limit}",
            hint="this is not a file audit wrote or a model library saved; check its origin",
        )


def loads(data: bytes | str, source: str | Path, limit: int = MAX_DEPTH) -> Any:
    """``json.loads`` after :func:`check_depth`; InputError naming ``source`` if not JSON."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    check_depth(raw, source, limit)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{source}: not valid JSON ({exc})") from None
