"""An endpoint model's provenance in report.json (``subject.model.endpoint``): the calls made
and the digest of every response. Filled in by issue #20 part 3."""

from __future__ import annotations

from .base import Section


class EndpointCalls(Section):
    """What the audit sent to and received from a model endpoint."""
