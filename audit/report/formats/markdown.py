"""summary.md: a short Markdown summary for CI job summaries and pull-request comments.

It answers, in order: did the gate pass (in words and a symbol, never colour alone), what was
audited with which model, data and policy (short digests to tell versions apart), which rules
need attention (failed, warned, waived: one table row each), how many others passed or could not
be judged, and where the full bundle is. Everything else is in report.html / report.json.

Text from the report (messages, group labels from the data) is escaped for GitHub-flavoured
Markdown tables: backslashes, pipes and inline markup are backslash-escaped, newlines become
``<br>``, so a label can neither break the table's columns nor inject markup; control
characters, ANSI escapes and bidi overrides are written as visible escapes (the file is
appended to CI job summaries and read in terminals).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from audit.contract import Finding, Report, Subject
from audit.textsafe import printable

from .interface import OutputFormat, fmt_number, reference, rule_location, short_digest

_ATTENTION = ("fail", "warn", "waived")
_STATUS_WORDS = {"fail": "❌ FAIL", "warn": "⚠️ WARN", "waived": "🔕 WAIVED"}
_OTHER_WORDS = {"pass": "passed", "skipped": "skipped (not assessable)"}
# CommonMark lets any ASCII punctuation be backslash-escaped. Escaped here: what can start
# markup inside a table cell. "_" only at a word's edge (GFM ignores intraword underscores, so
# metric names stay readable), "<" only where it could open a tag or autolink, "&" only where it
# would start an entity reference; ">" cannot start a blockquote in the middle of a row.
_MARKUP = re.compile(r"[\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def cell(text: Any) -> str:
    """``text`` as the content of one GFM table cell: markup and pipes escaped, one line,
    control and bidi characters visible (``textsafe.printable``)."""
    raw = printable(str(text), keep="\n\r")
    escaped = _ENTITY.sub(r"\\&", _MARKUP.sub(lambda m: "\\" + m[0], raw))
    return _NEWLINES.sub("<br>", escaped).strip()


def code(text: Any, *, in_table: bool = False) -> str:
    """``text`` as an inline code span (in a table cell, GFM needs its pipes escaped too)."""
    s = printable(_NEWLINES.sub(" ", str(text)))
    if in_table:
        s = s.replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest or s.startswith(" ") or s.endswith(" ") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class MarkdownFormat(OutputFormat):
    """Markdown summary of one audit (GitHub/GitLab flavoured)."""

    name: ClassVar[str] = "markdown"
    filename: ClassVar[str] = "summary.md"

    def text(self, report: Report, *, bundle_path: str | None = None) -> str:
        by_status: dict[str, list[Finding]] = {}
        for rule in report.rules:
            by_status.setdefault(str(rule.status), []).append(rule)
        out = [self._headline(report, by_status), ""]
        out += self._inputs(report.subject)
        out.append("")
        attention = [r for r in report.rules if r.status in _ATTENTION]
        if attention:
            out += self._table(attention)
            out.append("")
        others = [
            f"{len(by_status[s])} {words}" for s, words in _OTHER_WORDS.items() if by_status.get(s)
        ]
        unknown = sorted(set(by_status) - set(_OTHER_WORDS) - set(_ATTENTION))
        others += [f"{len(by_status[s])} with unknown status {code(s)}" for s in unknown]
        if others:
            prefix = "Other rules: " if attention else "Rules: "
            out.append(prefix + ", ".join(others) + ".")
            out.append("")
        out.append(self._footer(report, bundle_path))
        return "\n".join(out) + "\n"

    @staticmethod
    def _headline(report: Report, by_status: Mapping[str, list[Finding]]) -> str:
        passed = report.outcome == "pass"
        word = "✅ PASS" if passed else "❌ FAIL"
        name = cell(report.subject.name)
        notes = []
        for status, noun in (("fail", "blocking failure"), ("warn", "warning")):
            if by_status.get(status):
                notes.append(_plural(len(by_status[status]), noun))
        if by_status.get("waived"):
            notes.append(f"{len(by_status['waived'])} waived")
        tail = f" ({', '.join(notes)})" if notes else ""
        return f"## {word}: audit of {name}{tail}"

    @staticmethod
    def _inputs(subject: Subject) -> list[str]:
        model, dataset, policy = subject.model, subject.dataset, subject.policy
        lines = []
        if model:
            fmt = f", {cell(model.format)}" if model.format else ""
            lines.append(
                f"- **Model:** {code(reference(model))}{fmt}"
                f" · sha256 {code(short_digest(model.sha256))}"
            )
        else:
            lines.append("- **Model:** none (decisions recorded in the dataset were judged)")
        no_label = (
            ", no label (decisions alone: label metrics and rules not assessable)"
            if dataset.label is None
            else ""
        )
        lines.append(
            f"- **Dataset:** {code(reference(dataset))}, {dataset.rows} rows{no_label}"
            f" · sha256 {code(short_digest(dataset.sha256))}"
        )
        lines.append(
            f"- **Policy:** {code(reference(policy))} · sha256 {code(short_digest(policy.sha256))}"
        )
        return lines

    @staticmethod
    def _table(rules: list[Finding]) -> list[str]:
        lines = [
            "| Status | Rule | Metric | Group | Value | Threshold | Message |",
            "| --- | --- | --- | --- | ---: | --- | --- |",
        ]
        for r in rules:
            where = rule_location(r)
            threshold = f"{r.operator} {fmt_number(r.threshold)}".strip()
            row = [
                _STATUS_WORDS[str(r.status)],
                code(r.id, in_table=True),
                code(r.metric, in_table=True),
                cell(where) if where is not None else "—",
                cell(fmt_number(r.value)),
                cell(threshold),
                cell(r.message),
            ]
            lines.append("| " + " | ".join(row) + " |")
        return lines

    @staticmethod
    def _footer(report: Report, bundle_path: str | None) -> str:
        parts = [
            f"Report v{report.version}",
            f"id {code(report.report_id)}",
            f"created {cell(report.created_at)}",
        ]
        line = " · ".join(parts) + "."
        if bundle_path is not None:
            line += (
                f" Full report: {code(bundle_path.rstrip('/') + '/report.html')}"
                " (evidence, charts and explanations; report.json is canonical)."
            )
        return line
