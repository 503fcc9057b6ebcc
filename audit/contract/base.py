"""Shared building blocks of the typed report: a frozen, strict base model and scalar types.

Every section of report.json is a :class:`Section`: frozen (a report is evidence; nothing edits it
after it is built), ``extra="forbid"`` (a misspelt or unknown key is an error, never silently
kept). Fields without a default are always written; fields with a default are written only when
the producer set them (``exclude_unset``), so optional parts (score statistics, a model's
registry metadata) appear exactly when they apply and a report read back dumps to the same bytes.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

#: A JSON number as produced: ints stay ints (``30``), floats stay floats (``0.8``).
Num = int | float
#: A JSON scalar (diff values, positive labels, row ids).
Scalar = str | int | float | bool | None
#: A two-sided interval ``[low, high]``.
Interval = Annotated[list[float], Field(min_length=2, max_length=2)]
#: A sha256 hex digest.
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Section(BaseModel):
    """Base of every typed report section (frozen, unknown keys rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_json(self) -> Any:
        """JSON-ready data: aliases as keys, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
