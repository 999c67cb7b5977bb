"""The JSON report: a documented, stable format (see README, "JSON report").

Top level `{"version": 1, "tool": {...}, "findings": [...]}`; keys sorted, so output is
deterministic and diff-friendly. `version` changes only when a field changes meaning or goes away.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from akscan.model import Finding, PartnerRef
from akscan.report import ReportContext, validation_to_dict
from akscan.terminal import json_safe

FORMAT_VERSION = 1


def finding_to_dict(finding: Finding, show_secrets: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule_id": finding.rule_id,
        "kind": finding.kind,
        "severity": finding.severity,
        "description": finding.description,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line,
        "end_column": finding.end_column,
        "secret_sha256": finding.secret_sha256,
        "redacted": finding.redacted,
        "paired_with": [_partner(p) for p in finding.paired_with],
        "remediation": finding.remediation,
        "suppressed": finding.suppressed,
        "validation": validation_to_dict(finding.validation) if finding.validation else None,
        "decoded": list(finding.decoded),
    }
    data.update(dict(finding.origin))
    if finding.at_tip is not None:  # history findings in files (see README, "JSON report")
        tip = finding.at_tip
        data.update(tip=tip.tip, tip_commit=tip.tip_commit, present_at_tip=tip.present,
                    removed_in=tip.removed_in, removed_date=tip.removed_date)
    if show_secrets:
        data["secret"] = finding.secret
    return data


def _partner(ref: PartnerRef) -> dict[str, Any]:
    return {
        "rule_id": ref.rule_id,
        "kind": ref.kind,
        "path": ref.path,
        "line": ref.line,
        "column": ref.column,
        "secret_sha256": ref.secret_sha256,
    }


def write(stream: TextIO, findings: Sequence[Finding], context: ReportContext) -> None:
    document = {
        "version": FORMAT_VERSION,
        "tool": {"name": "akscan", "version": context.tool_version},
        "findings": [finding_to_dict(f, context.show_secrets) for f in findings],
        # Empty when everything named was scanned whole; else the findings are a lower bound.
        "incomplete": list(context.incomplete),
    }
    # json_safe: C1 controls and bidi overrides as \uNNNN, so `cat report.json` is safe too.
    stream.write(json_safe(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)))
    stream.write("\n")
