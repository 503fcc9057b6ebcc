"""Hostile report templates (the spec's ``templates`` folder is the user's): confined to their
folder, bounded in time and size, and every failure an InputError (exit 2) naming the template.

Before :mod:`audit.report.sandbox`, Jinja2's FileSystemLoader followed a symlink planted in the
templates folder, so ``{% include "key.pem" %}`` copied a private key into report.html (and the
signed PDF); a ZeroDivisionError in a template was an internal error (exit 5); nested loops or
``"x" * 10**10`` ran until the machine gave out.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from audit.cli import main
from audit.errors import InputError
from audit.report import sandbox
from audit.report.render import default_template_dir, render_html
from tests.conftest import SAMPLES

FIXTURE = Path(__file__).parent / "fixtures" / "report_example.json"
SECRET = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHNlY3JldA==\n"


@pytest.fixture
def report() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text("utf-8"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    mine = tmp_path / "templates"
    shutil.copytree(default_template_dir(), mine)
    return mine


def _template(folder: Path, text: str) -> None:
    (folder / "report.html.j2").write_text(text, encoding="utf-8")


def _german_spec(tmp_path: Path, templates: Path) -> Path:
    data = yaml.safe_load((SAMPLES / "german" / "audit.yaml").read_text("utf-8"))
    for key in ("model", "dataset", "policy"):
        data[key] = str(SAMPLES / "german" / data[key])
    data["explain"]["reason_codes"] = str(SAMPLES / "german" / data["explain"]["reason_codes"])
    data.update(templates=str(templates), output=str(tmp_path / "out"))
    spec = tmp_path / "audit.yaml"
    spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    return spec


def test_symlink_to_a_private_key_in_the_templates_folder_is_refused_by_audit_run(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "private.pem"
    key.write_text(SECRET, encoding="utf-8")
    (folder / "key.pem").symlink_to(key)
    page = (folder / "report.html.j2").read_text("utf-8")
    _template(folder, page.replace("</body>", '<pre>{% include "key.pem" %}</pre></body>', 1))
    spec = _german_spec(tmp_path, folder)
    argv = ["run", str(spec), "--no-pdf", "--no-sign", "--explain-sample-size", "20"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"refusing to read {folder / 'key.pem'}" in err and "Traceback" not in err
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert not any("BEGIN PRIVATE KEY" in p.read_text("utf-8", "replace") for p in written)


def test_a_hard_linked_or_copied_private_key_in_the_templates_folder_is_refused(
    report: dict[str, Any], tmp_path: Path, folder: Path
) -> None:
    """A hard link is no symlink: O_NOFOLLOW opens it. Before, `{% include "k.pem" %}` of a
    hard link to the home's attestation key put the key into the signed report.html."""
    key = tmp_path / "attestation.key.pem"
    key.write_text(SECRET, encoding="utf-8")
    os.link(key, folder / "k.pem")
    _template(folder, '<pre>{% include "k.pem" %}</pre>')
    with pytest.raises(InputError, match="hard link"):
        render_html(report, folder)
    (folder / "k.pem").unlink()
    shutil.copy(key, folder / "k.pem")  # a copy is no link at all: refused for what it holds
    with pytest.raises(InputError, match="holds a private key"):
        render_html(report, folder)


@pytest.mark.parametrize("linked", ["report.html.j2", "report.css"])
def test_the_page_or_stylesheet_itself_as_a_symlink_is_refused(
    report: dict[str, Any], tmp_path: Path, folder: Path, linked: str
) -> None:
    real = tmp_path / f"real-{linked}"
    shutil.move(folder / linked, real)
    (folder / linked).symlink_to(real)
    with pytest.raises(InputError, match=f"refusing to read {folder / linked}"):
        render_html(report, folder)


@pytest.mark.parametrize("name", ["../secret.txt", "/etc/passwd", "sub/../../secret.txt"])
def test_includes_outside_the_folder_are_refused(
    report: dict[str, Any], tmp_path: Path, folder: Path, name: str
) -> None:
    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    _template(folder, f'{{% include "{name}" %}}')
    with pytest.raises(InputError, match="outside the template folder"):
        render_html(report, folder)


def test_an_include_inside_the_folder_still_works(report: dict[str, Any], folder: Path) -> None:
    (folder / "parts").mkdir()
    (folder / "parts" / "footer.j2").write_text("footer of {{ subject.name }}", encoding="utf-8")
    _template(folder, '{% include "parts/footer.j2" %}')
    assert render_html(report, folder) == f"footer of {report['subject']['name']}"


@pytest.mark.parametrize(
    "text, message",
    [
        ("line one\n\n{{ 1 // 0 }}\n", "report.html.j2, line 3 failed: ZeroDivisionError"),
        ("{{ 'x'.center(3) }}\n{{ report.nope }}", "line 2 uses a field the report does not have"),
        (
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(1) }}",
            "recursed too deeply (a macro calling itself?)",
        ),
        ("{{ 'x' * 10**10 }}", "repeats a value past the output bound"),
        ("{{ 2 ** 1000000 }}", "2 ** 1000000 is too large a number for a report"),
        ("{{ ''.__class__.__mro__ }}", "refuses"),
    ],
)
def test_failing_templates_name_the_file_and_line(
    report: dict[str, Any], folder: Path, text: str, message: str
) -> None:
    _template(folder, text)
    with pytest.raises(InputError) as info:
        render_html(report, folder)
    assert message in info.value.message
    assert str(folder / "report.html.j2") in info.value.message


def test_runaway_loops_stop_at_the_time_budget(
    report: dict[str, Any], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10**10 empty iterations: no call, no output, only the loop guard sees them."""
    monkeypatch.setattr(sandbox, "MAX_RENDER_SECONDS", 0.5)
    _template(
        folder, "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    )
    with pytest.raises(InputError, match=r"ran longer than 0.5 s"):
        render_html(report, folder)


def test_output_past_the_bound_is_refused(
    report: dict[str, Any], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "MAX_OUTPUT_CHARS", 1_000_000)
    _template(folder, "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}")
    with pytest.raises(InputError, match="rendered page is larger than 1000000 characters"):
        render_html(report, folder)


def test_bidi_and_control_characters_from_the_report_are_visible_in_html(
    report: dict[str, Any],
) -> None:
    """A system name with U+202E would display reversed text in the HTML and the PDF."""
    report["subject"]["name"] = "credit\u202etxt.exe\x1b[2J"
    html = render_html(report)
    assert "\u202e" not in html and "\x1b" not in html
    assert "credit\\u202etxt.exe\\x1b[2J" in html
    assert "\u202f" in html  # the tool's own narrow no-break spaces stay
