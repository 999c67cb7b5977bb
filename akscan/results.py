"""Which validated credentials a report shows (`--results`), and suppressed keys found live.

`--results live,unknown` keeps the credentials whose verdict is one of those, as TruffleHog's
`--results` does; a credential is judged whole (an ID and its secrets share one verdict), so a
wrong secret next to a live ID is shown with the live key. `unchecked` names credentials that
were not validated.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from akscan.model import LIVE, VALIDATION_STATUSES, Finding
from akscan.report.credentials import UNCHECKED, group

CHOICES = (*VALIDATION_STATUSES, UNCHECKED)


def parse(text: str) -> frozenset[str]:
    """`live,unknown` -> {"live", "unknown"}; an argparse type, so a typo is a usage error."""
    wanted = {part.strip().lower() for part in text.split(",") if part.strip()}
    wrong = sorted(wanted - set(CHOICES))
    if wrong or not wanted:
        raise argparse.ArgumentTypeError(
            f"{','.join(wrong) or repr(text)}: expected a comma-separated list of "
            f"{', '.join(CHOICES)}")
    return frozenset(wanted)


def select(findings: Sequence[Finding], wanted: frozenset[str]) -> list[Finding]:
    """The findings of credentials whose status is wanted, in their original order."""
    keep = {id(f) for c in group(findings) if c.status in wanted for f in c.findings}
    return [f for f in findings if id(f) in keep]


def unsuppress_live(findings: Sequence[Finding]) -> list[Finding]:
    """Suppressed findings that validated live become findings again, saying why: a baselined
    or allowlisted key that works is the worst case, not a settled one."""
    out = []
    for finding in findings:
        v = finding.validation
        if finding.suppressed and v is not None and v.status == LIVE:
            note = f"; it was suppressed ({finding.suppressed}) but works, so it is reported"
            finding = dataclasses.replace(finding, suppressed=None,
                                          validation=v._replace(reason=v.reason + note))
        out.append(finding)
    return out
