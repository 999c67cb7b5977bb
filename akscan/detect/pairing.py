"""Link each secret (and STS token) to the AccessKey ID it belongs with, for validation."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from akscan.model import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    ID_KINDS,
    STS_ACCESS_KEY_ID,
    STS_ACCESS_KEY_SECRET,
    STS_SECURITY_TOKEN,
    Finding,
    PartnerRef,
)

# A secret further than this from any ID is reported alone.
PAIR_WINDOW_LINES = 10

# Which ID kinds each dependent kind pairs with, best first.
_PARTNER_IDS = {
    ACCESS_KEY_SECRET: (ACCESS_KEY_ID, STS_ACCESS_KEY_ID),
    STS_ACCESS_KEY_SECRET: (STS_ACCESS_KEY_ID, ACCESS_KEY_ID),
    STS_SECURITY_TOKEN: (STS_ACCESS_KEY_ID,),
}


def link_pairs(findings: Sequence[Finding], window: int = PAIR_WINDOW_LINES) -> list[Finding]:
    """Findings of one fragment, with `paired_with` filled in on both sides of each pair."""
    ids = [f for f in findings if f.kind in ID_KINDS]
    partners: dict[int, list[PartnerRef]] = {i: [] for i in range(len(findings))}
    index_of = {id(f): i for i, f in enumerate(findings)}
    for i, finding in enumerate(findings):
        wanted = _PARTNER_IDS.get(finding.kind)
        if not wanted:
            continue
        partner = _nearest(finding, ids, wanted, window)
        if partner is None:
            continue
        partners[i].append(partner.ref())
        partners[index_of[id(partner)]].append(finding.ref())
    return [
        dataclasses.replace(f, paired_with=tuple(partners[i])) if partners[i] else f
        for i, f in enumerate(findings)
    ]


def _nearest(
    finding: Finding, ids: Sequence[Finding], wanted: Sequence[str], window: int
) -> Finding | None:
    for kind in wanted:
        # Closest line wins; on a tie the ID above, since configs list the ID first.
        candidates = [
            (abs(f.line - finding.line), f.line > finding.line, f.line, f.column, n)
            for n, f in enumerate(ids)
            if f.kind == kind and abs(f.line - finding.line) <= window
        ]
        if candidates:
            return ids[min(candidates)[-1]]
    return None
