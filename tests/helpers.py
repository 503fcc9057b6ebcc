"""Small helpers shared by tests."""

from __future__ import annotations

from typing import Any

from audit.contract import Section


def as_json(section: Any) -> Any:
    """JSON data of a typed report section (or a dict of them), as written to report.json."""
    if isinstance(section, Section):
        return section.to_json()
    if isinstance(section, dict):
        return {k: as_json(v) for k, v in section.items()}
    return section
