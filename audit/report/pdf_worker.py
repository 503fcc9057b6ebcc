"""A PDF printer started early, in its own process, so WeasyPrint's import overlaps the audit.

Importing WeasyPrint (Pango, fonts, its CSS machinery) takes about 0.75 s, a fixed cost of
every audit that writes a PDF. :meth:`PdfWorker.start` launches ``python -m
audit.report.pdf_worker`` when the audit starts; the child imports WeasyPrint while the parent
reads and summarises the data on the other core, then waits for the report's HTML on stdin and answers with the PDF's bytes, printed
by the same :func:`audit.report.pdf.render_pdf`, so the bytes are the same as in-process.
Anything unexpected (the child failed, timed out, or answered with an error) and the parent
prints in-process instead, with its usual errors: the worker can only save time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Longest wait for the child's PDF before printing in-process instead.
TIMEOUT_S = 600


class PdfWorker:
    """A child process ready to print one PDF (see the module docstring)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @classmethod
    def start(cls) -> PdfWorker | None:
        """A worker, or None where it cannot help: WeasyPrint is already imported here (a
        long-lived process printing many reports), or ``AUDIT_PDF_WORKER=0``."""
        if "weasyprint" in sys.modules or os.environ.get("AUDIT_PDF_WORKER") == "0":
            return None
        try:
            process = subprocess.Popen(
                # -P: the working directory is not put on sys.path, so an ``audit/`` folder
                # where the user runs the audit is never imported in place of ours
                [sys.executable, "-P", "-m", "audit.report.pdf_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            return None
        return cls(process)

    def render(self, html: str, template_dir: Path | None) -> bytes | None:
        """The PDF of ``html``, or None when the child could not print it."""
        folder = "" if template_dir is None else str(Path(template_dir).resolve())
        message = _frame(html.encode("utf-8")) + _frame(folder.encode("utf-8"))
        try:
            out, _ = self.process.communicate(message, timeout=TIMEOUT_S)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.close()
            return None
        if self.process.returncode != 0 or out[:1] != b"\0":
            return None
        size = int.from_bytes(out[1:9], "big")
        pdf = out[9:]
        return pdf if len(pdf) == size else None

    def close(self) -> None:
        """Stop the child if it is still running (an audit that failed before its PDF)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def _frame(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def _unframe(data: bytes, at: int) -> tuple[bytes, int]:
    size = int.from_bytes(data[at : at + 8], "big")
    return data[at + 8 : at + 8 + size], at + 8 + size


def main() -> int:
    import weasyprint  # noqa: F401 - the import is the cost this process takes off the audit

    from audit.report.pdf import render_pdf

    data = sys.stdin.buffer.read()
    html, at = _unframe(data, 0)
    folder, _ = _unframe(data, at)
    try:
        pdf = render_pdf(html.decode("utf-8"), Path(folder.decode("utf-8")) if folder else None)
    except Exception:  # noqa: BLE001 - the parent prints in-process, with its own errors
        sys.stdout.buffer.write(b"\1")
        return 0
    sys.stdout.buffer.write(b"\0" + _frame(pdf))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
