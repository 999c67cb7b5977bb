"""The data that flows between stages: fragments in, findings out.

Findings and their partners are frozen dataclasses; the other records are NamedTuples, as
immutable and a tenth of the cost to define: a commit hook defines every class it imports, and
dataclasses were a quarter of its run (issue 14).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

# Credential kinds. Rule files name one of these; pairing and reports reason about them.
ACCESS_KEY_ID = "access-key-id"
ACCESS_KEY_SECRET = "access-key-secret"
STS_ACCESS_KEY_ID = "sts-access-key-id"
STS_ACCESS_KEY_SECRET = "sts-access-key-secret"
STS_SECURITY_TOKEN = "sts-security-token"
KINDS = (
    ACCESS_KEY_ID, ACCESS_KEY_SECRET, STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, STS_SECURITY_TOKEN,
)
ID_KINDS = frozenset({ACCESS_KEY_ID, STS_ACCESS_KEY_ID})
SECRET_KINDS = frozenset({ACCESS_KEY_SECRET, STS_ACCESS_KEY_SECRET})

SEVERITIES = ("low", "medium", "high", "critical")

# What live validation (`--validate`, issue 7) concluded about a credential; see Validation.
LIVE = "live"  # the pair authenticates
INACTIVE = "inactive"  # the service knows the key and says it is disabled
INVALID = "invalid"  # unknown ID, wrong secret, or an STS token that no longer works
UNVERIFIABLE = "unverifiable"  # nothing to test it with: an ID without a secret, or the reverse
UNKNOWN = "unknown"  # no answer: network error, timeout, throttled after retries, server error
VALIDATION_STATUSES = (LIVE, INACTIVE, INVALID, UNVERIFIABLE, UNKNOWN)
PRECISIONS = ("low", "medium", "high", "very-high")


def sha256_hex(value: str) -> str:
    """The fingerprint that names a secret without revealing it."""
    import hashlib  # here: loading OpenSSL is a cost for a run that finds nothing (issue 14)

    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class Fragment(NamedTuple):
    """Text to scan and where it came from. `path` is what reports show."""

    path: str
    text: str
    # Extra provenance (commit, author, ...) copied onto every finding; empty for files.
    origin: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PartnerRef:
    """Where the other half of a credential pair was found."""

    rule_id: str
    kind: str
    path: str
    line: int
    column: int
    secret_sha256: str


class Validation(NamedTuple):
    """What Alibaba Cloud said about the credential pair a finding belongs to.

    `reason` is one line for people; the other fields are what the service told us, None where
    it did not (or the key may not ask). Dates are as the service wrote them (ISO 8601, UTC).
    """

    status: str  # one of VALIDATION_STATUSES
    reason: str
    account_id: str | None = None
    arn: str | None = None
    user_name: str | None = None
    created: str | None = None
    age_days: int | None = None
    last_used: str | None = None
    key_status: str | None = None  # "Active" or "Inactive", from RAM ListAccessKeys
    flags: tuple[str, ...] = ()  # e.g. "older-than-90-days"; see akscan.validate.outcome


class TipContext(NamedTuple):
    """Where a history finding stands at the tip of the history scanned: HEAD when scanning all
    refs, else the first revision given (a branch, the end of a range)."""

    tip: str  # the revision compared with, as given ("HEAD", "main", ...)
    tip_commit: str
    # The secret is still at this path in the tip's tree; None when that cannot be told (the
    # tip's file there was not scanned: too large, missing, outside the range scanned).
    present: bool | None
    # The commit on the tip's history that took the secret out of this path, and its date;
    # None when it is still there, or never was there on the tip's history.
    removed_in: str | None = None
    removed_date: str | None = None


@dataclass(frozen=True)
class Finding:
    """One credential found at one place (a docstring also spares `dataclass` working one
    out from the signature at every start: issue 14)."""

    rule_id: str
    kind: str
    severity: str
    description: str
    remediation: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int  # one past the last character, as SARIF counts
    secret: str = field(repr=False)
    line_text: str = field(repr=False, default="")
    paired_with: tuple[PartnerRef, ...] = ()
    suppressed: str | None = None  # why it is suppressed, or None
    origin: tuple[tuple[str, str], ...] = ()
    validation: Validation | None = None  # only with --validate
    # The decodings that turned the text at this location into the secret, outermost first
    # (("base64",), ("escape", "base64"), ...); empty when the secret is written as it is.
    decoded: tuple[str, ...] = ()
    at_tip: TipContext | None = None  # history findings in files only

    @property
    def secret_sha256(self) -> str:
        return sha256_hex(self.secret)

    @property
    def redacted(self) -> str:
        return redact(self.secret, self.kind)

    def ref(self) -> PartnerRef:
        return PartnerRef(self.rule_id, self.kind, self.path, self.line, self.column,
                          self.secret_sha256)

    def moved_to(
        self, path: str, origin: tuple[tuple[str, str], ...] | None = None
    ) -> Finding:
        """The same finding in the same content at another path (a blob seen at several paths
        or commits); partners in the same content move with it."""
        partners = tuple(dataclasses.replace(p, path=path) for p in self.paired_with)
        return dataclasses.replace(self, path=path, paired_with=partners,
                                   origin=self.origin if origin is None else origin)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.rule_id)


def redact(secret: str, kind: str) -> str:
    """Enough to recognise a key in a console, too little to use it.

    IDs are identifiers (they appear in logs and the RAM console), so more of them is shown;
    secrets and tokens keep only their last two characters after a fixed prefix.
    """
    if kind in ID_KINDS:
        head = 6 if len(secret) > 12 else 4
        return f"{secret[:head]}…{secret[-2:]}"
    if kind == STS_SECURITY_TOKEN:
        return f"{secret[:4]}…{secret[-2:]}"
    return f"{secret[:2]}…{secret[-2:]}" if len(secret) >= 12 else "…"
