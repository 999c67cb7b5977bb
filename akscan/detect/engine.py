"""Turn a fragment of text into findings.

Per fragment: a keyword prefilter picks the rules worth running, each rule's pattern runs under a
timeout, matches that look like placeholders or filler are dropped, rules that need context (a
secret near an ID) are checked against the other matches, and ID/secret pairs are linked.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ahocorasick_rs import AhoCorasick, BytesAhoCorasick

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
    def __init__(
        self, rules: Sequence[Rule], timeout: float = DEFAULT_TIMEOUT_SECONDS,
        concurrent: bool = False,
    ) -> None:
        self.rules = tuple(rules)
        self.timeout = timeout
        # Let `regex` release the GIL while matching: for callers that scan in threads (git
        # history). It costs CPU on a single thread, so it is off by default.
        self.concurrent = concurrent
        self._prepare()

    def _prepare(self) -> None:
        self._always = [r for r in self.rules if not r.keywords]
        keywords = sorted({k for r in self.rules for k in r.keywords})
        self._keywords = keywords
        # Which rules each keyword (by its index) wakes up.
        self._woken = [[r for r in self.rules if k in r.keywords] for k in keywords]
        # One pass of Aho-Corasick finds every keyword at once: 3x faster than a pass per keyword.
        self._automaton = BytesAhoCorasick(keywords) if keywords else None
        self._text_automaton = (
            AhoCorasick([k.decode("ascii") for k in keywords]) if keywords else None
        )

    def __getstate__(self) -> dict[str, object]:
        # Worker processes get rules and timeout; the automaton (not picklable) is rebuilt there.
        return {"rules": self.rules, "timeout": self.timeout, "concurrent": self.concurrent}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.rules = state["rules"]  # type: ignore[assignment]
        self.timeout = state["timeout"]  # type: ignore[assignment]
        self.concurrent = state["concurrent"]  # type: ignore[assignment]
        self._prepare()

    def rules_for(self, lowered: bytes) -> list[Rule]:
        """The rules whose keywords occur in the lower-cased bytes (or that have none)."""
        if self._automaton is None:
            return list(self._always)
        hits = {i for i, _, _ in self._automaton.find_matches_as_indexes(lowered,
                                                                          overlapping=True)}
        return self._selected(hits)

    def rules_for_each(self, contents: Sequence[bytes]) -> list[list[Rule]]:
        """`rules_for` of each of many (not lower-cased) contents, searching them joined.

        Most blobs of a git history hold no keyword at all: one search of the joined batch costs
        far less than one per blob. NUL separators keep a keyword (printable) from matching
        across two contents.
        """
        if self._automaton is None:
            return [list(self._always) for _ in contents]
        joined = b"\0".join(contents).lower()
        starts = []
        offset = 0
        for content in contents:
            starts.append(offset)
            offset += len(content) + 1
        present: dict[int, set[int]] = {}
        for index, start, _ in self._automaton.find_matches_as_indexes(joined, overlapping=True):
            present.setdefault(bisect.bisect_right(starts, start) - 1, set()).add(index)
        return [self._selected(present.get(i, set())) for i in range(len(contents))]

    def _selected(self, hits: set[int]) -> list[Rule]:
        """The rules woken by the keywords of these indexes, and those without keywords."""
        if not hits:
            return list(self._always)
        wanted = {id(r) for i in hits for r in self._woken[i]}
        return [r for r in self.rules if not r.keywords or id(r) in wanted]

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
        text = fragment.text
        hits: dict[bytes, list[int]] | None = None
        for rule in rules:
            if rule.context is not None:
                continue
            if rule.keyword_window is None or not rule.keywords:
                self._run(rule, fragment, [(0, len(text))], best, result)
                continue
            if hits is None:
                hits = self._keyword_hits(text)
            # A rule whose matches contain a keyword only runs around the keyword's hits.
            self._run(rule, fragment, _keyword_windows(rule, hits, len(text)), best, result)
        contextual = [r for r in rules if r.context is not None]
        if contextual and best:
            lines = _LineIndex(text)
            anchors = [(c.rule.kind, lines.line_of(c.start)) for c in best.values()
                       if c.rule.anchor]
            for rule in contextual:
                # A context rule can only count near its anchors, so it only runs there: on a
                # large file with one ID this is a few lines instead of the whole text.
                windows = _windows(rule, anchors, lines, len(text))
                if windows:
                    self._run(rule, fragment, windows, best, result)
        return sorted(best.values(), key=lambda c: (c.start, c.rule.id))

    def _keyword_hits(self, text: str) -> dict[bytes, list[int]]:
        """Offsets of every keyword in `text`, or, if lower-casing moves offsets, the start."""
        lowered = text.lower()
        if self._text_automaton is None or len(lowered) != len(text):
            return {k: [-1] for k in self._keywords}  # -1: no offsets, scan everything
        hits: dict[bytes, list[int]] = {}
        for index, start, _ in self._text_automaton.find_matches_as_indexes(lowered,
                                                                            overlapping=True):
            hits.setdefault(self._keywords[index], []).append(start)
        return hits

    def _run(
        self, rule: Rule, fragment: Fragment, windows: Sequence[tuple[int, int]],
        best: dict[tuple[int, int], _Candidate], result: ScanResult,
    ) -> None:
        try:
            for start, end in windows:
                for match in rule.pattern.finditer(fragment.text, start, end,
                                                   timeout=self.timeout,
                                                   concurrent=self.concurrent):
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

    def _findings(self, fragment: Fragment, candidates: list[_Candidate]) -> list[Finding]:
        lines = _LineIndex(fragment.text)
        located = [(c, lines.line_of(c.start)) for c in candidates]
        anchors = [(c.rule.kind, line) for c, line in located
                   if c.rule.context is None and c.rule.anchor]
        findings = []
        for candidate, line in located:
            context = candidate.rule.context
            if context is not None and not any(
                kind in context.near and abs(other - line) <= context.lines
                for kind, other in anchors
            ):
                continue
            findings.append(_finding(fragment, candidate, lines, line))
        return link_pairs(findings)


def _keyword_windows(
    rule: Rule, hits: dict[bytes, list[int]], length: int
) -> list[tuple[int, int]]:
    assert rule.keyword_window is not None
    before, after = rule.keyword_window
    starts = sorted(p for k in rule.keywords for p in hits.get(k, ()))
    if starts and starts[0] < 0:
        return [(0, length)]
    return _merge((max(0, p - before), min(length, p + after)) for p in starts)


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _windows(
    rule: Rule, anchors: Sequence[tuple[str, int]], lines: _LineIndex, length: int
) -> list[tuple[int, int]]:
    """Character ranges covering `rule.context.lines` lines around each anchor, merged."""
    assert rule.context is not None
    return _merge(
        (lines.start_of(max(1, line - rule.context.lines)),
         lines.end_of(line + rule.context.lines, length))
        for kind, line in anchors if kind in rule.context.near
    )


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

    def end_of(self, line: int, length: int) -> int:
        """Offset just past `line` (its newline included), or the text's end."""
        return self._starts[line] if line < len(self._starts) else length
