"""Report bundles on disk: the one reader of report.json and the versioned bundle store.

- :class:`Bundle`: one bundle folder (``<reports>/<name>/v<N>/``); ``bundle.report`` is the
  parsed report.json, read by :func:`read_report`, the only place that parses it;
- :class:`BundleStore`: the reports folder: list, open and export bundles, and write the next
  version atomically.

Bottom of the import graph beside :mod:`audit.errors`: it imports nothing else of audit.
"""

from .bundle import REPORT_FILE, VERSION_DIR, Bundle, read_report
from .store import BundleStore, NewReport, ReportBuilder, versions

__all__ = [
    "REPORT_FILE",
    "VERSION_DIR",
    "Bundle",
    "BundleStore",
    "NewReport",
    "ReportBuilder",
    "read_report",
    "versions",
]
