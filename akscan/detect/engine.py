"""Turn a fragment of text into findings.

Per fragment: a keyword prefilter picks the rules worth running, each rule's pattern runs under a
timeout, matches that look like placeholders or filler are dropped, rules that need context (a
secret near an ID) are checked against the other matches, and ID/secret pairs are linked.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

import regex

from akscan.detect.filters import char_classes, inline_allow_reason, shannon_entropy
from akscan.detect.pairing import link_pairs
from akscan.model import PRECISIONS, Finding, Fragment
from akscan.rules import Rule

DEFAULT_TIMEOUT_SECONDS = 10.0
# Enough of a very long line for a report; the whole line is still used for suppression.
_LINE_TEXT_LIMIT = 400


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    rule: Rule
    start: int
    end: int
    secret: str


class Engine:
    def __init__(self, rules: Sequence[Rule], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.rules = tuple(rules)
        self.timeout = timeout
        self._always = tuple(r for r in self.rules if not r.keywords)
        self._keywords = sorted({k for r in self.rules for k in r.keywords})
        self._keyword_patterns = [(k, regex.compile(regex.escape(k))) for k in self._keywords]

    def rules_for(self, lowered: bytes) -> list[Rule]:
        """The rules whose keywords occur in the lower-cased bytes (or that have none)."""
        return self._selected({k for k in self._keywords if k in lowered})

    def rules_for_each(self, contents: Sequence[bytes]) -> list[list[Rule]]:
        """`rules_for` of each of many (not lower-cased) contents, searching them joined.

        Most contents of a git history hold no keyword at all, so what counts is the speed of
        looking for each keyword in many small contents: one search of the joined buffer per
        keyword, with `regex` releasing the GIL, lets this run in parallel threads. NUL
        separators keep a keyword from matching across two contents (keywords are printable).
        """
        joined = b"\0".join(contents).lower()
        starts = []
        offset = 0
        for content in contents:
            starts.append(offset)
            offset += len(content) + 1
        present: dict[int, set[bytes]] = {}
        for keyword, pattern in self._keyword_patterns:
            match = pattern.search(joined, concurrent=True)
            while match is not None:
                index = bisect.bisect_right(starts, match.start()) - 1
                present.setdefault(index, set()).add(keyword)
                if index + 1 == len(starts):
                    break
                # One hit per content is enough: go on from the next content.
                match = pattern.search(joined, starts[index + 1], concurrent=True)
        return [self._selected(present.get(i, set())) for i in range(len(contents))]

    def _selected(self, present: set[bytes]) -> list[Rule]:
        if not present:
            return list(self._always)
        return [r for r in self.rules if not r.keywords or any(k in present for k in r.keywords)]

    def scan(self, fragment: Fragment, rules: Sequence[Rule] | None = None) -> ScanResult:
        result = ScanResult()
        if rules is None:
            rules = self.rules_for(fragment.text.lower().encode("utf-8", "surrogatepass"))
        if not rules:
            return result
        candidates = self._match(fragment, rules, result)
        if candidates:
            result.findings = self._findings(fragment, candidates)
        return result

    def _match(
        self, fragment: Fragment, rules: Sequence[Rule], result: ScanResult
    ) -> list[_Candidate]:
        best: dict[tuple[int, int], _Candidate] = {}
        for rule in rules:
            try:
                # concurrent=True lets `regex` release the GIL, so threads scan in parallel.
                for match in rule.pattern.finditer(fragment.text, timeout=self.timeout,
                                                   concurrent=True):
                    candidate = _candidate(rule, match)
                    if candidate is None:
                        continue
                    span = (candidate.start, candidate.end)
                    current = best.get(span)
                    if current is None or _rank(candidate.rule) > _rank(current.rule):
                        best[span] = candidate
            except TimeoutError:
                result.warnings.append(
                    f"{fragment.path}: rule '{rule.id}' timed out after {self.timeout:g}s; "
                    "matches of this rule in this file may be missing"
                )
        return sorted(best.values(), key=lambda c: (c.start, c.rule.id))

    def _findings(self, fragment: Fragment, candidates: list[_Candidate]) -> list[Finding]:
        lines = _LineIndex(fragment.text)
        located = [(c, lines.line_of(c.start)) for c in candidates]
        standalone = [(c.rule.kind, line) for c, line in located if c.rule.context is None]
        findings = []
        for candidate, line in located:
            context = candidate.rule.context
            if context is not None and not any(
                kind in context.near and abs(other - line) <= context.lines
                for kind, other in standalone
            ):
                continue
            findings.append(_finding(fragment, candidate, lines, line))
        return link_pairs(findings)


def _candidate(rule: Rule, match: object) -> _Candidate | None:
    group = "secret" if rule.pattern.groupindex else 0
    secret = match.group(group)  # type: ignore[attr-defined]
    if not secret:
        return None
    start, end = match.span(group)  # type: ignore[attr-defined]
    if any(p.search(secret) for p in rule.placeholders):
        return None
    if char_classes(secret) < rule.min_char_classes:
        return None
    if rule.min_entropy and shannon_entropy(secret) < rule.min_entropy:
        return None
    return _Candidate(rule, start, end, secret)


def _rank(rule: Rule) -> tuple[int, int]:
    """Which rule names a span when several match it: the more precise, then the standalone one."""
    return (PRECISIONS.index(rule.precision), rule.context is None)


def _finding(fragment: Fragment, c: _Candidate, lines: _LineIndex, line: int) -> Finding:
    text = fragment.text
    line_start = lines.start_of(line)
    line_end = text.find("\n", c.end)
    line_end = len(text) if line_end < 0 else line_end
    previous = text[lines.start_of(line - 1):max(line_start - 1, 0)] if line > 1 else ""
    end_line = lines.line_of(max(c.end - 1, c.start))
    end_line_start = lines.start_of(end_line)
    line_text = text[line_start:line_end]
    return Finding(
        rule_id=c.rule.id,
        kind=c.rule.kind,
        severity=c.rule.severity,
        description=c.rule.description,
        remediation=c.rule.remediation,
        path=fragment.path,
        line=line,
        column=c.start - line_start + 1,
        end_line=end_line,
        end_column=c.end - end_line_start + 1,
        secret=c.secret,
        line_text=_clip(line_text, c.start - line_start).rstrip("\r"),
        suppressed=inline_allow_reason(line_text, previous),
        origin=fragment.origin,
    )


def _clip(line: str, at: int) -> str:
    if len(line) <= _LINE_TEXT_LIMIT:
        return line
    start = max(0, at - _LINE_TEXT_LIMIT // 2)
    return line[start:start + _LINE_TEXT_LIMIT]


class _LineIndex:
    """Offsets of line starts, computed once per fragment that has candidates."""

    def __init__(self, text: str) -> None:
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos >= 0:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self._starts = starts

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    def start_of(self, line: int) -> int:
        return self._starts[line - 1]
