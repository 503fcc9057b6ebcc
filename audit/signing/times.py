"""Signing times as text: ``2026-01-31T12:00:00Z`` (UTC, whole seconds), as attested and listed."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["parse_utc", "utc_text"]


def utc_text(moment: datetime) -> str:
    """``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    """An ISO-8601 time (``Z`` or an offset); a time without a zone is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
