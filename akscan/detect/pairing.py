"""Link each secret (and STS token) to the AccessKey ID it belongs with, for validation."""

from __future__ import annotations

import bisect
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
    """Findings of one fragment, with `paired_with` filled in on both sides of each pair.
    Near-linear in the findings: IDs are indexed by line once, each secret looks up its
    nearest ID by bisection (a file of 20,000 pairs is not 400 million comparisons)."""
    index_of_kind: dict[str, _IdsByLine] = {}
    for index, finding in enumerate(findings):
        if finding.kind in ID_KINDS:
            index_of_kind.setdefault(finding.kind, _IdsByLine()).add(finding, index)
    partners: dict[int, list[PartnerRef]] = {}
    for i, finding in enumerate(findings):
        wanted = _PARTNER_IDS.get(finding.kind)
        if not wanted:
            continue
        for kind in wanted:
            ids = index_of_kind.get(kind)
            partner = ids.nearest(finding.line, window) if ids else None
            if partner is not None:
                partners.setdefault(i, []).append(findings[partner].ref())
                partners.setdefault(partner, []).append(finding.ref())
                break
    return [
        dataclasses.replace(f, paired_with=tuple(partners[i])) if i in partners else f
        for i, f in enumerate(findings)
    ]


class _IdsByLine:
    """IDs of one kind: for each line, the one a secret pairs with (the leftmost, then the
    first found), and the lines in order."""

    def __init__(self) -> None:
        self.best: dict[int, tuple[int, int]] = {}  # line -> (column, index)
        self._lines: list[int] | None = None

    def add(self, finding: Finding, index: int) -> None:
        here = (finding.column, index)
        if finding.line not in self.best or here < self.best[finding.line]:
            self.best[finding.line] = here
        self._lines = None

    def nearest(self, line: int, window: int) -> int | None:
        """The index of the ID on the closest line within `window` lines; on a tie the ID
        above, since configs list the ID first."""
        if self._lines is None:
            self._lines = sorted(self.best)
        lines = self._lines
        at = bisect.bisect_right(lines, line)
        above = lines[at - 1] if at > 0 else None  # on this line or above
        below = lines[at] if at < len(lines) else None
        if above is not None and (below is None or line - above <= below - line):
            chosen = above if line - above <= window else None
        else:
            chosen = below if below is not None and below - line <= window else None
        return None if chosen is None else self.best[chosen][1]
