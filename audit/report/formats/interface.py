"""The renderer interface: every file of the bundle beside report.json is one :class:`Renderer`.

A renderer has a ``name``, the ``filenames`` it writes into the bundle folder, and
``write(report, folder)``; calling it (``renderer(report, folder)``) is the bundle writer's
signature. Every renderer reads the typed :class:`audit.contract.Report` alone (never live
objects of the pipeline), so a bundle can be re-rendered from its report.json and each file
checked against it. :class:`OutputFormat` is a renderer of one text file (junit.xml, summary.md).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from audit.contract import Artifact, Breach, Finding, PolicyInfo, Report

from ..typed import as_report


class Renderer(ABC):
    """One kind of bundle file: ``filenames`` written into the bundle folder by :meth:`write`."""

    name: ClassVar[str]
    filenames: ClassVar[tuple[str, ...]]

    @abstractmethod
    def write(self, report: Report, folder: Path) -> None:
        """Write this renderer's file(s) for ``report`` into ``folder``."""

    def __call__(self, report: Report | Mapping[str, Any], folder: Path) -> None:
        self.write(as_report(report), folder)


class OutputFormat(Renderer):
    """A rendering of the report into the text of one bundle file.

    ``name`` is the format's key in :data:`audit.report.formats.FORMATS` (what a user types);
    ``filename`` the file it is written as inside the bundle folder. ``reports_root`` is the
    reports folder as readers should see it (e.g. ``reports``, relative to the CI workspace):
    formats that point readers at the bundle print ``<root>/<name>/v<N>``; None leaves it out.
    """

    filename: ClassVar[str]

    def __init__(self, *, reports_root: str | None = None) -> None:
        self.reports_root = reports_root

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "filename" in cls.__dict__:
            cls.filenames = (cls.filename,)

    @abstractmethod
    def text(self, report: Report, *, bundle_path: str | None = None) -> str:
        """The file's text for ``report``.

        ``bundle_path`` is where the bundle will be found, as the reader should see it (e.g.
        ``reports/adult-income/v3``, relative to the repository or CI workspace); formats that
        point readers at the full report use it, others may ignore it. ``None`` leaves it out.
        """

    def render(self, report: Report | Mapping[str, Any], *, bundle_path: str | None = None) -> str:
        """:meth:`text` of ``report`` (a parsed report.json is validated into the typed report)."""
        return self.text(as_report(report), bundle_path=bundle_path)

    def write(self, report: Report, folder: Path) -> None:
        # The renderer runs in a temporary folder before the bundle is moved into place, so the
        # bundle's own location is derived from the report.
        root = self.reports_root
        where = bundle_location(report, root) if root is not None else None
        (folder / self.filename).write_text(self.text(report, bundle_path=where), "utf-8")


def bundle_location(report: Report | Mapping[str, Any], reports_root: str) -> str:
    """The bundle folder of ``report`` under ``reports_root``: ``<root>/<subject name>/v<N>``.

    Mirrors :meth:`audit.bundles.BundleStore.write`'s layout, in POSIX form for Markdown and CI.
    """
    typed = as_report(report)
    return str(PurePosixPath(reports_root) / typed.subject.name / f"v{typed.version}")


def short_digest(digest: str | None, length: int = 12) -> str:
    """The first ``length`` hex digits of a sha256 (enough to tell versions apart by eye)."""
    if not digest:
        return "none"
    return digest.removeprefix("sha256:")[:length]


def fmt_number(value: Any, digits: int = 4) -> str:
    """A metric value for people: ``digits`` significant digits, integers as integers."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def reference(part: Artifact | PolicyInfo | None) -> str:
    """``name@version`` of a model, dataset or policy of ``subject`` (version if known)."""
    if part is None:
        return "none"
    name = part.name or "unnamed"
    return f"{name}@{part.version}" if part.version not in (None, "") else name


def rule_location(item: Finding | Breach) -> str | None:
    """Where a rule (or one of its breaches) was judged: ``feature=group``, one of them, or None."""
    if item.feature is not None and item.group is not None:
        return f"{item.feature}={item.group}"
    return item.feature if item.feature is not None else item.group
