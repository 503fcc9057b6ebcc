"""One error hierarchy for `audit`.

Every error carries a message a user can act on (what went wrong, where, and how to fix it) and
maps to exactly one documented exit code. Only the CLI turns these into exit codes and output.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class. ``exit_code`` is the CLI's documented exit code for this kind of error."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """What happened and what to do about it, for a human reader."""
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class InputError(AuditError):
    """Bad input or usage: unreadable file, invalid spec or policy, missing column (exit 2)."""

    exit_code = 2


class IntegrityError(AuditError):
    """A digest, signature or log chain does not verify (exit 3)."""

    exit_code = 3


class AccessDenied(AuditError):
    """Refused by role-based access control (exit 4)."""

    exit_code = 4
