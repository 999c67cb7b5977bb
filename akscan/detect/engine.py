"""Turn a fragment of text into findings.

Per fragment: a keyword prefilter picks the rules worth running, each rule's pattern runs under a
timeout, matches that look like placeholders or filler are dropped, rules that need context (a
secret near an ID) are checked against the other matches, and ID/secret pairs are linked.
After this plain pass, spans that the prefilter's hits point at are decoded (base64, hex,
escapes, percent-encoding, split literals: see decoders.py) and the rules run again on excerpts
with the decoded text in place; those findings point at the encoded text in the fragment.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from ahocorasick_rs import BytesAhoCorasick, Implementation, MatchKind

from akscan import lazyre
from akscan.detect import caseless, limits, reach
from akscan.detect.codec import PERCENT
from akscan.detect.decoders import Decoders, Hits
from akscan.detect.filters import (
    char_classes,
    inline_allow_reason,
    placeholder_shape,
    shannon_entropy,
)
from akscan.detect.layers import layers
from akscan.detect.limits import MAX_HITS_KEPT
from akscan.detect.pairing import link_pairs
from akscan.errors import AkscanError
from akscan.model import PRECISIONS, Finding, Fragment
from akscan.rules import Rule

DEFAULT_TIMEOUT_SECONDS = 10.0
# Timeouts after which a rule is stopped for the rest of the scan (said once, as a warning).
MAX_RULE_TIMEOUTS = 3
# Contents longer than this are searched for keywords a piece at a time, so that the matches
# held at once stay bounded whatever the content.
_PREFILTER_CHUNK = 256 * 1024
# Bytes searched for keywords before the automaton becomes a DFA (see _Keywords): about where
# the DFA's faster search has paid for building it.
_DFA_AFTER = 1 << 20
# Keywords per leftmost-first automaton of `_Sparse`: small sets that the automaton can skip
# through with its SIMD prefilter (Teddy) instead of stepping through every byte.
_GROUP_SIZE = 32
# Contents of at least this many bytes are searched by `_Sparse`: below it, one overlapping
# search costs less than its eight calls (4 KiB: 9 us against 13; 64 KiB: 126 us against 86).
_SPARSE_FROM = 1 << 14
# Bytes searched for keywords before `_Sparse` is built for them: building it for the encoded
# forms takes 6-7 ms, and it searches 0.3-0.5 ms/MiB faster than the DFA, so it pays only
# past about this much; a commit hook's few files (10% of its run) never reach it (issue 14).
_SPARSE_AFTER = 16 << 20
# Enough of a very long line for a report; the whole line is still used for suppression.
_LINE_TEXT_LIMIT = 400
# Lines around a decoded span that are scanned again with it: context rules and pairing look
# this far for the other half of a credential.
_DECODED_CONTEXT_LINES = 10
# A rule whose matches start at its keywords is tried only there when its windows are this
# wide: in narrower ones (a few hundred characters) the pattern's own search, which skips to its
# literal start, costs less than a try per hit made from Python.
_TRIED_AT_HITS_FROM = 1024
# Windows searched by `could_find` before the whole text is cheaper to scan.
_MAX_WINDOWS = 10_000
_UNKNOWN = reach.Bound(behind=-1)  # a rule's bound not looked up yet
# A run of whitespace longer than this (binary bytes, read as spaces) is not followed by
# `could_find`: the whole text is scanned instead.
_MAX_SPACES = 1 << 20


# The engine's own records are plain classes and NamedTuples, not dataclasses: a dataclass
# costs ten times as much to define, and a commit hook defines every class it imports (issue 14).
class ScanResult:
    """The findings in one fragment, and warnings (a rule that timed out)."""

    __slots__ = ("findings", "warnings")

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.warnings: list[str] = []


class Prefiltered(NamedTuple):
    """The keyword prefilter's verdict on one content: the rules worth running, and where
    keywords and encoded forms of keywords occur, for the decoders."""

    rules: list[Rule]
    # byte offsets of each keyword or lower-cased encoded form of one in the content
    hits: dict[bytes, list[int]]
    # Byte offsets of every keyword and encoded form found (by index in the engine's list),
    # in any case: what `character_hits` turns into character offsets. None where unknown.
    found: dict[int, list[int]] | None = None

    def __bool__(self) -> bool:
        """Whether the content is worth scanning: a rule to run, or something to decode."""
        return bool(self.rules or self.hits)


class _Candidate(NamedTuple):
    rule: Rule
    start: int
    end: int
    secret: str
    # decodings of the match itself: a token percent-encoded in a URL is the decoded token
    decoded: tuple[str, ...] = ()


class Engine:
    def __init__(
        self, rules: Sequence[Rule], timeout: float = DEFAULT_TIMEOUT_SECONDS,
        concurrent: bool = False, decode: bool = True,
    ) -> None:
        self.rules = tuple(rules)
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
            # `regex` takes an infinite timeout for an instant one: every rule would "time out".
            raise AkscanError(f"the regex timeout must be a finite number of seconds above 0, "
                              f"not {timeout!r}")
        self.timeout = timeout
        # Let `regex` release the GIL while matching: for callers that scan in threads (git
        # history). It costs CPU on a single thread, so it is off by default.
        self.concurrent = concurrent
        self.decode = decode  # whether encoded spans are decoded and scanned (issue 3)
        self._prepare()

    def _prepare(self) -> None:
        self._always = [r for r in self.rules if not r.keywords]
        plain = sorted({k for r in self.rules for k in r.keywords})
        self._plain = plain
        self._plain_set = frozenset(plain)
        self._decoders = Decoders(self.rules, self.timeout) if self.decode else None
        # Timeouts per rule id in this process; a rule that timed out `MAX_RULE_TIMEOUTS` times
        # is stopped: one catastrophic custom rule must not cost its timeout in every file.
        self._timeouts: dict[str, int] = {}
        # Encoded forms of the keywords are searched for in the same pass. A hit wakes no rule
        # (without its keyword the plain text cannot match), only the decoders.
        forms = sorted(self._decoders.forms) if self._decoders else []
        keywords = plain + forms
        self._keywords = keywords
        self._longest = max(map(len, keywords), default=1)
        # Whether `character_hits` may derive character offsets from byte offsets: an ASCII
        # keyword without '?' matches UTF-8 bytes where it matches `_character_hits`' stand-in.
        self._derivable = all(k.isascii() and b"?" not in k for k in keywords)
        self._index = {k: i for i, k in enumerate(keywords)}
        # Which rules each keyword (by its index) wakes up.
        self._woken = [[r for r in self.rules if k in r.keywords] for k in keywords]
        # Keywords that count only as written (case matters), by index: those whose every
        # rule asks for it. Their case-blind hits are checked against the content.
        self._cased = {
            i: tuple(w for r in woken for w in r.cased_keywords if w.lower() == keywords[i])
            for i, woken in enumerate(self._woken)
            if woken and i < len(plain) and all(r.cased_keywords for r in woken)}
        # Of those, the keywords found only as written, from the large search on (see there).
        self._exact: dict[int, tuple[bytes, ...]] = {}
        # One pass of Aho-Corasick finds every keyword at once: 3x faster than a pass per keyword.
        # As a DFA, a few hundred encoded forms cost no more than the plain keywords alone.
        self._automaton = _Keywords(keywords) if keywords else None
        self._plain_automaton = BytesAhoCorasick(plain) if plain else None
        self._leftmost: BytesAhoCorasick | None = None  # built on first use (prefilter_sparse)
        # Built on first use by a large search (git history batches): Hyperscan where it is
        # installed (see caseless), else our grouped automata (_Sparse).
        self._sparse: caseless.Caseless | _Sparse | None = None
        self._plain_sparse: _Sparse | None = None
        self._searched = 0  # bytes, before _sparse is built (threads may both build it)
        # The verdict on content with no keyword (most of it): one object, never changed.
        self._nothing = Prefiltered(list(self._always), {})
        self._bounds: dict[str, reach.Bound | None] = {}  # by rule id, looked up when needed
        # Whether a rule whose matches start at its keywords is tried only there (`_found`);
        # off only to test that it finds what finditer over the windows finds.
        self.match_at_hits = True
        self._context_lines = max([_DECODED_CONTEXT_LINES,
                                   *(r.context.lines for r in self.rules if r.context)])

    def __getstate__(self) -> dict[str, object]:
        # Worker processes get rules and timeout; the automaton (not picklable) is rebuilt there.
        return {"rules": self.rules, "timeout": self.timeout, "concurrent": self.concurrent,
                "decode": self.decode}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.rules = state["rules"]  # type: ignore[assignment]
        self.timeout = state["timeout"]  # type: ignore[assignment]
        self.concurrent = state["concurrent"]  # type: ignore[assignment]
        self.decode = state["decode"]  # type: ignore[assignment]
        self._prepare()

    def prefilter(self, lowered: bytes, original: bytes | None = None) -> Prefiltered:
        """The rules whose keywords (or encoded forms of them) occur in the lower-cased bytes,
        and those that have none. `original`, the bytes before lower-casing, lets keywords
        that match only as written be checked (without it they count in any case)."""
        if self._automaton is None:
            return Prefiltered(list(self._always), {})
        if len(lowered) <= _PREFILTER_CHUNK:
            matches = self._automaton.find_matches_as_indexes(lowered, overlapping=True)
            if len(matches) <= MAX_HITS_KEPT:
                present = {index for index, _, _ in matches}
                # One comprehension per keyword present (one or two, mostly) beats a loop.
                if len(present) == 1:
                    return self._selected({present.pop(): [start for _, start, _ in matches]},
                                          original)
                return self._selected({index: [start for i, start, _ in matches if i == index]
                                       for index in present}, original)
        found: dict[int, list[int]] = {}
        for index, start in _chunked_matches(self._automaton, lowered, self._longest):
            offsets = found.setdefault(index, [])
            if len(offsets) <= MAX_HITS_KEPT:
                offsets.append(start)
        return self._selected(found, original)

    def prefilter_sparse(self, content: bytes,
                         lower: Callable[[bytes], bytes] | None = None) -> Prefiltered:
        """`prefilter` of `content` lower-cased, faster where keywords are rare (binary content):
        a leftmost-first search skips ahead between candidates (16x faster than an overlapping
        one on a 150 MB executable), then an overlapping search of each leftmost match and the
        `longest - 1` bytes after it finds every keyword starting there. Each occurrence starts
        inside some leftmost match, so the hits are the same; a chunk dense in keywords is
        searched whole.

        `lower` makes a piece of `content` into the bytes searched, offset for offset (binary
        content's printable runs, lower-cased); without it, `content` is searched as it is (it
        is lower-cased already). Made a chunk at a time, they stay in the processor's cache:
        made whole, a 150 MB executable's cost 1.6x as much."""
        if self._automaton is None:
            return Prefiltered(list(self._always), {})
        if self._leftmost is None:
            self._leftmost = BytesAhoCorasick(self._keywords, matchkind=MatchKind.LeftmostFirst,
                                              implementation=Implementation.DFA)
        found: dict[int, list[int]] = {}
        longest = self._longest
        # `searched[at - shift]` is the searched byte at offset `at` of the content.
        searched = memoryview(content)
        shift = 0
        for base in range(0, len(content), _PREFILTER_CHUNK):
            end = min(len(content), base + _PREFILTER_CHUNK)
            if lower is not None:
                # (a keyword kept starts before `end`: it ends before `end + longest - 1`)
                searched, shift = memoryview(lower(content[base:end + longest - 1])), base
            piece = searched[base - shift:end + longest - 1 - shift]
            leftmost = self._leftmost.find_matches_as_indexes(piece)
            if len(leftmost) > _PREFILTER_CHUNK // 256:
                spans = [(base, end)]
            else:
                # (a match starting past the chunk is the next chunk's)
                spans = _merge((base + start, base + stop) for _, start, stop in leftmost
                               if base + start < end)
            for start, stop in spans:
                part = searched[start - shift:stop + longest - 1 - shift]
                stop = min(stop, end)
                for index, at, _ in self._automaton.find_matches_as_indexes(part,
                                                                            overlapping=True):
                    at += start
                    if at < stop:
                        offsets = found.setdefault(index, [])
                        if len(offsets) <= MAX_HITS_KEPT:
                            offsets.append(at)
        return self._selected(found)

    def could_find(self, verdict: Prefiltered, length: int,
                   text_between: Callable[[int, int], str]) -> bool:
        """Whether `scan` of a text of `length` characters, given this prefilter verdict on it,
        could find anything. False only when no rule that runs on its own matches in the
        windows its proven bound (see `reach`) puts around the keyword hits, each made by
        `text_between(start, end)`; a context rule runs only near another's match. True when
        any rule has no bound, on a timeout, and where there are too many windows to be cheap.

        Proof: the engine's first match of a rule with a keyword_window is found at the same
        place by a search of the same window, given the characters its look-behind reads
        before it; any match of a rule run over the whole text lies, with all it reads, in
        the window around a hit it holds, so a search of that window finds a match at its
        start at the latest (a match that the window's end makes possible is only a False
        alarm)."""
        hits = verdict.hits
        windows = 0
        for rule in verdict.rules:
            if rule.context is not None:
                continue  # runs only near a finding of a rule below
            bound = self._bounds.get(rule.id, _UNKNOWN)
            if bound is _UNKNOWN:
                bound = self._bounds[rule.id] = reach.bound(rule)
            if bound is None or not rule.keywords or any(
                    len(hits.get(k) or ()) > MAX_HITS_KEPT for k in rule.keywords):
                return True
            if bound.around is None:
                spans = [(start, max(0, start - bound.behind), end)
                         for start, end in _keyword_windows(rule, hits, length)]
            else:
                before, after = bound.around
                starts = [at for k in rule.keywords for at in hits.get(k) or ()]
                if bound.spaces < 0:
                    ends = [at + after for at in starts]
                else:  # a run of whitespace (in binaries: of binary bytes) of any length
                    ends = []
                    for at in starts:
                        run = _spaces(text_between, at + bound.spaces, length)
                        if run is None:
                            return True
                        ends.append(at + after + run)
                spans = [(start, start, end) for start, end in _merge(
                    (max(0, at - before), min(length, end)) for at, end in zip(starts, ends))]
            windows += len(spans)
            if windows > _MAX_WINDOWS:
                return True
            for start, first, end in spans:
                try:
                    if rule.pattern.search(text_between(first, end), start - first,
                                           timeout=self.timeout,
                                           concurrent=self.concurrent) is not None:
                        return True
                except TimeoutError:
                    return True  # the whole scan says so
        return False

    def rules_for(self, lowered: bytes, original: bytes | None = None) -> list[Rule]:
        return self.prefilter(lowered, original).rules

    def prefilter_each(self, contents: Sequence[bytes]) -> list[Prefiltered]:
        """`prefilter` of each of many (not lower-cased) contents, searching them joined.

        Most blobs of a git history hold no keyword at all: one search of the joined batch costs
        far less than one per blob. NUL separators keep a keyword (printable) from matching
        across two contents.
        """
        if self._automaton is None:
            return [Prefiltered(list(self._always), {}) for _ in contents]
        joined = b"\0".join(contents)  # lower-cased by `_matches` if its search needs it
        starts = []
        offset = 0
        for content in contents:
            starts.append(offset)
            offset += len(content) + 1
        found: dict[int, dict[int, list[int]]] = {}
        for index, start in self._matches(joined, lowered=False):
            which = bisect.bisect_right(starts, start) - 1
            offsets = found.setdefault(which, {}).setdefault(index, [])
            if len(offsets) <= MAX_HITS_KEPT:
                offsets.append(start - starts[which])
        nothing = self._nothing  # (what `_selected` gives for no hits, without a call each)
        return [self._selected(found[i], content) if i in found else nothing
                for i, content in enumerate(contents)]

    def rules_for_each(self, contents: Sequence[bytes]) -> list[list[Rule]]:
        return [verdict.rules for verdict in self.prefilter_each(contents)]

    def prepare_large_search(self) -> None:
        """Build now the keyword search a scan switches to after `_SPARSE_AFTER` bytes (for a
        process about to fork workers, which then share it rather than each building one)."""
        if self._sparse is None and self._keywords:
            self._sparse = self._large_search()
            self._searched = _SPARSE_AFTER

    def _large_search(self) -> caseless.Caseless | _Sparse:
        """The search of a large scan, and from now on the keywords found only as written:
        those whose other writings matter to nothing at all, to no rule (they count only as
        written) and to no decoder (which looks only at the same writings). Their hits
        elsewhere are dropped everywhere, and Hyperscan looks only for these writings ("sts."
        in every "requests." was 26k of pip's 41k hits, issue 14). (Telling the decoders'
        use compiles the rules' patterns: a scan this large compiles them anyway, a commit
        hook with nothing to find never does.)"""
        decoders, cased = self._decoders, self._cased
        self._exact = {i: writings for i, writings in cased.items()
                       if decoders is None
                       or not decoders.uses_writings_of(self._keywords[i], writings)}
        return caseless.build(self._keywords, self._exact) or _Sparse(self._keywords)

    def prepare_for_workers(self) -> None:
        """Build now, once, what each worker process of a large scan would otherwise build on
        its first batch, all of them at the same moment: the large keyword search, the keyword
        DFA, every rule's pattern (importing `regex`) and the decoders' patterns. For a process
        about to fork its workers, which then share all of it (issue 14: 40-170 ms of a
        worker's first batch on flask's history went to this)."""
        self.prepare_large_search()
        if self._automaton is not None:
            self._automaton.prepare()
        for rule in self.rules:
            rule.pattern.match  # noqa: B018 (a built-in rule's pattern compiles when used)
        lazyre.compile_all()

    def _matches(self, data: bytes, lowered: bool = True) -> Iterable[tuple[int, int]]:
        """(keyword index, start) of every keyword or encoded form in `data` in any case
        (`lowered`: it is lower-cased already): each keyword's in increasing order (the order
        of an overlapping search)."""
        assert self._automaton is not None
        if self._sparse is None and len(data) >= _SPARSE_FROM:
            self._searched += len(data)
            if self._searched >= _SPARSE_AFTER:
                self._sparse = self._large_search()
        if len(data) < _SPARSE_FROM or self._sparse is None or (lowered and self._sparse.exact):
            # (a search for some keywords as written is no use once the bytes are lower-cased)
            return _chunked_matches(self._automaton, data if lowered else data.lower(),
                                    self._longest)
        if not lowered and not self._sparse.caseless:
            data = data.lower()
        return self._sparse.matches(data)

    def _selected(self, hits: dict[int, list[int]], original: bytes | None = None) -> Prefiltered:
        """The rules woken by the keywords of these indexes, and those without keywords.
        Where `original` is known, a keyword that counts only as written is kept at the
        offsets where it is so written, and dropped if there are none."""
        found = hits
        if original is not None and self._cased and not self._cased.keys().isdisjoint(hits):
            hits = {i: offsets for i, offsets in
                    ((i, _written_at(original, self._cased[i], offsets) if i in self._cased
                      else offsets) for i, offsets in hits.items()) if offsets}
            if not self._exact.keys().isdisjoint(found):  # only as written, as Hyperscan finds
                found = {i: hits[i] if i in self._exact else offsets
                         for i, offsets in found.items() if i not in self._exact or i in hits}
        if not hits:
            return self._nothing
        wanted = {id(r) for i in hits for r in self._woken[i]}
        return Prefiltered([r for r in self.rules if not r.keywords or id(r) in wanted],
                           {self._keywords[i]: offsets for i, offsets in hits.items()}, found)

    def _hits(self, text: str) -> Hits:
        """Where keywords and encoded forms of keywords occur in `text` (offsets only when
        the text is ASCII, so that byte and character offsets agree)."""
        data = text.lower().encode("utf-8", "surrogatepass")
        if len(data) != len(text):
            return dict.fromkeys(self.prefilter(data).hits)
        # ASCII: lower-casing kept every offset, so the case of each hit can be checked.
        return self.prefilter(data, text.encode("ascii") if text.isascii() else None).hits

    def character_hits(self, verdict: Prefiltered, data: bytes, text: str,
                       skip: int = 0) -> dict[bytes, list[int] | None] | None:
        """What `_text_hits(text)` finds, taken from the prefilter's byte offsets in `data`
        rather than searched for again, where `text` is `data[skip:]` decoded as UTF-8 (with
        'replace'; `skip` the length of a BOM); None where that cannot be done.

        Why it is the same: keywords are ASCII (and hold no '?'), and an ASCII byte in UTF-8 is
        one character whose ASCII stand-in is itself, while every other character stands in
        as '?', which no keyword holds: so a keyword occurs in the stand-in exactly where it
        occurs in the bytes, each byte offset less the bytes before it that did not start a
        character. Decoding the bytes between two ASCII bytes gives the characters between
        them (a bad sequence ends before an ASCII byte), so counting goes from hit to hit;
        each hit is checked against the text, and any disagreement falls back to a search."""
        found = verdict.found
        if not found or not self._derivable:
            return None
        keywords = self._keywords
        listed = [(keywords[i], offsets) for i, offsets in found.items()
                  if len(offsets) <= MAX_HITS_KEPT]
        chars: dict[int, int] = {}
        at = skip
        count = 0
        view = memoryview(data)
        for offset in sorted({offset for _, offsets in listed for offset in offsets}):
            count += len(str(view[at:offset], "utf-8", "replace"))
            chars[offset] = count
            at = offset
        hits: dict[bytes, list[int] | None] = {}
        for i, offsets in found.items():
            keyword = keywords[i]
            if len(offsets) > MAX_HITS_KEPT:
                hits[keyword] = None
                continue
            where = [chars[offset] for offset in offsets]
            size = len(keyword)
            try:  # the bytes found lower-case to the keyword: ASCII, unless not from `data`
                written = [str(view[b:b + size], "ascii") for b in offsets]
            except UnicodeDecodeError:
                return None
            if not all(map(text.startswith, written, where)):
                return None
            hits[keyword] = where
        return hits

    def scan(
        self, fragment: Fragment, rules: Sequence[Rule] | None = None, hits: Hits | None = None,
        text_hits: dict[bytes, list[int] | None] | None = None,
    ) -> ScanResult:
        """Findings in the fragment. `rules` and `hits` are the prefilter's verdict on it, when
        the caller has it already (`hits` maps a keyword to None where its offsets in the text
        are not known); `text_hits`, what `_text_hits` would find in it, when the caller has
        it (`character_hits`)."""
        result = ScanResult()
        if rules is None:
            hits = self._hits(fragment.text)
            rules = self._selected({self._index[k]: [] for k in hits}).rules
        if not rules and not hits:
            return result
        given, text_hits = text_hits, None
        if hits and None in hits.values():
            # Offsets not known (the text is not ASCII, so byte and character offsets differ):
            # found here once, in characters, for the rules and the decoders, rather than by a
            # search per rule and per way of writing each keyword (-0.2 s of CPU on flask).
            text_hits = given if given is not None else self._text_hits(fragment.text)
            hits = {k: text_hits.get(k) for k in hits}
        candidates = self._match(fragment, rules, result, hits, text_hits) if rules else []
        lines = _LineIndex(fragment.text)
        found = [(c.start, c.end, _finding(fragment, c, lines, line))
                 for c, line in self._in_context(candidates, lines)] if candidates else []
        if self._decoders is not None:
            if hits is None:
                hits = self._hits(fragment.text)
            decoded = self._decoded(fragment, hits, lines, result) if hits else []
            if decoded:
                found = _merge_decoded(found, decoded)
        if not found:
            return result
        found.sort(key=lambda item: (item[0], item[2].rule_id))
        result.findings = link_pairs([finding for _, _, finding in found])
        return result

    def _decoded(
        self, fragment: Fragment, hits: Hits, lines: _LineIndex, result: ScanResult,
    ) -> list[tuple[int, int, Finding]]:
        """Findings in the decoded spans of the fragment, located in the fragment."""
        assert self._decoders is not None
        notes: list[str] = []
        segments = self._decoders.segments(fragment.text, hits, self._hits, notes=notes)
        result.warnings.extend(f"{fragment.path}: {note}" for note in notes)
        if not segments:
            return []
        found = []
        for layer in layers(fragment.text, segments, self._context_lines):
            excerpt = Fragment(fragment.path, layer.text, fragment.origin)
            lowered = layer.text.lower().encode("utf-8", "surrogatepass")
            rules = self.rules_for(lowered, layer.text.encode("ascii")
                                   if layer.text.isascii() else None)
            if not rules:
                continue
            excerpt_lines = _LineIndex(layer.text)
            candidates = self._match(excerpt, rules, result)
            for candidate, _ in self._in_context(candidates, excerpt_lines):
                start, end, names = layer.locate(candidate.start, candidate.end)
                located = _Candidate(candidate.rule, start, end, candidate.secret,
                                     candidate.decoded)
                finding = _finding(fragment, located, lines, lines.line_of(start))
                found.append((start, end, dataclasses.replace(
                    finding, decoded=names + candidate.decoded)))
        return found

    def _match(
        self, fragment: Fragment, rules: Sequence[Rule], result: ScanResult,
        known: Hits | None = None, text_hits: Hits | None = None,
    ) -> list[_Candidate]:
        """Candidates of `rules` in the fragment; `known` is where the prefilter found keywords
        in this text (reused when it has every offset, rather than searching again);
        `text_hits`, where every keyword and encoded form occurs in it (`_text_hits`)."""
        best: dict[tuple[int, int], _Candidate] = {}
        text = fragment.text
        hits: Mapping[bytes, Sequence[int] | None] | None = None
        if text_hits is not None:  # what _keyword_hits gives, without searching again
            hits = {k: v for k, v in text_hits.items() if k in self._plain_set}
        elif known is not None and None not in known.values():
            # A list longer than the prefilter keeps is cut short: the whole text, as below.
            hits = {k: v if v is not None and len(v) <= MAX_HITS_KEPT else None
                    for k, v in known.items()}
        for rule in rules:
            if rule.context is not None:
                continue
            if rule.keyword_window is None or not rule.keywords:
                self._run(rule, fragment, [(0, len(text))], best, result)
                continue
            if hits is None:
                hits = self._keyword_hits(text)
            # A rule whose matches contain a keyword only runs around the keyword's hits (over
            # the whole text where a keyword occurs too often to list).
            windows = _keyword_windows(rule, hits, len(text))
            self._run(rule, fragment, windows, best, result, self._starts(rule, hits))
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

    def _text_hits(self, text: str) -> dict[bytes, list[int] | None]:
        """Character offsets of every keyword and encoded form in `text`, as `_keyword_hits`
        finds the keywords; None for one that occurs too often to list."""
        found = _character_hits(text, self._keywords, self._matches)
        for index, writings in self._exact.items():  # only as written, as `prefilter` keeps
            keyword = self._keywords[index]
            offsets = found.get(keyword)
            if offsets is not None:
                written = [w.decode("ascii") for w in writings]
                kept = [at for at in offsets if any(text.startswith(w, at) for w in written)]
                if kept:
                    found[keyword] = kept
                else:
                    del found[keyword]
        return found

    def _keyword_hits(self, text: str) -> dict[bytes, list[int] | None]:
        """Offsets of every keyword in `text`; None for a keyword that occurs so often that
        the rules it wakes run over the whole text instead."""
        if self._plain_automaton is None:
            return {}
        return _character_hits(text, self._plain, self._plain_matches)

    def _plain_matches(self, data: bytes) -> Iterable[tuple[int, int]]:
        """(index in `_plain`, start) of every keyword (not encoded forms) in `data`."""
        assert self._plain_automaton is not None
        if len(data) < _SPARSE_FROM:
            return _chunked_matches(self._plain_automaton, data, self._longest)
        if self._plain_sparse is None:
            self._plain_sparse = _Sparse(self._plain)
        return self._plain_sparse.matches(data)

    def _starts(self, rule: Rule, hits: Mapping[bytes, Sequence[int] | None]
                ) -> list[int] | None:
        """Where the rule's matches can start, sorted: its keywords' hits, when its proven
        bound says that every match starts at one (see `reach`); None otherwise."""
        if not self.match_at_hits or sum(rule.keyword_window or ()) < _TRIED_AT_HITS_FROM:
            return None
        bound = self._bounds.get(rule.id, _UNKNOWN)
        if bound is _UNKNOWN:
            bound = self._bounds[rule.id] = reach.bound(rule)
        if bound is None or not bound.starts:
            return None
        listed = [hits.get(k) for k in rule.keywords]
        if any(k in hits and offsets is None for k, offsets in zip(rule.keywords, listed)):
            return None  # a keyword too frequent to list: the windows are the whole text
        return sorted(p for offsets in listed for p in offsets or ())

    def _found(self, rule: Rule, text: str, start: int, end: int,
               starts: Sequence[int] | None) -> Iterator[Any]:
        """The matches `rule.pattern.finditer(text, start, end)` gives. Where every match starts
        at one of `starts`, the pattern is tried only there, in order, each time past the end
        of the last match, as finditer's search goes; it would find nothing anywhere else
        (a window of 4 KB around one SDK name costs one try instead of four thousand)."""
        pattern = rule.pattern
        if starts is None:
            yield from pattern.finditer(text, start, end, timeout=self.timeout,
                                        concurrent=self.concurrent)
            return
        after = start  # where finditer's next search would begin
        for at in starts[bisect.bisect_left(starts, start):bisect.bisect_left(starts, end)]:
            if at < after:
                continue
            match = pattern.match(text, at, end, timeout=self.timeout,
                                  concurrent=self.concurrent)
            if match is not None:
                yield match
                after = max(match.end(), at + 1)

    def _run(
        self, rule: Rule, fragment: Fragment, windows: Sequence[tuple[int, int]],
        best: dict[tuple[int, int], _Candidate], result: ScanResult,
        starts: Sequence[int] | None = None,
    ) -> None:
        if self._timeouts.get(rule.id, 0) >= MAX_RULE_TIMEOUTS:
            return  # stopped, and said so when it was
        if len(best) >= limits.MAX_MATCHES_KEPT:
            return  # capped, and said so
        try:
            for start, end in windows:
                for match in self._found(rule, fragment.text, start, end, starts):
                    candidate = _candidate(rule, match, self.timeout)
                    if candidate is None:
                        continue
                    span = (candidate.start, candidate.end)
                    current = best.get(span)
                    if current is None or _rank(candidate.rule) > _rank(current.rule):
                        best[span] = candidate
                    if len(best) >= limits.MAX_MATCHES_KEPT:
                        result.warnings.append(
                            f"{fragment.path}: more than {limits.MAX_MATCHES_KEPT:,} matches; "
                            "the rest of this file was not looked at, so findings may be "
                            "missing (the count is a lower bound)")
                        return
        except TimeoutError:
            result.warnings.append(
                f"{fragment.path}: rule '{rule.id}' timed out after {self.timeout:g}s; "
                "matches of this rule in this file may be missing"
            )
            count = self._timeouts[rule.id] = self._timeouts.get(rule.id, 0) + 1
            if count == MAX_RULE_TIMEOUTS:
                result.warnings.append(
                    f"rule '{rule.id}' timed out {count} times and is not run on the rest of "
                    "the scan: its findings may be missing (the count is a lower bound); "
                    "fix its pattern or raise --regex-timeout")

    def _in_context(
        self, candidates: list[_Candidate], lines: _LineIndex
    ) -> list[tuple[_Candidate, int]]:
        """The candidates with their lines, less context matches with no anchor near (looked
        up by bisection in each kind's anchor lines: thousands of pairs in a file stay cheap)."""
        located = [(c, lines.line_of(c.start)) for c in candidates]
        anchors: dict[str, list[int]] = {}
        for c, line in located:
            if c.rule.context is None and c.rule.anchor:
                anchors.setdefault(c.rule.kind, []).append(line)  # in line order already
        return [
            (candidate, line) for candidate, line in located
            if candidate.rule.context is None or any(
                _any_within(anchors.get(kind, ()), line, candidate.rule.context.lines)
                for kind in candidate.rule.context.near)
        ]


def _character_hits(
    text: str, keywords: Sequence[bytes], search: Callable[[bytes], Iterable[tuple[int, int]]],
) -> dict[bytes, list[int] | None]:
    """Where `search` finds each of `keywords` (by index) in `text` lower-cased, in characters;
    None for a keyword found more than MAX_HITS_KEPT times."""
    # Byte offsets of ASCII-lower-cased text are character offsets only for ASCII text;
    # otherwise ASCII stands in for every other character, one for one.
    data = (text.encode("ascii") if text.isascii()
            else text.encode("ascii", "replace")).lower()
    counts: dict[bytes, list[int]] = {}
    for index, start in search(data):
        offsets = counts.setdefault(keywords[index], [])
        if len(offsets) <= MAX_HITS_KEPT:
            offsets.append(start)
    return {keyword: offsets if len(offsets) <= MAX_HITS_KEPT else None
            for keyword, offsets in counts.items()}


def _spaces(text_between: Callable[[int, int], str], at: int, length: int) -> int | None:
    """How many characters of whitespace start at `at` (all that `\\s` matches, and more);
    None past `_MAX_SPACES`."""
    run = 0
    while at + run < length and run <= _MAX_SPACES:
        piece = text_between(at + run, min(length, at + run + 4096))
        spaces = len(piece) - len(piece.lstrip())
        run += spaces
        if spaces < len(piece):
            return run
    return run if run <= _MAX_SPACES else None


def _written_at(data: bytes, writings: Sequence[bytes], offsets: list[int]) -> list[int]:
    """The offsets (of a case-blind keyword hit) where `data` holds one of `writings`; all of
    them when there were too many to list (the rest of the content is then unknown)."""
    if len(offsets) > MAX_HITS_KEPT:
        return offsets
    if len(writings) == 1:
        return list(itertools.compress(offsets, map(data.startswith,
                                                    itertools.repeat(writings[0]), offsets)))
    return [at for at in offsets if any(data.startswith(w, at) for w in writings)]


def _any_within(sorted_lines: Sequence[int], line: int, distance: int) -> bool:
    at = bisect.bisect_left(sorted_lines, line - distance)
    return at < len(sorted_lines) and sorted_lines[at] <= line + distance


def _chunked_matches(
    automaton: BytesAhoCorasick | _Keywords, data: bytes, longest: int
) -> Iterator[tuple[int, int]]:
    """(keyword index, start) of every (overlapping) keyword match in `data`, found a chunk at
    a time: a chunk is searched with `longest - 1` bytes of the next one, and keeps the
    matches that start in it."""
    view = memoryview(data)
    for base in range(0, len(data), _PREFILTER_CHUNK):
        piece = view[base:base + _PREFILTER_CHUNK + longest - 1]
        for index, start, _ in automaton.find_matches_as_indexes(piece, overlapping=True):
            if start < _PREFILTER_CHUNK:
                yield index, base + start


class _Keywords:
    """The keyword automaton: a contiguous NFA until `_DFA_AFTER` bytes have been searched, a DFA
    from then on. As a DFA, a few hundred encoded forms cost no more to search than the plain
    keywords alone (3x faster than the NFA), but it takes some 30 million instructions to build:
    most of a commit hook's engine set-up, for a few kilobytes to search (issue 14). Both find
    the same matches, in the same order."""

    def __init__(self, keywords: Sequence[bytes]) -> None:
        self._keywords = keywords
        self._searched = 0
        self._automaton = BytesAhoCorasick(keywords, implementation=Implementation.ContiguousNFA)

    def find_matches_as_indexes(
        self, data: bytes | memoryview, overlapping: bool = False
    ) -> list[tuple[int, int, int]]:
        if self._searched < _DFA_AFTER:
            if self._searched + len(data) >= _DFA_AFTER:  # (threads may both build it: the same)
                self.prepare()
            else:
                self._searched += len(data)
        return self._automaton.find_matches_as_indexes(data, overlapping=overlapping)

    def prepare(self) -> None:
        """Become the DFA now (see `Engine.prepare_for_workers`)."""
        if self._searched < _DFA_AFTER:
            self._searched = _DFA_AFTER
            self._automaton = BytesAhoCorasick(self._keywords, implementation=Implementation.DFA)


class _Sparse:
    """Every occurrence of the keywords, as an overlapping search finds them, at a fraction of
    its cost where keywords are sparse (most text). An overlapping search steps through every
    byte (about 550 MB/s with a few hundred encoded forms); a leftmost-first search of a few
    dozen keywords skips ahead with a SIMD prefilter (several GB/s). So the keywords are split
    into small groups, each searched leftmost-first, and only around what they find is the
    overlapping search run: every occurrence of a keyword starts inside some leftmost match of
    its group (the search, having passed no match up to it, finds one starting at or before
    it that does not end before it). 0.29 s -> 0.15 s of CPU over flask's 166 MB of blobs."""

    caseless = False  # it searches lower-cased bytes
    exact = False  # every keyword in any case

    def __init__(self, keywords: Sequence[bytes]) -> None:
        self._longest = max(map(len, keywords))
        self._all = BytesAhoCorasick(keywords, implementation=Implementation.DFA)
        # Sorted, so that keywords alike (the forms of one encoding) share a group.
        order = sorted(keywords)
        count = -(-len(order) // _GROUP_SIZE)
        size = -(-len(order) // count)
        self._groups = [BytesAhoCorasick(order[at:at + size], matchkind=MatchKind.LeftmostFirst,
                                         implementation=Implementation.DFA)
                        for at in range(0, len(order), size)]

    def matches(self, data: bytes | memoryview) -> Iterator[tuple[int, int]]:
        """(keyword index, start) of each occurrence, a chunk at a time (bounded memory),
        each keyword's in increasing order."""
        view = memoryview(data)
        longest = self._longest
        for base in range(0, len(data), _PREFILTER_CHUNK):
            piece = view[base:base + _PREFILTER_CHUNK + longest - 1]
            limit = min(_PREFILTER_CHUNK, len(data) - base)  # the occurrences this chunk owns
            spans: list[tuple[int, int]] = []
            for group in self._groups:
                found = group.find_matches_as_indexes(piece)
                if len(found) > _PREFILTER_CHUNK // 256:  # dense: one search of it all
                    spans = [(0, limit)]
                    break
                spans.extend((start, end) for _, start, end in found if start < limit)
            for start, end in _merge(spans):
                end = min(end, limit)
                for index, at, _ in self._all.find_matches_as_indexes(
                        piece[start:end + longest - 1], overlapping=True):
                    if at < end - start:
                        yield index, base + start + at


def _merge_decoded(
    plain: list[tuple[int, int, Finding]], decoded: list[tuple[int, int, Finding]]
) -> list[tuple[int, int, Finding]]:
    """Plain findings and those that decoding added: a decoded finding of a span already found
    is dropped, and so is a plain finding that is only a piece of a split key found whole."""
    spans = {(start, end) for start, end, _ in plain}
    starts = {(start, f.secret) for start, _, f in plain}
    added = []
    for start, end, finding in decoded:
        if (start, end) in spans or (start, finding.secret) in starts:
            continue
        spans.add((start, end))
        added.append((start, end, finding))
    # A decoded span that holds a plain one starts at or before it: look back from there,
    # only while some span still reaches as far (a running maximum of their ends).
    added.sort(key=lambda item: item[0])
    added_starts = [start for start, _, _ in added]
    reach = list(itertools.accumulate((end for _, end, _ in added), max))
    kept = []
    for start, end, f in plain:
        at = bisect.bisect_right(added_starts, start) - 1
        inside = False
        while at >= 0 and reach[at] >= end and not inside:
            _, d_end, d = added[at]
            inside = (end <= d_end and bool(d.decoded) and d.kind == f.kind
                      and f.secret in d.secret and f.secret != d.secret)
            at -= 1
        if not inside:
            kept.append((start, end, f))
    return kept + added


def _keyword_windows(
    rule: Rule, hits: Mapping[bytes, Sequence[int] | None], length: int
) -> list[tuple[int, int]]:
    assert rule.keyword_window is not None
    before, after = rule.keyword_window
    if any(k in hits and hits[k] is None for k in rule.keywords):
        return [(0, length)]
    starts = sorted(itertools.chain.from_iterable(hits.get(k) or () for k in rule.keywords))
    if not starts:
        return []
    # Windows around hits closer than this overlap or touch: one merged window. Found by one
    # comprehension over the gaps rather than a window (a tuple) per hit, sorted and merged
    # again: thousands of hits in a file of aliyun-cli's history (issue 14).
    reach = before + after
    ends = [i for i, gap in enumerate(map(operator.sub, starts[1:], starts), 1) if gap > reach]
    return [(max(0, starts[first] - before), min(length, starts[last - 1] + after))
            for first, last in zip([0, *ends], [*ends, len(starts)])]


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


def _candidate(rule: Rule, match: object, timeout: float) -> _Candidate | None:
    group = "secret" if rule.pattern.groupindex else 0
    secret = match.group(group)  # type: ignore[attr-defined]
    if not secret:
        return None
    start, end = match.span(group)  # type: ignore[attr-defined]
    if placeholder_shape(secret) or any(p.search(secret, timeout=timeout)
                                        for p in rule.placeholders):
        return None
    if char_classes(secret) < rule.min_char_classes:
        return None
    if rule.min_entropy and shannon_entropy(secret) < rule.min_entropy:
        return None
    # An STS token in a signed URL is written percent-encoded (%2B, %2F, %3D): the credential,
    # its fingerprint and what validation sends are the decoded token, the same in any encoding.
    if "%" in secret:
        plain = _PERCENT_ESCAPE.sub(_unescape, secret)
        if plain != secret:
            return _Candidate(rule, start, end, plain, (PERCENT,))
    return _Candidate(rule, start, end, secret)


_PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def _rank(rule: Rule) -> tuple[int, int]:
    """Which rule names a span when several match it: the more precise, then the standalone one."""
    return (PRECISIONS.index(rule.precision), rule.context is None)


def _finding(fragment: Fragment, c: _Candidate, lines: _LineIndex, line: int) -> Finding:
    text = fragment.text
    line_start = lines.start_of(line)
    line_end = lines.end_before_newline(lines.line_of(c.end), len(text))
    end_line = lines.line_of(max(c.end - 1, c.start))
    end_line_start = lines.start_of(end_line)
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
        line_text=_clip(text, line_start, line_end, c.start).rstrip("\r"),
        suppressed=lines.allow_reason(line, line_end),
        origin=fragment.origin,
        decoded=c.decoded,
    )


def _clip(text: str, start: int, end: int, at: int) -> str:
    """text[start:end] (a line), or enough of it around `at` for a report: copying a whole
    megabyte-long line for each of its findings would cost time quadratic in its length."""
    if end - start <= _LINE_TEXT_LIMIT:
        return text[start:end]
    start = max(start, at - _LINE_TEXT_LIMIT // 2)
    return text[start:min(end, start + _LINE_TEXT_LIMIT)]


class _LineIndex:
    """Offsets of line starts, computed once per fragment, when first needed."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._line_starts: list[int] | None = None
        self._allowed: dict[tuple[int, int], str | None] = {}

    @property
    def _starts(self) -> list[int]:
        if self._line_starts is None:
            starts = [0]
            find = self._text.find
            pos = find("\n")
            while pos >= 0:
                starts.append(pos + 1)
                pos = find("\n", pos + 1)
            self._line_starts = starts
        return self._line_starts

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    def start_of(self, line: int) -> int:
        return self._starts[line - 1]

    def end_before_newline(self, line: int, length: int) -> int:
        """Offset of the newline that ends `line`, or the text's end."""
        starts = self._starts
        return starts[line] - 1 if line < len(starts) else length

    def allow_reason(self, line: int, line_end: int) -> str | None:
        """The inline suppression of a finding on `line` (through `line_end`), looked up once
        per line: a line holding thousands of findings is searched once, not once each."""
        key = (line, line_end)
        if key not in self._allowed:
            text = self._text
            line_start = self.start_of(line)
            previous = text[self.start_of(line - 1):max(line_start - 1, 0)] if line > 1 else ""
            self._allowed[key] = inline_allow_reason(text[line_start:line_end], previous)
        return self._allowed[key]

    def end_of(self, line: int, length: int) -> int:
        """Offset just past `line` (its newline included), or the text's end."""
        starts = self._starts
        return starts[line] if line < len(starts) else length
