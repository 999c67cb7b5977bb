"""Report formats. Each reporter renders findings to a stream and never re-scans anything."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from akscan.model import Finding, Validation

if TYPE_CHECKING:
    from akscan.rules import Rule


@dataclass(frozen=True)
class ReportContext:
    tool_version: str
    show_secrets: bool = False
    color: bool = False
    # Every rule the engine ran, so a report can describe rules that found nothing (SARIF does).
    rules: tuple[Rule, ...] = ()
    # The command that produced the findings ("scan", "history"): names the SARIF category.
    command: str = "scan"
    sarif_category: str | None = None
    # The directory finding paths are relative to (None: the current directory).
    base_dir: str | None = None
    # --quiet: reports for people become one line per finding (the text report, for grep).
    quiet: bool = False
    # What could not be scanned, or was cut by a limit: the findings are then a lower bound.
    # Every report says so, not only the summary on standard error.
    incomplete: tuple[str, ...] = ()


def validation_to_dict(validation: Validation) -> dict[str, Any]:
    """Every field, null where unknown, so consumers need not test for keys."""
    return {
        "status": validation.status,
        "reason": validation.reason,
        "account_id": validation.account_id,
        "arn": validation.arn,
        "user_name": validation.user_name,
        "created": validation.created,
        "age_days": validation.age_days,
        "last_used": validation.last_used,
        "key_status": validation.key_status,
        "flags": list(validation.flags),
    }


Reporter = Callable[[TextIO, Sequence[Finding], ReportContext], None]


def _sarif(stream: TextIO, findings: Sequence[Finding], context: ReportContext) -> None:
    # sarif-om and attrs load only when SARIF is asked for, so plain scans start faster.
    from akscan.report.sarif import write

    write(stream, findings, context)


def reporters() -> dict[str, Reporter]:
    # Imported here so that a scan only loads the format it writes.
    from akscan.report import html_report, json_report, text_report

    return {"text": text_report.write, "json": json_report.write, "sarif": _sarif,
            "html": html_report.write}


FORMATS = ("text", "json", "sarif", "html")
