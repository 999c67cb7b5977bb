"""Which credential pairs to test, and which verdict each finding gets back.

Pairs come from `paired_with` (akscan.detect.pairing): an ID with each secret found beside it,
and, for an STS ID, the SecurityToken found beside it. Both halves of a pair (and the token)
get the pair's verdict; an ID seen with several secrets gets the most alarming one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from akscan.model import (
    ID_KINDS,
    SECRET_KINDS,
    STS_ACCESS_KEY_ID,
    STS_SECURITY_TOKEN,
    Finding,
    Validation,
    sha256_hex,
)
from akscan.validate import outcome

CacheKey = tuple[str, str, str]


@dataclass(frozen=True)
class Pair:
    key_id: str
    secret: str = field(repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def cache_key(self) -> CacheKey:
        """What makes two pairs the same test, naming the secret only by its hash."""
        return (self.key_id, sha256_hex(self.secret), sha256_hex(self.token or ""))


@dataclass
class Plan:
    pairs: list[Pair]  # each distinct pair once
    wants: list[list[CacheKey]]  # per finding: the pairs whose verdicts decide its own
    fixed: list[Validation | None]  # per finding: a verdict that needs no call


def plan(findings: Sequence[Finding]) -> Plan:
    values = {f.secret_sha256: f.secret for f in findings}
    by_id: dict[str, list[Pair]] = {}  # ID's sha256 -> its pairs
    id_verdict: dict[str, Validation] = {}  # ID's sha256 -> why it has no pair
    for f in findings:
        if f.kind in ID_KINDS:
            found = _pairs_of(f, values)
            if isinstance(found, Validation):
                id_verdict.setdefault(f.secret_sha256, found)
            else:
                by_id.setdefault(f.secret_sha256, []).extend(found)
    unique = {p.cache_key: p for pairs in by_id.values() for p in pairs}
    wants: list[list[CacheKey]] = []
    fixed: list[Validation | None] = []
    for f in findings:
        ids = [r.secret_sha256 for r in f.paired_with if r.kind in ID_KINDS]
        if f.kind in ID_KINDS:
            ids = [f.secret_sha256]
            match = by_id.get(f.secret_sha256, [])
        elif f.kind in SECRET_KINDS:
            match = [p for i in ids for p in by_id.get(i, []) if p.secret == f.secret]
        elif f.kind == STS_SECURITY_TOKEN:
            match = [p for i in ids for p in by_id.get(i, []) if p.token == f.secret]
        else:
            match = []
        keys = list(dict.fromkeys(p.cache_key for p in match))
        wants.append(keys)
        if keys:
            fixed.append(None)
        elif any(i in id_verdict for i in ids):
            fixed.append(next(id_verdict[i] for i in ids if i in id_verdict))
        elif f.kind in SECRET_KINDS:
            fixed.append(outcome.unverifiable("no AccessKey ID found with this secret"))
        else:
            fixed.append(outcome.unverifiable("no AccessKey ID and secret found with it"))
    return Plan(list(unique.values()), wants, fixed)


def attach(
    findings: Sequence[Finding], plan: Plan, verdicts: Mapping[CacheKey, Validation]
) -> list[Finding]:
    """The findings with their `validation` filled in."""
    out = []
    for f, keys, fixed in zip(findings, plan.wants, plan.fixed):
        verdict = fixed or outcome.best([verdicts[k] for k in keys])
        out.append(dataclasses.replace(f, validation=verdict))
    return out


def _pairs_of(finding: Finding, values: Mapping[str, str]) -> list[Pair] | Validation:
    secrets = _partners(finding, values, SECRET_KINDS)
    if not secrets:
        return outcome.unverifiable("no AccessKey secret found with this ID")
    if finding.kind != STS_ACCESS_KEY_ID:
        return [Pair(finding.secret, s) for s in secrets]
    tokens = _partners(finding, values, {STS_SECURITY_TOKEN})
    if not tokens:
        return outcome.unverifiable("an STS AccessKey works only with its SecurityToken, and "
                                    "none was found with it")
    return [Pair(finding.secret, s, t) for s in secrets for t in tokens]


def _partners(finding: Finding, values: Mapping[str, str], kinds: AbstractSet[str]) -> list[str]:
    return list(dict.fromkeys(values[r.secret_sha256] for r in finding.paired_with
                              if r.kind in kinds and r.secret_sha256 in values))
