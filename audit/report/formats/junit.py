"""junit.xml: one test case per policy rule, so a CI system shows the audit like a test run.

Mapping of rule statuses to JUnit (what CI dashboards count):

* ``pass``    -> a passing test case.
* ``fail``    -> ``<failure type="<severity>" message="<finding message>">`` whose text holds the
  evidence: value, operator, threshold, where it was judged, and every breaching group.
* ``warn``    -> a *passing* test case with ``<system-out>WARNING: ...</system-out>``. A warning
  does not block the gate (the exit code is 0), and JUnit has no "passed with warning" state:
  counting it as a failure would paint a passing gate red, while hiding it would lose it, so the
  warning travels in the test's output, which CI systems show beside the test.
* ``skipped`` -> ``<skipped message="<why it could not be judged>">``: visible as not judged.
* ``waived``  -> a passing test case with ``<system-out>WAIVED by <who> until <date>: ...`` and
  the evidence of the failure the waiver covers (shown, never hidden).

The document is built with :mod:`xml.etree.ElementTree`, which escapes markup in text and
attributes; characters XML 1.0 cannot carry at all (most C0 controls) are replaced by U+FFFD
so that any group label from the data still gives a well-formed file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, ClassVar

from audit.contract import Finding, Report

from .interface import OutputFormat, fmt_number, reference, rule_location

# Characters outside the XML 1.0 Char production (https://www.w3.org/TR/xml/#charsets).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_NOT_FAILURES = frozenset({"pass", "warn", "waived", "skipped"})


def _x(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def evidence(rule: Finding) -> str:
    """The evidence of one finding as plain text: its message, then value against threshold,
    where it was judged, the confidence interval, the judging mode and every breach."""
    metric = rule.metric or rule.kind
    lines = [
        rule.message,
        f"{metric} = {fmt_number(rule.value, 6)}"
        f" (required {rule.operator} {fmt_number(rule.threshold, 6)})",
    ]
    where = rule_location(rule)
    if where is not None:
        lines.append(f"judged at: {where}")
    if rule.ci:
        lines.append("confidence interval: [" + ", ".join(fmt_number(v, 6) for v in rule.ci) + "]")
    if rule.mode:
        lines.append(f"judged on: {rule.mode}")
    lines.append(f"severity: {rule.severity}")
    if rule.breaches:
        lines.append(f"breaches ({len(rule.breaches)}):")
        for b in rule.breaches:
            where_b = rule_location(b) or "overall"
            lines.append(f"  {where_b}: {fmt_number(b.value, 6)}")
    waiver = rule.waiver
    if waiver is not None and not waiver.active:
        lines.append(f"waiver by {waiver.approved_by} expired on {waiver.expires}: not applied")
    return "\n".join(lines)


def _waived_text(rule: Finding) -> str:
    waiver = rule.waiver
    who = waiver.approved_by if waiver else "unknown approver"
    until = waiver.expires if waiver else "an unknown date"
    reason = waiver.reason if waiver else "no reason recorded"
    return f"WAIVED by {who} until {until}: {reason}\n{evidence(rule)}"


class JUnitFormat(OutputFormat):
    """JUnit XML (the de-facto schema read by Jenkins, GitLab, GitHub test reporters, Azure)."""

    name: ClassVar[str] = "junit"
    filename: ClassVar[str] = "junit.xml"

    def text(self, report: Report, *, bundle_path: str | None = None) -> str:
        statuses = [r.status for r in report.rules]
        counts = {
            "tests": str(len(report.rules)),
            "failures": str(sum(s not in _NOT_FAILURES for s in statuses)),
            "errors": "0",
            "skipped": str(statuses.count("skipped")),
        }
        root = ET.Element("testsuites", {"name": "audit", **counts})
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": _x(f"audit: {report.subject.name}"),
                **counts,
                "timestamp": _x(report.created_at),
            },
        )
        props = ET.SubElement(suite, "properties")
        for key, value in self._properties(report, bundle_path):
            ET.SubElement(props, "property", {"name": key, "value": _x(value)})
        for rule in report.rules:
            self._testcase(suite, rule)
        ET.indent(root, space="  ")
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    @staticmethod
    def _properties(report: Report, bundle_path: str | None) -> list[tuple[str, str]]:
        subject = report.subject
        props = [
            ("report_id", report.report_id),
            ("version", str(report.version)),
            ("outcome", report.outcome),
        ]
        for part, entry in (
            ("model", subject.model),
            ("dataset", subject.dataset),
            ("policy", subject.policy),
        ):
            props.append((part, reference(entry)))
            props.append((f"{part}_sha256", (entry.sha256 if entry else None) or "none"))
        tool = report.tool
        props.append(("tool", f"{tool.name} {tool.version}".strip()))
        if bundle_path is not None:
            props.append(("bundle", bundle_path))
        return props

    @staticmethod
    def _testcase(suite: ET.Element, rule: Finding) -> None:
        case = ET.SubElement(
            suite, "testcase", {"classname": _x(f"{rule.kind}.{rule.metric}"), "name": _x(rule.id)}
        )
        status = rule.status
        message = _x(rule.message)
        if status == "fail":
            failure = ET.SubElement(
                case, "failure", {"message": message, "type": _x(rule.severity)}
            )
            failure.text = _x(evidence(rule))
        elif status == "skipped":
            ET.SubElement(case, "skipped", {"message": message})
        elif status == "warn":
            ET.SubElement(case, "system-out").text = _x(f"WARNING: {evidence(rule)}")
        elif status == "waived":
            ET.SubElement(case, "system-out").text = _x(_waived_text(rule))
        elif status != "pass":
            # An unknown status must not pass silently: report it as a failure of its own kind.
            failure = ET.SubElement(
                case, "failure", {"message": f"unknown status {status!r}", "type": "unknown"}
            )
            failure.text = _x(evidence(rule))
