"""The human report: one block per finding, what it is and what to do next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from akscan.model import Finding
from akscan.report import ReportContext
from akscan.terminal import escape

_SEVERITY_COLOUR = {"critical": "1;31", "high": "31", "medium": "33", "low": "36"}
_STATUS_COLOUR = {"live": "1;31", "inactive": "33", "unknown": "35"}


def write(stream: TextIO, findings: Sequence[Finding], context: ReportContext) -> None:
    def paint(code: str, text: str) -> str:
        # Everything shown passes through escape(): a file name or commit message holding ESC
        # or CR must not be able to rewrite the report on a terminal (issue 12).
        text = escape(text)
        return f"\033[{code}m{text}\033[0m" if context.color else text

    for finding in findings:
        shown = finding.secret if context.show_secrets else finding.redacted
        location = paint("1", f"{finding.path}:{finding.line}:{finding.column}")
        severity = paint(_SEVERITY_COLOUR.get(finding.severity, "0"), finding.severity)
        stream.write(f"{location}: {escape(finding.rule_id)} [{severity}] {escape(shown)}\n")
        detail = finding.description
        if finding.decoded:
            detail += f"; decoded from {' then '.join(finding.decoded)}"
        if finding.paired_with:
            partners = ", ".join(f"{p.kind} at {p.path}:{p.line}:{p.column}"
                                 for p in finding.paired_with)
            detail += f"; paired with {partners}"
        for key, value in finding.origin:
            detail += f"; {key} {value}"
        if finding.suppressed:
            detail += f"; suppressed ({finding.suppressed})"
        stream.write(f"    {escape(detail)}\n")
        if finding.validation:
            status = finding.validation.status
            label = paint(_STATUS_COLOUR.get(status, "0"), status.upper())
            stream.write(f"    {paint('2', 'validation:')} {label}: "
                         f"{escape(finding.validation.reason)}\n")
        stream.write(f"    {paint('2', 'fix:')} {escape(finding.remediation)}\n")
