"""The human report: one block per credential, most urgent first, what to do once at the end.

With --quiet, one line per finding instead (`path:line:column: rule [severity] redacted`), for
grep and editors that jump to `path:line:column`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

from akscan.model import Finding, Validation
from akscan.report import ReportContext
from akscan.report.credentials import Credential, group, tip_note
from akscan.report.excerpt import Excerpts, printable
from akscan.report.remediation import GENERAL

_SEVERITY_COLOUR = {"critical": "1;31", "high": "31", "medium": "33", "low": "36"}
_STATUS_COLOUR = {"live": "1;41;97", "unknown": "1;35", "unchecked": "1", "inactive": "33",
                  "invalid": "2", "unverifiable": "2"}
_PROVENANCE = ("commit", "author", "email", "date")

Paint = Callable[[str, str], str]


def write(stream: TextIO, findings: Sequence[Finding], context: ReportContext) -> None:
    def paint(code: str, text: str) -> str:
        # Everything shown is escaped (akscan.terminal): a file name or commit message holding
        # ESC or CR must not be able to rewrite the report on a terminal (issue 12).
        text = printable(text)
        return f"\033[{code}m{text}\033[0m" if context.color else text

    if context.quiet:
        for finding in findings:
            stream.write(_one_line(finding, context, paint) + "\n")
        return
    excerpts = Excerpts(findings, context.show_secrets)
    credentials = group(findings)
    for credential in credentials:
        _block(stream, credential, excerpts, context, paint)
        stream.write("\n")
    families = list(dict.fromkeys(c.family for c in credentials))
    for family in families:
        stream.write(paint("1", f"What to do about a leaked {family}, in order:") + "\n")
        for number, step in enumerate(GENERAL[family], 1):
            stream.write(f"  {number}. {step}\n")


def _one_line(finding: Finding, context: ReportContext, paint: Paint) -> str:
    shown = finding.secret if context.show_secrets else finding.redacted
    location = paint("1", f"{finding.path}:{finding.line}:{finding.column}")
    severity = paint(_SEVERITY_COLOUR.get(finding.severity, "0"), finding.severity)
    line = f"{location}: {printable(finding.rule_id)} [{severity}] {printable(shown)}"
    if finding.validation:
        line += f" {finding.validation.status.upper()}"
    commit = dict(finding.origin).get("commit")
    if commit:
        line += f" commit {printable(commit)}"
    if finding.suppressed:
        line += f" suppressed ({printable(finding.suppressed)})"
    return line


def _block(stream: TextIO, credential: Credential, excerpts: Excerpts, context: ReportContext,
           paint: Paint) -> None:
    lead = credential.lead
    shown = lead.secret if context.show_secrets else lead.redacted
    status = paint(_STATUS_COLOUR.get(credential.status, "0"), credential.status.upper())
    severity = paint(_SEVERITY_COLOUR.get(credential.severity, "0"), credential.severity)
    places = len({(f.path, dict(f.origin).get("commit")) for f in credential.findings})
    stream.write(f"{status} {paint('1', credential.title)} {printable(shown)} [{severity}], "
                 f"{places} location(s)\n")
    if credential.suppressed:
        stream.write(f"  suppressed ({printable(credential.suppressed)})\n")
    v = credential.validation
    if v:
        for line in _validation_lines(v):
            stream.write(f"  {paint('2', line[0])} {printable(line[1])}\n")
    tip = credential.tip_summary()
    if tip:
        stream.write(f"  {paint('2', 'at the tip:')} {printable(tip)}\n")
    for finding in credential.findings:
        value = finding.secret if context.show_secrets else finding.redacted
        detail = f"  {finding.path}:{finding.line}:{finding.column}: {finding.rule_id} " \
                 f"[{finding.severity}] {value}"
        if finding.decoded:
            detail += f"; decoded from {' then '.join(finding.decoded)}"
        if finding.suppressed and not credential.suppressed:
            detail += f"; suppressed ({finding.suppressed})"
        stream.write(printable(detail) + "\n")
        excerpt = excerpts.line(finding)
        if excerpt:
            stream.write(f"      {paint('2', '|')} {excerpt}\n")
        provenance = _provenance(finding)
        if provenance:
            stream.write(f"      {provenance}\n")


def _validation_lines(v: Validation) -> list[tuple[str, str]]:
    lines = [("validation:", f"{v.status.upper()}: {v.reason}")]
    if v.arn or v.account_id:
        who = v.arn or ""
        if v.account_id:
            who += f" (account {v.account_id})"
        lines.append(("owner:", who.strip()))
    facts = []
    if v.created:
        facts.append(f"created {v.created}" + (f" ({v.age_days} days ago)"
                                               if v.age_days is not None else ""))
    if v.last_used:
        facts.append(f"last used {v.last_used}")
    if v.key_status:
        facts.append(f"RAM status {v.key_status}")
    if facts:
        lines.append(("key:", ", ".join(facts)))
    if v.flags:
        lines.append(("flags:", ", ".join(v.flags)))
    return lines


def _provenance(finding: Finding) -> str:
    """`commit SHA by NAME <EMAIL> on DATE`, then any other provenance as `; key value`."""
    origin = dict(finding.origin)
    parts = []
    if origin.get("commit"):
        parts.append(f"commit {origin['commit']}")
    if origin.get("author"):
        parts.append(f"author {origin['author']}" + (f" <{origin['email']}>"
                                                     if origin.get("email") else ""))
    if origin.get("date"):
        parts.append(f"date {origin['date']}")
    parts += [f"{key} {value}" for key, value in finding.origin if key not in _PROVENANCE]
    note = tip_note(finding)
    if note:
        parts.append(note)
    return printable(", ".join(parts))
