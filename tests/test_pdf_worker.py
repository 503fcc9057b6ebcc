"""The PDF printer started early (audit/report/pdf_worker.py): a real child process, the same
bytes as printing in-process, and a fall-back to in-process printing when the child fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from audit.report.pdf import render_pdf
from audit.report.pdf_worker import PdfWorker
from audit.report.render import render_html

FIXTURE = Path(__file__).parent / "fixtures" / "report_example.json"


def _html() -> str:
    return render_html(json.loads(FIXTURE.read_text(encoding="utf-8")))


def _worker() -> PdfWorker:
    process = subprocess.Popen(
        [sys.executable, "-m", "audit.report.pdf_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    return PdfWorker(process)


def test_the_worker_prints_the_bytes_printed_in_process() -> None:
    html = _html()
    worker = _worker()
    try:
        printed = worker.render(html, None)
    finally:
        worker.close()
    assert printed is not None and printed.startswith(b"%PDF-")
    assert printed == render_pdf(html)
    assert worker.process.returncode == 0


def test_a_worker_that_died_gives_no_pdf_and_the_caller_prints_in_process(tmp_path) -> None:
    """A child killed before it answered (or one that answers with an error: a template folder
    that does not exist) yields None, never a partial PDF; PdfReport then prints in-process."""
    from audit.contract import Report
    from audit.report.formats.pdf import PdfReport

    dead = _worker()
    dead.process.kill()
    dead.process.wait()
    assert dead.render(_html(), None) is None
    refused = _worker()
    assert refused.render(_html(), tmp_path / "no-such-templates") is None
    refused.close()

    report = Report.model_validate(json.loads(FIXTURE.read_text(encoding="utf-8")))
    again = _worker()
    again.process.kill()
    again.process.wait()
    PdfReport(worker=again).write(report, tmp_path)
    assert (tmp_path / "report.pdf").read_bytes() == render_pdf(PdfReport().source.html(report))


def test_no_worker_where_weasyprint_is_already_loaded_or_it_is_switched_off(monkeypatch) -> None:
    import weasyprint  # noqa: F401 - loaded here: printing in-process costs no import

    assert PdfWorker.start() is None
    monkeypatch.delitem(sys.modules, "weasyprint")
    monkeypatch.setenv("AUDIT_PDF_WORKER", "0")
    assert PdfWorker.start() is None


def test_an_audit_package_in_the_working_directory_is_not_what_the_worker_runs(
    tmp_path, monkeypatch
) -> None:
    """Attack: run the audit in a folder holding its own ``audit/report/pdf_worker.py``. With
    ``python -m`` alone the child would import it from the working directory and run it; the
    worker starts Python with -P, so ours runs and the planted file never does."""
    planted = tmp_path / "audit" / "report"
    planted.mkdir(parents=True)
    for folder in (tmp_path / "audit", planted):
        (folder / "__init__.py").write_text("")
    marker = tmp_path / "planted-code-ran"
    (planted / "pdf_worker.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    worker = PdfWorker.start()
    assert worker is not None
    try:
        printed = worker.render(_html(), None)
    finally:
        worker.close()
    assert not marker.exists()
    assert printed is not None and printed.startswith(b"%PDF-")
