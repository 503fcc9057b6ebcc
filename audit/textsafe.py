"""Untrusted text made safe to show: control characters, ANSI escapes and bidi controls visible.

A resource name, an actor, a column name or a group label comes from a user or a dataset. Printed
raw it can forge a line of ``audit log show`` (a ``\\n`` followed by a fake entry), repaint the
terminal (``\\x1b[...`` ANSI sequences, ``\\r`` to overwrite), or reorder what a reader sees
(Unicode bidi overrides such as U+202E, "Trojan Source"). :func:`printable` writes each such
character as a visible escape - ``\\n``, ``\\x1b``, ``\\u202e`` - and leaves every other
character, ordinary Unicode included (é, 中文), as it is.
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

#: Bidi embeddings, overrides, isolates and marks; invisible zero-width characters; line and
#: paragraph separators (some terminals and viewers break lines on them).
_INVISIBLE = "\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff"

#: C0 controls, DEL, C1 controls, and the characters above.
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep: str = "") -> str:
    """``text`` with every control, ANSI-escape and bidi character written as a visible escape.

    ``keep`` names characters to leave alone: ``"\\n"`` for a multi-line message the tool
    itself composed, ``"\\n\\r\\t"`` for HTML, where they are only white space.
    """
    text = str(text)
    if keep:
        return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)
    return _UNSAFE.sub(_escape, text)


#: A cell a spreadsheet reads as a formula (OWASP "CSV injection"): = + - @, or a tab or carriage
#: return before one of them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: object) -> object:
    """A value for a CSV cell that no spreadsheet evaluates: a string from data or a user that
    starts like a formula gets a leading ``'``; a plain number (-0.25, "-3") is left as it is,
    since a spreadsheet reads it as that number and nothing else. Non-strings pass unchanged."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value
