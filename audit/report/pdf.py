"""Print the report HTML to PDF with WeasyPrint, fetching nothing outside the template folder.

The HTML from ``render_html`` is self-contained, but a user-supplied template could still refer
to ``file:///etc/passwd``, an ``http://`` tracker or a ``../../secret`` path through ``<img>``,
``<link>``, ``@import``, ``url()`` or ``<a rel=attachment>`` (which WeasyPrint embeds as a PDF
attachment). The PDF is handed to auditors, so anything fetched would leak into it. The fetcher
here therefore allows only:

* ``data:`` URLs (the content is already in the HTML), and
* ``file:`` URLs whose resolved path (symlinks followed, ``..`` collapsed) lies inside the
  template folder.

Everything else raises ``ResourceRefused``; WeasyPrint logs it and leaves the resource out.
"""

from __future__ import annotations

import contextlib
import functools
import mimetypes
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from audit.errors import InputError
from audit.report.render import default_template_dir

__all__ = ["ResourceRefused", "render_pdf", "template_folder_fetcher"]


class ResourceRefused(ValueError):
    """A resource outside the allowed set was requested; WeasyPrint skips it and logs why."""


def _weasyprint() -> tuple[Any, type, type]:
    # Imported lazily: WeasyPrint loads Pango through cffi, which takes about a second and needs
    # system libraries that JSON-only users of the report package do not need.
    try:
        import weasyprint
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except (ImportError, OSError) as exc:  # OSError: Pango/HarfBuzz shared libraries missing
        raise InputError(
            f"cannot load WeasyPrint to write the PDF report: {exc}",
            hint="install weasyprint and its system libraries (Pango), see "
            "the WeasyPrint installation guide",
        ) from exc
    return weasyprint, URLFetcher, URLFetcherResponse


@functools.cache
def _fetcher_class() -> type:
    _, url_fetcher, response_class = _weasyprint()

    class _Fetcher(url_fetcher):  # type: ignore[misc, valid-type]
        """WeasyPrint fetcher restricted to ``data:`` URLs and files inside ``root``."""

        def __init__(self, root: Path) -> None:
            # allowed_protocols is a second fence; fail_on_errors=False makes WeasyPrint skip a
            # refused resource (and log it) instead of aborting the whole PDF.
            super().__init__(allowed_protocols=("data", "file"), fail_on_errors=False)
            self.root = root.resolve()

        def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
            scheme = urlsplit(url).scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme != "file":
                raise ResourceRefused(f"refused to fetch {url!r}: only data: URLs are allowed")
            path = self.resolve_inside(url)
            from .sandbox import read_template_file

            try:
                body = read_template_file(path, self.root)
            except InputError as exc:
                raise ResourceRefused(f"refused to fetch {url!r}: {exc.message}") from None
            mime, _ = mimetypes.guess_type(path.name)
            content_type = mime or "application/octet-stream"
            if content_type.startswith("text/"):
                content_type += "; charset=utf-8"
            return response_class(
                url=path.as_uri(), body=body, headers={"Content-Type": content_type}
            )

        def resolve_inside(self, url: str) -> Path:
            """The file a ``file:`` URL names, if it resolves to a path inside ``root``."""
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                raise ResourceRefused(f"refused to fetch {url!r}: remote file host")
            path = Path(url2pathname(parts.path)).resolve()  # url2pathname unquotes once
            if not path.is_relative_to(self.root) or not path.is_file():
                raise ResourceRefused(
                    f"refused to fetch {url!r}: not a file inside the template folder {self.root}"
                )
            return path

    return _Fetcher


def template_folder_fetcher(root: Path) -> Any:
    """A WeasyPrint ``URLFetcher`` that serves only ``data:`` URLs and files inside ``root``.

    Pass it as ``url_fetcher=`` to ``weasyprint.HTML`` or ``weasyprint.CSS``.
    """
    return _fetcher_class()(root)


_CREATED = re.compile(r'<meta name="dcterms\.created" content="([^"]+)"')


@contextlib.contextmanager
def _font_timestamps(html: str) -> Iterator[None]:
    """Font subsets stamped with the report's creation time, not the clock.

    fontTools writes each embedded subset's ``head.modified`` from ``SOURCE_DATE_EPOCH`` when
    it is set, else from the current time, which made two prints of the same HTML differ.
    """
    from datetime import datetime

    found = _CREATED.search(html)
    epoch = 0
    if found:
        with contextlib.suppress(ValueError):
            epoch = int(datetime.fromisoformat(found.group(1).replace("Z", "+00:00")).timestamp())
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(max(epoch, 0))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before


def render_pdf(html: str, template_dir: Path | None = None) -> bytes:
    """Print ``html`` (from ``render_html``) to an A4 PDF and return its bytes.

    Page layout (A4, running header, "Report <id>" and "Page X of Y" footer, page breaks before
    each section after the summary) comes from the ``@page`` rules in the inlined stylesheet.
    Relative references resolve against ``template_dir`` and only files inside it (or ``data:``
    URLs) are fetched. The PDF's creation and modification dates come from the
    ``dcterms.created`` / ``dcterms.modified`` meta elements (the report's ``created_at``), so
    do the embedded font subsets' timestamps, and no random file identifier is written, so the
    same HTML gives the same bytes.
    """
    folder = Path(template_dir) if template_dir is not None else default_template_dir()
    if not folder.is_dir():
        raise InputError(
            f"template folder {folder} does not exist",
            hint="point template_dir at the folder holding report.html.j2 and report.css",
        )
    weasyprint, _, _ = _weasyprint()
    document = weasyprint.HTML(
        string=html,
        base_url=str(folder.resolve()) + "/",
        url_fetcher=template_folder_fetcher(folder),
    )
    with _font_timestamps(html):
        pdf = document.write_pdf(pdf_identifier=None, uncompressed_pdf=False)
    if not isinstance(pdf, bytes):  # pragma: no cover - write_pdf returns bytes without a target
        raise TypeError("WeasyPrint returned no PDF bytes")
    return pdf
