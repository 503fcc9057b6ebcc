"""Render the typed report (:class:`audit.contract.Report`) as one self-contained HTML page.

The HTML is what an auditor reads in a browser and what the PDF is printed from, so it carries
everything inline: the stylesheet is read from the template folder and put in a ``<style>``
element, charts are inline SVG, and nothing refers to a script, font, image or URL.

Templates are data, not code: users may point ``template_dir`` at their own folder, so the
templates run in Jinja2's immutable sandbox (no access to Python internals such as
``__globals__``), read only from inside that folder with no symlink followed, with bounded time
and output (:mod:`audit.report.sandbox`), with autoescaping on (a group label such as
``<script>`` is shown, never run) and ``StrictUndefined`` (a field the template expects but the
report lacks is an error, not a blank). Every value a template prints has its control and bidi
characters made visible (:func:`audit.textsafe.printable`): a group label with U+202E cannot
reorder what the reader of the HTML or PDF sees. Any failure of a template is an InputError naming
the template file and line.
The template reads the typed report by attribute (``report.subject.dataset.rows``); the metric
columns of its per-group tables come from the metric catalogue (:mod:`audit.contract.metrics`).
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from audit.contract import CATALOGUE, GROUP_METRICS, Artifact, Finding, GroupMetric, Report, Section
from audit.contract.metrics import needs_label
from audit.errors import InputError
from audit.report.charts import (
    beeswarm_chart,
    group_importance_chart,
    importance_chart,
    importance_interval_chart,
    rate_chart,
    selection_rate_chart,
    waterfall_chart,
)
from audit.report.charts.continuous import mean_prediction_chart
from audit.report.charts.trend import trend_chart
from audit.report.sandbox import (
    BoundedSandbox,
    ConfinedLoader,
    read_template_file,
    render_bounded,
)
from audit.report.typed import as_report
from audit.textsafe import printable

__all__ = [
    "default_template_dir",
    "render_html",
    "template_context",
    "TEMPLATE_NAME",
    "STYLESHEET_NAME",
]

TEMPLATE_NAME = "report.html.j2"
STYLESHEET_NAME = "report.css"

_STATUS_SYMBOLS = {
    "pass": "\u2713",
    "fail": "\u2717",
    "warn": "!",
    "skipped": "\u2013",
    "waived": "\u2298",
}


def default_template_dir() -> Path:
    """The folder holding ``report.html.j2`` and ``report.css``.

    In a source checkout that is ``<repo>/report_templates``; an installed wheel has no repo
    root, so fall back to the copy shipped as package data in ``audit/report/templates``.
    """
    repo_templates = Path(__file__).resolve().parents[2] / "report_templates"
    if repo_templates.is_dir():
        return repo_templates
    return Path(__file__).resolve().parent / "templates"


# -- number formatting ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def fmt_rate(value: Any) -> str:
    """A rate or ratio to 3 decimals; ``None`` (undefined, e.g. 0/0) and NaN as "n/a"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if _is_number(value):
        return f"{value:.3f}"
    return str(value)


def fmt_count(value: Any) -> str:
    """A count with thousands separators (16,281); ``None`` as "n/a"."""
    if value is None:
        return "n/a"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return fmt_rate(value)


def fmt_number(value: Any) -> str:
    """Integers as counts, floats to 3 decimals, tiny floats in scientific notation."""
    if isinstance(value, int) and not isinstance(value, bool):
        return fmt_count(value)
    if isinstance(value, float) and math.isfinite(value) and value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return fmt_rate(value)


def fmt_percent(value: Any) -> str:
    """A share in [0, 1] as a percentage with one decimal (0.271 -> "27.1 %")."""
    if not _is_number(value) or not math.isfinite(value):
        return "n/a"
    return f"{value * 100:.1f}\u202f%"


def short_digest(value: Any) -> str:
    """First 12 hex digits of a digest, without its ``sha256:`` prefix."""
    if not value:
        return "n/a"
    text = str(value)
    return text.split(":", 1)[-1][:12]


def breakable(value: Any) -> Markup:
    """Escape ``value`` and allow line breaks after ``_ - & . /`` (identifiers in narrow cells)."""
    text = str(escape("n/a" if value is None else value))
    for char in ("_", "-", ".", "/"):
        text = text.replace(char, char + "<wbr>")
    text = text.replace("&amp;", "&amp;<wbr>")
    return Markup(text)


def fmt_interval(value: Any) -> str:
    """A confidence interval [low, high] as "0.412–0.498"; missing or null as "n/a"."""
    if isinstance(value, list | tuple) and len(value) == 2 and all(map(_is_number, value)):
        return f"{fmt_rate(value[0])}\u2013{fmt_rate(value[1])}"
    return "n/a"


def fmt_p(value: Any) -> str:
    """A p-value to 3 significant digits, "< 0.001" below that; None as "n/a"."""
    if not _is_number(value) or not math.isfinite(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def fmt_setting(value: Any) -> str:
    """A run setting as a reader wants it: ``None`` as "not set", booleans as yes/no, numbers
    formatted like the rest of the report, lists joined with commas."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _is_number(value):
        return fmt_number(value)
    if isinstance(value, list | tuple):
        return ", ".join(fmt_setting(v) for v in value) or "none"
    if isinstance(value, Section):
        value = dict(fields(value))
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {fmt_setting(v)}" for k, v in value.items()) or "none"
    return str(value)


def breached_by(rules: list[Finding], feature: str, group: str) -> list[str]:
    """Ids of the failed or warned rules whose breaches name this feature's group."""
    return [
        rule.id
        for rule in rules
        if rule.status in ("fail", "warn")
        and any(b.feature == feature and b.group == group for b in rule.breaches)
    ]


def humanize(name: Any) -> str:
    """``equal_opportunity_difference`` -> ``equal opportunity difference``."""
    return str(name).replace("_", " ")


def artifact_ref(artifact: Artifact | None) -> str:
    """``name@version`` for a registered artifact, ``file.ext (file)`` for one given by path."""
    if artifact is None:
        return "none (recorded decisions were audited)"
    if artifact.version is None:
        return f"{artifact.path or artifact.name} (file)"
    return f"{artifact.name}@{artifact.version}"


def fields(section: Section) -> list[tuple[str, Any]]:
    """The fields ``section`` has in report.json, in its key order: ``(key, value)`` pairs.

    A field left out of report.json (an optional part that does not apply) is left out here.
    """
    return [
        (info.alias or name, getattr(section, name))
        for name, info in type(section).model_fields.items()
        if name in section.model_fields_set
    ]


def has(section: Any, key: str) -> bool:
    """Whether ``section`` has the field ``key`` (its report.json key) in report.json."""
    if not isinstance(section, Section):
        return False
    names = {info.alias or name: name for name, info in type(section).model_fields.items()}
    return names.get(key, key) in section.model_fields_set


#: Today's column order of the per-group tables; metrics added to the catalogue follow.
_TABLE_ORDER = {
    "groups": ("selection_rate", "tpr", "fpr", "ppv", "impact_ratio"),
    "appendix": ("base_rate", "fnr", "tnr", "npv", "fdr", "for", "accuracy"),
    "scoring": ("scoring_rate", "scoring_impact_ratio", "mean_score", "auc", "ece"),
}


def metric_header(name: str) -> str:
    """A catalogued metric's column header (``TPR``, ``Scoring rate``); else the name in words."""
    metric = CATALOGUE.get(name)
    return metric.header if metric else humanize(name)


def metric_columns(table: str, labelled: bool = True) -> list[GroupMetric]:
    """The catalogued metrics shown as columns of ``table`` (``groups``, ``appendix``,
    ``scoring``), in display order: today's columns first, then catalogue additions. With
    ``labelled`` False (the audit has no label) the metrics that need the label are left out."""
    known = _TABLE_ORDER.get(table, ())
    listed = [
        m for m in GROUP_METRICS if m.table == table and (labelled or not needs_label(m.name))
    ]
    order = {name: i for i, name in enumerate(known)}
    return sorted(listed, key=lambda m: order.get(m.name, len(known)))


def status_symbol(status: Any) -> str:
    """A glyph for a rule status, shown beside the word (colour is never the only signal)."""
    return _STATUS_SYMBOLS.get(str(status), "?")


# -- environment -------------------------------------------------------------------------------


def _visible(value: Any) -> Any:
    """Every printed value with its control and bidi characters shown (white space kept)."""
    if isinstance(value, Markup):
        return Markup(printable(value, keep="\n\r\t"))  # adds no markup: still safe
    if isinstance(value, str):
        return printable(value, keep="\n\r\t")
    return value


def _environment(template_dir: Path) -> BoundedSandbox:
    env = BoundedSandbox(
        loader=ConfinedLoader(template_dir),
        finalize=_visible,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        rate=fmt_rate,
        count=fmt_count,
        number=fmt_number,
        percent=fmt_percent,
        interval=fmt_interval,
        p_value=fmt_p,
        short_digest=short_digest,
        breakable=breakable,
        humanize=humanize,
        status_symbol=status_symbol,
        ref=artifact_ref,
        setting=fmt_setting,
    )
    env.globals.update(
        selection_rate_chart=selection_rate_chart,
        rate_chart=rate_chart,
        breached_by=breached_by,
        importance_chart=importance_chart,
        importance_interval_chart=importance_interval_chart,
        beeswarm_chart=beeswarm_chart,
        group_importance_chart=group_importance_chart,
        waterfall_chart=waterfall_chart,
        trend_chart=trend_chart,
        mean_prediction_chart=mean_prediction_chart,
        is_number=_is_number,
        fields=fields,
        metric_columns=metric_columns,
        metric_header=metric_header,
        needs_label=needs_label,
    )
    env.tests.update(has=has)
    env.wrap_filters()
    return env


def _read_stylesheet(template_dir: Path) -> Markup:
    path = template_dir / STYLESHEET_NAME
    if not path.exists() and not path.is_symlink():
        raise InputError(
            f"cannot read the report stylesheet {path}: it does not exist",
            hint=f"put a {STYLESHEET_NAME} next to {TEMPLATE_NAME} in the template folder",
        )
    try:
        css = read_template_file(path, template_dir).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the report stylesheet {path} is not UTF-8 text: {exc}") from None
    # The stylesheet goes verbatim into a <style> element: "</style" would end it early and let
    # the rest of the file be parsed as HTML.
    if "</style" in css.lower():
        raise InputError(
            f"the report stylesheet {path} contains '</style', which would break out of the "
            "inline <style> element",
            hint="remove the '</style' text from the stylesheet",
        )
    return Markup(css)


def template_context(report: Report | Mapping[str, Any]) -> dict[str, Any]:
    """The variables a report template receives besides ``css`` (see docs/templates.md):
    the whole typed report as ``report`` and shortcuts to the parts most templates use."""
    report = as_report(report)
    subject = report.subject
    return {
        "report": report,
        "subject": subject,
        "model": subject.model,
        "dataset": subject.dataset,
        "policy": subject.policy,
        "rules": report.rules,
        "settings": report.settings,
        "outcome": report.outcome.lower(),
    }


def render_html(report: Report | Mapping[str, Any], template_dir: Path | None = None) -> str:
    """Render the typed ``report`` to a self-contained HTML page.

    A parsed report.json (a mapping) is validated into the typed report first. Raises
    ``InputError`` when the report does not match the contract (the message names the field),
    or when the template folder is missing, unreadable, or holds a template that fails (syntax
    error, undefined field, unsafe access refused by the sandbox); the message names the file.
    """
    typed = as_report(report)
    folder = Path(template_dir) if template_dir is not None else default_template_dir()
    if not (folder / TEMPLATE_NAME).exists() and not (folder / TEMPLATE_NAME).is_symlink():
        raise InputError(
            f"template folder {folder} has no {TEMPLATE_NAME}",
            hint="point template_dir at a folder with report.html.j2 and report.css, "
            "or leave it unset to use the built-in templates",
        )
    css = _read_stylesheet(folder)
    env = _environment(folder)
    try:
        template = env.get_template(TEMPLATE_NAME)
        return render_bounded(template, {**template_context(typed), "css": css})
    except InputError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(
            f"template {exc.filename or folder / TEMPLATE_NAME}, line {exc.lineno}: {exc.message}",
            hint="fix the Jinja2 syntax in the template",
        ) from exc
    except jinja2.TemplateNotFound as exc:
        raise InputError(
            f"template in {folder} includes {exc.name!r}, which is not in the template folder",
            hint="keep every partial inside the template folder",
        ) from exc
    except jinja2.exceptions.SecurityError as exc:
        raise _template_error(
            exc,
            folder,
            "tried an operation the sandbox refuses or ran away",
            "report templates may only read the report, in bounded time and "
            "size; remove the offending expression",
        ) from exc
    except jinja2.UndefinedError as exc:
        raise _template_error(
            exc,
            folder,
            "uses a field the report does not have",
            "guard optional fields in the template with 'is not none' or 'is has(...)'",
        ) from exc
    except RecursionError as exc:
        raise _template_error(
            exc,
            folder,
            "recursed too deeply (a macro calling itself?)",
            "end the recursion in the template",
        ) from None
    except Exception as exc:  # noqa: BLE001 - any failure of a user's template is bad input
        raise _template_error(exc, folder, "failed", "fix the template at that line") from exc


def _template_error(exc: BaseException, folder: Path, what: str, hint: str) -> InputError:
    """An InputError naming the template file and line where ``exc`` happened (Jinja2 rewrites
    the traceback so that template lines appear as frames of the template file)."""
    where = f"template in {folder}"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).parent == folder or frame.filename.startswith(f"{folder}/"):
            where = f"template {frame.filename}, line {frame.lineno}"
            break
    detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return InputError(f"{where} {what}: {type(exc).__name__}: {detail[:300]}", hint=hint)
