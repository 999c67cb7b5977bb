"""Report formats. Each reporter renders findings to a stream and never re-scans anything."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from akscan.model import Finding, Validation

if TYPE_CHECKING:
    from akscan.rules import Rule


class ReportContext(NamedTuple):  # not a dataclass: cheaper to define (issue 14)
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


def _text(stream: TextIO, findings: Sequence[Finding], context: ReportContext) -> None:
    from akscan.report.text_report import write

    write(stream, findings, context)


def _json(stream: TextIO, findings: Sequence[Finding], context: ReportContext) -> None:
    from akscan.report.json_report import write

    write(stream, findings, context)


def _html(stream: TextIO, findings: Sequence[Finding], context: ReportContext) -> None:
    from akscan.report.html_report import write

    write(stream, findings, context)


def reporters() -> dict[str, Reporter]:
    # Each writer imports its format's module when called, so a scan loads only the format it
    # writes (a commit hook's text report need not load HTML's assets: issue 14).
    return {"text": _text, "json": _json, "sarif": _sarif, "html": _html}


FORMATS = ("text", "json", "sarif", "html")
