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
from collections.abc import Mapping
from typing import Any, ClassVar

from .interface import OutputFormat, fmt_number, reference, rule_location

# Characters outside the XML 1.0 Char production (https://www.w3.org/TR/xml/#charsets).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_NOT_FAILURES = frozenset({"pass", "warn", "waived", "skipped"})


def _x(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def evidence(rule: Mapping[str, Any]) -> str:
    """The evidence of one finding as plain text: its message, then value against threshold,
    where it was judged, the confidence interval, the judging mode and every breach."""
    metric = rule.get("metric") or rule.get("kind", "value")
    lines = [
        str(rule.get("message", "")),
        f"{metric} = {fmt_number(rule.get('value'), 6)}"
        f" (required {rule.get('operator')} {fmt_number(rule.get('threshold'), 6)})",
    ]
    where = rule_location(rule)
    if where is not None:
        lines.append(f"judged at: {where}")
    ci = rule.get("ci")
    if ci:
        lines.append("confidence interval: [" + ", ".join(fmt_number(v, 6) for v in ci) + "]")
    if rule.get("mode"):
        lines.append(f"judged on: {rule['mode']}")
    lines.append(f"severity: {rule.get('severity')}")
    breaches = rule.get("breaches") or []
    if breaches:
        lines.append(f"breaches ({len(breaches)}):")
        for b in breaches:
            where_b = rule_location(b) or "overall"
            lines.append(f"  {where_b}: {fmt_number(b.get('value'), 6)}")
    waiver = rule.get("waiver")
    if waiver and not waiver.get("active", True):
        lines.append(
            f"waiver by {waiver.get('approved_by')} expired on {waiver.get('expires')}: not applied"
        )
    return "\n".join(lines)


def _waived_text(rule: Mapping[str, Any]) -> str:
    waiver = rule.get("waiver") or {}
    who = waiver.get("approved_by", "unknown approver")
    until = waiver.get("expires", "an unknown date")
    reason = waiver.get("reason", "no reason recorded")
    return f"WAIVED by {who} until {until}: {reason}\n{evidence(rule)}"


class JUnitFormat(OutputFormat):
    """JUnit XML (the de-facto schema read by Jenkins, GitLab, GitHub test reporters, Azure)."""

    name: ClassVar[str] = "junit"
    filename: ClassVar[str] = "junit.xml"

    def render(self, report: Mapping[str, Any], *, bundle_path: str | None = None) -> str:
        rules = list(report.get("rules") or [])
        statuses = [r.get("status") for r in rules]
        counts = {
            "tests": str(len(rules)),
            "failures": str(sum(s not in _NOT_FAILURES for s in statuses)),
            "errors": "0",
            "skipped": str(statuses.count("skipped")),
        }
        subject = report.get("subject") or {}
        root = ET.Element("testsuites", {"name": "audit", **counts})
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": _x(f"audit: {subject.get('name', 'unnamed')}"),
                **counts,
                "timestamp": _x(report.get("created_at", "")),
            },
        )
        props = ET.SubElement(suite, "properties")
        for key, value in self._properties(report, bundle_path):
            ET.SubElement(props, "property", {"name": key, "value": _x(value)})
        for rule in rules:
            self._testcase(suite, rule)
        ET.indent(root, space="  ")
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    @staticmethod
    def _properties(report: Mapping[str, Any], bundle_path: str | None) -> list[tuple[str, str]]:
        subject = report.get("subject") or {}
        props = [
            ("report_id", str(report.get("report_id"))),
            ("version", str(report.get("version"))),
            ("outcome", str(report.get("outcome"))),
        ]
        for part in ("model", "dataset", "policy"):
            entry = subject.get(part)
            props.append((part, reference(entry)))
            props.append((f"{part}_sha256", str((entry or {}).get("sha256") or "none")))
        tool = report.get("tool") or {}
        props.append(("tool", f"{tool.get('name', 'audit')} {tool.get('version', '')}".strip()))
        if bundle_path is not None:
            props.append(("bundle", bundle_path))
        return props

    @staticmethod
    def _testcase(suite: ET.Element, rule: Mapping[str, Any]) -> None:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": _x(f"{rule.get('kind')}.{rule.get('metric')}"),
                "name": _x(rule.get("id", "")),
            },
        )
        status = rule.get("status")
        message = _x(rule.get("message", ""))
        if status == "fail":
            failure = ET.SubElement(
                case, "failure", {"message": message, "type": _x(rule.get("severity", "error"))}
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
