"""Names the tool turns into folder and file names: systems, registry entries, versions.

A system name becomes ``<output>/<name>/v<N>/``; a registry name and version become RBAC resources
and log entries. A name derived from input the tool does not control (a model file's stem, an
MLflow model name, a ``<name>@<N>`` baseline reference, a ``--name`` flag) must therefore be a
plain name, never a path: ``...skops`` has the stem ``..``, and a bundle named ``..`` would be
written beside the output folder instead of inside it. Every derived name goes through
:func:`check_name` (versions through :func:`check_version`), the same rule the spec's ``name``
obeys: a letter or digit first (so never ``.``, ``..`` or a hidden file), then letters, digits,
``.``, ``_`` and ``-``; no ``/``, no ``\\``, no whitespace or control characters; at most 128
characters (a folder name must fit in every file system).
"""

from __future__ import annotations

import re

from .errors import InputError

__all__ = ["NAME", "VERSION", "check_name", "check_version", "is_name", "is_version"]

#: A system, model or dataset name (the spec's ``name`` and every name derived in its place).
NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
#: A registry version: like a name, and ``+`` for local version labels (``1.2+build5``).
VERSION = r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}"

_NAME = re.compile(f"^{NAME}$")
_VERSION = re.compile(f"^{VERSION}$")

_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128"


def is_name(value: object) -> bool:
    """True when ``value`` is a plain name (see the module docstring)."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def is_version(value: object) -> bool:
    """True when ``value`` is a plain version."""
    return isinstance(value, str) and _VERSION.fullmatch(value) is not None


def check_name(value: str, what: str, *, hint: str | None = None) -> str:
    """``value`` if it is a plain name, else InputError (exit 2) naming ``what`` it is."""
    if not is_name(value):
        raise InputError(
            f"{what} {value!r} is not a plain name ({_RULE} characters): it would name a "
            "folder outside the one meant",
            hint=hint or "choose a name of letters, digits, '.', '_' and '-'",
        )
    return value


def check_version(value: str, what: str, *, hint: str | None = None) -> str:
    """``value`` if it is a plain version, else InputError (exit 2)."""
    if not is_version(value):
        raise InputError(
            f"{what} {value!r} is not a plain version (letters, digits, '.', '_', '+' and '-', "
            "starting with a letter or digit, at most 64 characters)",
            hint=hint or "for example --version 3 or --version 2024.06-rc1",
        )
    return value
