"""Output formats of the report bundle beside report.json: JUnit XML and a Markdown summary.

One interface (:class:`OutputFormat`) and one module per format, as in pip-audit's ``_format``.
:data:`FORMATS` maps each format's name to its implementation; :func:`format_renderer` adapts a
format to the bundle writer's renderer signature ``(report, folder) -> None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .interface import OutputFormat, bundle_location
from .junit import JUnitFormat
from .markdown import MarkdownFormat

FORMATS: dict[str, OutputFormat] = {f.name: f for f in (JUnitFormat(), MarkdownFormat())}


def format_renderer(
    fmt: OutputFormat, *, reports_root: str | None = None
) -> Callable[[Mapping[str, Any], Path], None]:
    """A bundle renderer writing ``fmt.filename`` into the bundle folder it is given.

    ``reports_root`` is the reports folder as readers should see it (e.g. ``reports``, relative
    to the CI workspace); the bundle's own location ``<root>/<name>/v<N>`` is derived from the
    report, because the renderer runs in a temporary folder before the bundle is moved into place.
    """

    def render(report: Mapping[str, Any], folder: Path) -> None:
        where = bundle_location(report, reports_root) if reports_root is not None else None
        text = fmt.render(report, bundle_path=where)
        (folder / fmt.filename).write_text(text, encoding="utf-8")

    return render


__all__ = [
    "FORMATS",
    "JUnitFormat",
    "MarkdownFormat",
    "OutputFormat",
    "bundle_location",
    "format_renderer",
]
