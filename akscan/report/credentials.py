"""Findings grouped into credentials, most urgent first: what the people-facing reports show.

A credential is an AccessKey ID together with every secret (and STS token) found paired with it,
wherever each half was seen; a secret never found next to an ID is a credential of its own. So a
pair is one entry, not two, and a key copied into five files is one entry with five locations.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from akscan.model import (
    ID_KINDS,
    INACTIVE,
    INVALID,
    LIVE,
    SEVERITIES,
    STS_ACCESS_KEY_ID,
    STS_ACCESS_KEY_SECRET,
    STS_SECURITY_TOKEN,
    UNKNOWN,
    UNVERIFIABLE,
    Finding,
    Validation,
)

PRESENT_AT_HEAD = "present_at_head"  # a fleet scan's origin field: "true", "false", "unknown"
UNCHECKED = "unchecked"  # not validated: --validate was not given
# Most urgent first: a working key, one that may work, one nobody asked about, then the harmless.
URGENCY = (LIVE, UNKNOWN, UNCHECKED, UNVERIFIABLE, INACTIVE, INVALID)
STS_KINDS = frozenset({STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, STS_SECURITY_TOKEN})
PERMANENT = "AccessKey"  # the two families remediation is written for
TEMPORARY = "STS credentials"


class Credential(NamedTuple):
    """One credential and every finding of it, in the order they should be read."""

    findings: tuple[Finding, ...]
    status: str  # one of URGENCY
    validation: Validation | None

    @property
    def ident(self) -> str:
        """A stable, secret-free name for anchors and filters: the head of a sha256."""
        return self.lead.secret_sha256[:12]

    @property
    def lead(self) -> Finding:
        """The finding that names the credential: its ID if one was found."""
        ids = [f for f in self.findings if f.kind in ID_KINDS]
        return (ids or list(self.findings))[0]

    @property
    def family(self) -> str:
        return TEMPORARY if self.lead.kind in STS_KINDS else PERMANENT

    @property
    def title(self) -> str:
        kinds = {f.kind for f in self.findings}
        has_id = bool(kinds & ID_KINDS)
        has_secret = bool(kinds - ID_KINDS)
        what = "STS credentials" if self.family == TEMPORARY else "AccessKey"
        if has_id and has_secret:
            return f"{what} pair"
        return f"{what} ID, no secret found" if has_id else f"{what} secret, no ID found"

    @property
    def severity(self) -> str:
        return max((f.severity for f in self.findings), key=_severity_rank)

    @property
    def suppressed(self) -> str | None:
        """Why, when every finding of the credential is suppressed; else None."""
        reasons = [f.suppressed for f in self.findings]
        return reasons[0] if all(reasons) else None

    @property
    def rules(self) -> list[str]:
        return sorted({f.rule_id for f in self.findings})

    @property
    def paths(self) -> list[str]:
        return sorted({f.path for f in self.findings})

    def origin(self, key: str) -> list[str]:
        """Distinct values of one provenance field (commit, date, repository...), in order."""
        seen: dict[str, None] = {}
        for finding in self.findings:
            value = dict(finding.origin).get(key)
            if value:
                seen.setdefault(value)
        return list(seen)

    @property
    def introduced(self) -> Finding | None:
        """The finding of the oldest commit, for history scans."""
        dated = [f for f in self.findings if dict(f.origin).get("date")]
        return min(dated, key=lambda f: dict(f.origin)["date"]) if dated else None


    def tip_summary(self) -> str:
        """Where the credential stands at the tip of a history scan, in a line, or ''."""
        contexts = [(f, f.at_tip) for f in self.findings]
        known = [(f, t) for f, t in contexts if t is not None]
        if not known:
            return self._fleet_presence()
        tip = known[0][1]
        name = f"{tip.tip} ({tip.tip_commit[:12]})"
        still = sorted({f.path for f, t in known if t.present})
        if still:
            return f"still present at {name} in {', '.join(still)}"
        removed = sorted({(t.removed_date or "", t.removed_in) for _, t in known
                          if t.removed_in})
        if removed and all(t.present is False for _, t in known):
            commits = ", ".join(f"{c[:12]} ({d[:10]})" if d else c[:12] for d, c in removed)
            return f"not at {name}: removed in {commits}; still in the history"
        return f"not known whether it is still at {name}"


    def _fleet_presence(self) -> str:
        """The same from a fleet scan's `present_at_head` per repository, or ''."""
        flags = [(dict(f.origin).get("repository", ""), dict(f.origin)[PRESENT_AT_HEAD])
                 for f in self.findings if PRESENT_AT_HEAD in dict(f.origin)]
        if not flags:
            return ""
        still = sorted({repo for repo, value in flags if value == "true"})
        if still:
            return f"still present at HEAD in {', '.join(still)}"
        if all(value == "false" for _, value in flags):
            return "not at HEAD in any repository; still in the history"
        return "not known whether it is still at HEAD"


def tip_note(finding: Finding, short: bool = False) -> str:
    """`still at HEAD` / `removed in SHA on DATE` for one history finding, or ''; `short`
    abbreviates the commit and the date."""
    tip = finding.at_tip
    if tip is None:
        return ""
    if tip.present:
        return f"still at {tip.tip}"
    if tip.removed_in:
        date = (tip.removed_date or "")[:10 if short else None]
        when = f" on {date}" if date else ""
        return f"removed from {tip.tip} in {tip.removed_in[:12 if short else None]}{when}"
    return f"not at {tip.tip}" if tip.present is False else ""


def group(findings: Iterable[Finding]) -> list[Credential]:
    """Credentials, most urgent first (then most severe, then by first location)."""
    findings = list(findings)
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for finding in findings:
        for partner in finding.paired_with:
            a, b = root(finding.secret_sha256), root(partner.secret_sha256)
            if a != b:
                parent[max(a, b)] = min(a, b)
    members: dict[str, list[Finding]] = {}
    for finding in findings:
        members.setdefault(root(finding.secret_sha256), []).append(finding)
    credentials = [_credential(group) for group in members.values()]
    credentials.sort(key=_order)
    return credentials


def _credential(findings: list[Finding]) -> Credential:
    findings.sort(key=_reading_order)
    verdicts = [f.validation for f in findings if f.validation]
    validation = min(verdicts, key=lambda v: _urgency(v.status)) if verdicts else None
    return Credential(tuple(findings), validation.status if validation else UNCHECKED,
                      validation)


def _reading_order(finding: Finding) -> tuple[str, str, int, int, str]:
    # Oldest commit first, then by place, so the halves of a pair sit together.
    return (dict(finding.origin).get("date", ""), finding.path, finding.line, finding.column,
            finding.rule_id)


def _order(credential: Credential) -> tuple[int, bool, int, tuple[str, int, int, str]]:
    return (_urgency(credential.status), credential.suppressed is not None,
            -_severity_rank(credential.severity), credential.findings[0].sort_key())


def _urgency(status: str) -> int:
    return URGENCY.index(status) if status in URGENCY else len(URGENCY)


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1
