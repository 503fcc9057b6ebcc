"""The output-format interface: one rendering of report.json, written as one file of the bundle.

Every format renders from the canonical report.json document alone (never from live objects), so
a bundle can be re-rendered, and a reader can check each file against the JSON it came from.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, ClassVar


class OutputFormat(ABC):
    """A rendering of report.json into the text of one bundle file.

    ``name`` is the format's key in :data:`audit.report.formats.FORMATS` (what a user types);
    ``filename`` the file it is written as inside the bundle folder.
    """

    name: ClassVar[str]
    filename: ClassVar[str]

    @abstractmethod
    def render(self, report: Mapping[str, Any], *, bundle_path: str | None = None) -> str:
        """The file's text for ``report``.

        ``bundle_path`` is where the bundle will be found, as the reader should see it (e.g.
        ``reports/adult-income/v3``, relative to the repository or CI workspace); formats that
        point readers at the full report use it, others may ignore it. ``None`` leaves it out.
        """


def bundle_location(report: Mapping[str, Any], reports_root: str) -> str:
    """The bundle folder of ``report`` under ``reports_root``: ``<root>/<subject name>/v<N>``.

    Mirrors :func:`audit.report.bundle.write_bundle`'s layout, in POSIX form for Markdown and CI.
    """
    name = str(report["subject"]["name"])
    return str(PurePosixPath(reports_root) / name / f"v{report['version']}")


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


def reference(part: Mapping[str, Any] | None) -> str:
    """``name@version`` of a model, dataset or policy entry of ``subject`` (version if known)."""
    if not part:
        return "none"
    name = str(part.get("name") or "unnamed")
    version = part.get("version")
    return f"{name}@{version}" if version not in (None, "") else name


def rule_location(rule: Mapping[str, Any]) -> str | None:
    """Where a rule was judged: ``feature=group``, the feature alone, or ``None``."""
    feature, group = rule.get("feature"), rule.get("group")
    if feature is not None and group is not None:
        return f"{feature}={group}"
    if feature is not None:
        return str(feature)
    if group is not None:
        return str(group)
    return None
