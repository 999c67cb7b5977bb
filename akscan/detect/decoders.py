"""Encoded credentials: which spans of a text to decode, decoded to a bounded depth (issue 3).

Decoding is paid for only where a cheap test says it could matter:
- the keyword prefilter also looks for encoded forms of every keyword (base64 at its three
  alignments, hex, `\\x`, `\\u` and `%` escapes): such a hit names the run to decode;
- the value right after a plain keyword (`akSecret: <base64>`) is decoded if it is base64 or hex;
- on a line holding a keyword, string escapes (`\\"`, `\\u004c`) and percent-encoding are
  decoded, and string literals split into pieces (`"LTAI5t" + "..."`) are joined.
A decoded base64 or hex run is kept only if it is text that holds a keyword or is shaped like a
key; its siblings a few lines away (the other values of a Kubernetes Secret) are then tried too.
What a decoded span holds is decoded again, up to `MAX_DEPTH` decodings in all.

The engine then scans excerpts of the text with the decoded spans in place (layers.py).
"""

from __future__ import annotations

import base64
import bisect
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import compress, repeat
from typing import NamedTuple

from akscan import lazyre
from akscan.detect import codec
from akscan.detect.limits import MAX_HITS_KEPT
from akscan.errors import RuleError
from akscan.rules import Deferred, Rule

MAX_DEPTH = 2
# Where each keyword or (lower-cased) encoded form of one occurs in a text, as the prefilter
# finds them; None where the offsets are not known (they are then searched for).
Hits = Mapping[bytes, Sequence[int] | None]
HitsOf = Callable[[str], Hits]

# The shortest encoded form of a keyword searched for: shorter ones turn up by chance in every
# base64 blob, and each such hit costs a decoding attempt. Four characters (LTAI at one of its
# three alignments) turn up about once per megabyte of base64.
_MIN_FORM = 4
_VALUE_WINDOW = 120  # how far after a keyword its value may start
_HINT_BEFORE, _HINT_AFTER = 16, 160  # where escapes or a split must be to matter to a keyword
_REGION_BEFORE, _REGION_AFTER = 256, 1024  # the part of a keyword's line decoded for escapes
_SIBLING_LINES = 5
_SIBLING_REACH = 4096  # characters: the lines of a minified one-line file are not "near"
_MAX_OFFSETS = 4096  # case-blind offsets checked one by one; past that, a search of the text
_HEX_REACH = 4096  # how far from an encoded keyword a hex run is decoded, on either side
# How far after a key's prefix (LTAI) the piece that starts a split key may end.
_SPLIT_REACH = 64
_CREDENTIAL_SHAPE = lazyre.compile(r"\s*[A-Za-z0-9]{16,64}\s*")


def encoded_forms(written: str) -> dict[str, str]:
    """Encoded forms of a keyword as written (case matters), each with its encoding."""
    data = written.encode("ascii")
    forms: dict[str, str] = {}
    # Base64 of UTF-16 too: PowerShell's -EncodedCommand is base64 of UTF-16LE.
    for encoded_text in (data, written.encode("utf-16-le")):
        for shift in range(3):
            # The characters of base64 that only the keyword's bits make up, at this alignment.
            encoded = base64.b64encode(b"\0" * shift + encoded_text + b"\0\0\0").decode()
            fixed = encoded[-(-8 * shift // 6):8 * (shift + len(encoded_text)) // 6]
            if len(fixed) >= _MIN_FORM:
                forms[fixed] = codec.BASE64
                forms[fixed.replace("+", "-").replace("/", "_")] = codec.BASE64
    for digits in ("%02x", "%02X"):
        forms["".join(digits % c for c in data)] = codec.HEX
        forms["".join("\\x" + digits % c for c in data)] = codec.ESCAPE
        forms["".join("\\u00" + digits % c for c in data)] = codec.ESCAPE
        forms["".join("%" + digits % c for c in data)] = codec.PERCENT
    return forms


def _role(rule: Rule, keyword: bytes, timeout: float) -> str | None:
    """What a keyword is to its rule, as the rule's positive examples show: the name of a field
    assigned the secret ("name": ACCESS_KEY_SECRET=...), the start of the secret itself
    ("prefix": LTAI...), or neither (an SDK call around it), where decoding has nothing to do.
    The rule's pattern runs under the scan's timeout here too: a custom rule's pattern that
    takes too long on its own examples is an invalid rule."""
    word = re.compile(re.escape(keyword.decode("ascii")), re.IGNORECASE)
    try:
        return _role_in_examples(rule, keyword, word, timeout)
    except TimeoutError:
        raise RuleError(
            f"{rule.source}: rule '{rule.id}': field 'pattern': timed out after {timeout:g}s "
            "on one of the rule's own examples; simplify the pattern") from None


def _role_in_examples(
    rule: Rule, keyword: bytes, word: re.Pattern[str], timeout: float
) -> str | None:
    for example in rule.positive_examples:
        for match in rule.pattern.finditer(example, timeout=timeout):
            group = "secret" if rule.pattern.groupindex else 0
            secret, (start, _) = match.group(group), match.span(group)
            if secret.lower().startswith(keyword.decode("ascii")):
                return "prefix"
            for found in word.finditer(example, 0, start):
                if _ASSIGNED.match(example, found.end(), start):
                    return "name"
    return None


def written_forms(keyword: bytes, examples: Iterable[str]) -> set[str]:
    """How a keyword is written where it matters: as in the rule's pattern and positive
    examples (LTAI, not ltai; getProfile), or else lower case, upper case and capitalised."""
    word = keyword.decode("ascii")
    lowered = word.lower()
    seen: set[str] = set()
    for example in examples:
        if example.isascii():  # as the pattern below finds, without compiling it (issue 14)
            folded = example.lower()
            at = folded.find(lowered)
            while at >= 0:
                seen.add(example[at:at + len(word)])
                at = folded.find(lowered, at + len(word))
        else:
            pattern = re.compile(re.escape(word), re.IGNORECASE)
            seen.update(m.group() for m in pattern.finditer(example))
    return seen or {word.lower(), word.upper(), word.capitalize()}


class Segment(NamedTuple):
    """A decoded span of a text: `text` is what text[start:end] encodes; `begins[i]`/`ends[i]`
    say where the encoding of character i sits in that text; `names` are (offset, decodings)
    runs over `text` saying which decodings produced it."""

    start: int
    end: int
    text: str
    begins: list[int]
    ends: list[int]
    names: list[tuple[int, tuple[str, ...]]]

    def decodings_at(self, offset: int) -> tuple[str, ...]:
        index = bisect.bisect_right(self.names, offset, key=_offset) - 1
        return self.names[max(index, 0)][1]


def _offset(name: tuple[int, tuple[str, ...]]) -> int:
    return name[0]


class Decoders:
    """What to decode for a set of rules: their keywords as written, and encoded forms of them."""

    def __init__(self, rules: Iterable[Rule], timeout: float = 10.0) -> None:
        self.keywords: frozenset[bytes] = frozenset()
        written: dict[bytes, set[str]] = {}
        self.forms: dict[bytes, str] = {}  # lower-cased encoded form -> encoding
        exact: dict[bytes, set[str]] = {}
        self.form_keywords: dict[bytes, set[bytes]] = {}  # lower-cased form -> its keywords
        self._rules = list(rules)
        self._timeout = timeout
        for rule in self._rules:
            for keyword in rule.keywords:
                written.setdefault(keyword, set()).update(
                    written_forms(keyword, [*rule.positive_examples, rule.pattern.pattern]))
        # The keywords' roles run each rule's pattern on its examples. A user's rule is judged
        # now (a pattern that times out there is an invalid rule, before any scan); when all
        # are built-in rules, whose patterns compile on first use, only once a decoder needs
        # them, so a content with no keyword compiles no pattern (issue 14).
        if not all(isinstance(rule.pattern, Deferred) for rule in self._rules):
            self._roles  # noqa: B018 - computed for its errors
        self.keywords = frozenset(written)
        for keyword, writings in sorted(written.items()):
            for writing in sorted(writings):
                for form, encoding in encoded_forms(writing).items():
                    lowered = form.lower().encode("ascii")
                    if lowered in self.keywords:
                        continue
                    self.forms.setdefault(lowered, encoding)
                    exact.setdefault(lowered, set()).add(form)
                    self.form_keywords.setdefault(lowered, set()).add(keyword)
        # keyword or lower-cased encoded form -> how it is written in a text, in a stable order
        self.written = {k: tuple(sorted(v)) for k, v in written.items()}
        self.exact = {k: tuple(sorted(v)) for k, v in exact.items()}

    @functools.cached_property
    def _roles(self) -> tuple[set[bytes], set[bytes]]:
        valued: set[bytes] = set()  # keywords that name a field assigned the secret
        prefixes: set[bytes] = set()  # keywords that a secret starts with (LTAI)
        for rule in self._rules:
            for keyword in rule.keywords:
                role = _role(rule, keyword, self._timeout)
                if role == "name":
                    valued.add(keyword)
                elif role == "prefix":
                    prefixes.add(keyword)
        # A keyword that starts keys (LTAI) is a key wherever it occurs, not a field's name.
        return valued - prefixes, prefixes

    def uses_writings_of(self, keyword: bytes, writings: Sequence[bytes]) -> bool:
        """Whether the decoders look at `keyword` written other than as `writings`."""
        if keyword not in self.valued and keyword not in self.prefixes:
            return False  # only its encoded forms matter, which are keywords of their own
        return not {w.encode("ascii") for w in self.written.get(keyword, ())} <= set(writings)

    @functools.cached_property
    def valued(self) -> set[bytes]:
        """Keywords that name a field assigned the secret (ACCESS_KEY_SECRET=...)."""
        return self._roles[0]

    @functools.cached_property
    def prefixes(self) -> set[bytes]:
        """Keywords that a secret starts with (LTAI)."""
        return self._roles[1]

    def segments(
        self, text: str, hits: Hits, hits_of: HitsOf, depth: int = 1,
        notes: list[str] | None = None,
    ) -> list[Segment]:
        """The decoded spans of `text` (where the prefilter found `hits`); disjoint, in order;
        what they hold is decoded again while `depth` allows. A cap reached on the way is said
        in `notes`. Every step costs time linear in the text (issue 12)."""
        capped: list[str] = []
        plain = [(key, where) for key, offsets in hits.items() if key not in self.forms
                 and (key in self.valued or key in self.prefixes)
                 and (where := _occurrences(text, self.written[key], offsets, capped))]
        coded = [key for key in hits if key in self.forms]
        if not plain and not coded:
            _note_caps(capped, notes)
            return []  # the common case: keywords, but not as written (posts. for STS.)
        finder = _Finder(self, text, hits_of)
        for key, where in plain:
            self._plain(finder, key, where)
        triggers = sorted((offset, self.forms[key]) for key in coded
                          for _, offset in _occurrences(text, self.exact[key], hits[key], capped))
        # A run holding many encoded keywords is decoded once: later hits inside it are skipped.
        covered = {codec.BASE64: -1, codec.HEX: -1}
        for offset, encoding in triggers:
            if encoding == codec.BASE64:
                if offset < covered[codec.BASE64]:
                    continue
                start, end = codec.base64_run_at(text, offset)
                covered[codec.BASE64] = end
                if _PERCENT_SPLIT.match(text, end) or _PERCENT_SPLIT.match(text, start - 3):
                    finder.region(codec.PERCENT, offset)  # %2B, %2F: a URL parameter
                else:
                    finder.token(codec.BASE64, start, end)
            elif encoding == codec.HEX:
                if offset < covered[codec.HEX]:
                    continue
                start, end = codec.hex_run_at(text, offset, _HEX_REACH)
                covered[codec.HEX] = end
                finder.token(codec.HEX, start, end)
            else:
                finder.region(encoding, offset)
        finder.decode_regions()
        finder.siblings()
        found = _disjoint(finder.found)
        if depth < MAX_DEPTH:
            found = [self._nested(segment, hits_of, depth, capped) for segment in found]
        _note_caps(capped, notes)
        return found

    def _plain(self, finder: _Finder, key: bytes, found: list[tuple[str, int]]) -> None:
        """The triggers at a keyword's occurrences. This runs at every keyword of every file
        that has one, so the cheap tests run over all occurrences at once (`map` calls them
        from C); a method runs only where one passed."""
        if not found:
            return
        text = finder.text
        offsets = [offset for _, offset in found]
        ends = [offset + len(written) for written, offset in found]
        texts = repeat(text, len(found))
        if key in self.valued:
            for match in filter(None, map(_VALUE.match, texts, ends)):
                finder.value(match)
        else:  # a prefix: the key itself starts here
            limits = [end + _SPLIT_REACH for end in ends]
            for offset, split in zip(offsets, map(codec.SPLIT_AFTER.match, texts, ends,
                                                  limits)):
                if split:
                    finder.region(codec.CONCAT, offset)
        marks = finder.marks()
        if not marks:
            return
        los = [max(0, offset - _HINT_BEFORE) for offset in offsets]
        his = [end + _HINT_AFTER for end in ends]
        near: set[int] = set()
        for mark in marks:
            near.update(offset for offset, at in zip(
                offsets, map(text.find, repeat(mark, len(found)), los, his)) if at >= 0)
        for offset in sorted(near):
            finder.escapes(offset)

    def _nested(
        self, segment: Segment, hits_of: HitsOf, depth: int, capped: list[str]
    ) -> Segment:
        inner = self.segments(segment.text, hits_of(segment.text), hits_of, depth + 1, capped)
        return _substitute(segment, inner) if inner else segment


def _note_caps(capped: list[str], notes: list[str] | None) -> None:
    if notes is not None:
        for written in dict.fromkeys(capped):
            notes.append(
                f"'{written}' occurs more than {MAX_HITS_KEPT:,} times; encoded or split keys "
                f"were looked for at the first {MAX_HITS_KEPT:,} only, so findings may be "
                "missing (the count is a lower bound)")


def _occurrences(
    text: str, writings: Sequence[str], offsets: Sequence[int] | None, capped: list[str],
) -> list[tuple[str, int]]:
    """Where `text` holds one of `writings` (case matters): at the prefilter's `offsets` (found
    case-blind), or anywhere when they are not known. At most `MAX_HITS_KEPT` per writing: a
    writing cut there is added to `capped`."""
    # Checking the case at each offset (from C, by `map`) costs less CPU time than searching
    # the whole text again, until there are very many of them.
    found: list[tuple[str, int]] = []
    for written in writings:
        if offsets is not None and len(offsets) <= _MAX_OFFSETS:
            where = list(compress(offsets, map(text.startswith, repeat(written), offsets)))
        else:
            where = _find_all(text, written)
        if len(where) > MAX_HITS_KEPT:
            capped.append(written)
            del where[MAX_HITS_KEPT:]
        found.extend(zip(repeat(written), where))
    return found


def _find_all(text: str, word: str) -> list[int]:
    """Offsets of `word` in `text`, one more than `MAX_HITS_KEPT` at most."""
    found: list[int] = []
    at = text.find(word)
    while at >= 0 and len(found) <= MAX_HITS_KEPT:
        found.append(at)
        at = text.find(word, at + 1)
    return found


# What follows a field's name up to its value: the rest of the name, a closing quote, an
# assignment in any common syntax, a wrapper call such as base64.b64decode( or tea.String(; then
# a string literal that the next one continues (tried first: a piece may look like base64), or a
# base64 or hex run: one with a digit, + or / or padding, not called (load_credentials() is a
# name: base64 of 12 bytes or more nearly always has one of those).
# `(?=(?P<name>...))(?P=name)` takes the rest of the name whole (an atomic group, which `re`
# lacks before Python 3.11): where no value follows, most keywords, it fails at once instead of
# trying every shorter name.
_VALUE = lazyre.compile(
    r"""(?=(?P<name>[\w.\-]{0,30}))(?P=name)\\?["'`]?[ \t]*(?:=>|:=|==|=|:|,|\(|[ \t])[ \t]*"""
    r"""(?:\r?\n[ \t]*)?(?:[A-Za-z_][\w.]{0,40}\([ \t]*)?(?:\([ \t]*(?:\r?\n[ \t]*)?)?"""
    r"""(?:(?P<split>""" + codec.SPLIT_VALUE.pattern + ")"
    r"""|\\?["'`]?(?=[A-Za-z_\-]*[0-9+/=])(?P<run>[A-Za-z0-9+/_\-]{16,}={0,2})(?![(]))""")
# A name's rest and an assignment, up to the value (for `_role`).
_ASSIGNED = lazyre.compile(r"""[\w.\-]{0,30}\\?["'`]?[ \t]*(?:=>|:=|==|=|:)[ \t]*\\?["'`]?\Z""")
_PERCENT_SPLIT = lazyre.compile(r"%2[BbFf]")
_ESCAPE_OR_PERCENT = lazyre.compile(r"[\\%]")
_DECODERS = {codec.ESCAPE: codec.decode_escapes, codec.PERCENT: codec.decode_percent,
             codec.CONCAT: codec.join_literals}


class _Finder:
    """Candidate spans of one text, decoded and judged."""

    def __init__(self, decoders: Decoders, text: str, hits_of: HitsOf) -> None:
        self.decoders = decoders
        self.text = text
        self.hits_of = hits_of
        self.found: list[Segment] = []
        self.tried: set[tuple[int, int]] = set()
        self.regions: list[tuple[str, int, int]] = []
        self.tokens: list[Segment] = []  # decoded base64 or hex runs that hold something
        self._marks: list[str] | None = None

    def marks(self) -> list[str]:
        """Which of a backslash and a percent sign the text holds: escapes need one."""
        if self._marks is None:
            self._marks = [mark for mark in ("\\", "%") if mark in self.text]
        return self._marks

    def value(self, match: re.Match[str]) -> None:
        """The value given to a keyword-named field (`_VALUE` matched after the name): string
        literals split into pieces (`secret = "abc" + "def"`), or base64 or hex
        (`akSecret: <base64>`)."""
        if match.group("split"):
            self.region(codec.CONCAT, match.start("split"))
        else:
            span = codec.base64_run_at(self.text, match.start("run"))
            self.token(_token_encoding(self.text, *span), *span)

    def escapes(self, offset: int) -> None:
        """String escapes or percent-encoding right around a keyword (`\\nLTAI...`,
        `secret%3D...`), decoded over the part of the line around it."""
        lo, hi = max(0, offset - _HINT_BEFORE), offset + _HINT_AFTER
        if codec.ESCAPE_HINT.search(self.text, lo, hi):
            self.region(codec.ESCAPE, offset)
        if codec.PERCENT_HINT.search(self.text, lo, hi):
            self.region(codec.PERCENT, offset)

    def region(self, encoding: str, offset: int) -> None:
        """Ask for the part of `offset`'s line to be decoded (by `decode_regions`)."""
        self.regions.append((encoding, *_region(self.text, offset)))

    def decode_regions(self) -> None:
        """Decode the regions asked for, overlapping ones of an encoding as one: the regions of
        consecutive lines overlap where a line leaves a literal open, and dropping all but one
        of them would lose the keys of the others (issue 15)."""
        for encoding, start, end in _merged(self.regions):
            decoded = _DECODERS[encoding](self.text, start, end)
            if decoded is not None and decoded.text != self.text[start:end]:
                self.found.append(_segment(start, end, decoded, encoding))
        self.regions.clear()

    def token(self, encoding: str, start: int, end: int, sibling: bool = False) -> None:
        if (start, end) in self.tried or end - start < 16:
            return
        self.tried.add((start, end))
        decoders = ([codec.decode_hex, codec.decode_base64] if encoding == codec.HEX
                    else [codec.decode_base64])
        for decode in decoders:
            decoded = decode(self.text, start, end)
            if decoded is not None and self._worth_it(decoded.text):
                name = codec.HEX if decode is codec.decode_hex else codec.BASE64
                segment = _segment(start, end, decoded, name)
                self.found.append(segment)
                if not sibling:
                    self.tokens.append(segment)
                return

    def _worth_it(self, text: str) -> bool:
        """Decoded text worth scanning: it names a keyword, or it is a bare key."""
        if _CREDENTIAL_SHAPE.fullmatch(text):
            return True
        return not self.decoders.keywords.isdisjoint(self.hits_of(text))

    def siblings(self) -> None:
        """Values near a decoded one: in a Secret's `data:` map, the secret next to the ID.
        The places around all decoded runs are searched once (merged), each run tried once."""
        text = self.text
        windows = []
        for segment in self.tokens:
            start = line_back(text, segment.start, _SIBLING_LINES, _SIBLING_REACH)
            end = line_forward(text, segment.end, _SIBLING_LINES, _SIBLING_REACH)
            windows.append((start, end))
        for _, start, end in _merged(("", start, end) for start, end in windows):
            for run in codec.BASE64_RUN.finditer(text, start, end):
                self.token(_token_encoding(text, *run.span()), *run.span(), sibling=True)


def _merged(spans: Iterable[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """(kind, start, end) spans with those of a kind that overlap merged into one."""
    merged: list[tuple[str, int, int]] = []
    for kind, start, end in sorted(spans):
        if merged and merged[-1][0] == kind and start < merged[-1][2]:
            merged[-1] = (kind, merged[-1][1], max(end, merged[-1][2]))
        else:
            merged.append((kind, start, end))
    return merged


def _token_encoding(text: str, start: int, end: int) -> str:
    run = text[start:end]
    return codec.HEX if (end - start) % 2 == 0 and _HEX.fullmatch(run) else codec.BASE64


_HEX = lazyre.compile(r"[0-9A-Fa-f]+")
# A line that leaves a literal open: it ends with + . or \ (a comment may follow), or the next
# line starts with one or with a quote.
_OPEN_END = lazyre.compile(r"[+.\\][ \t\r]*(?:(?://|#)[^\n]*)?\Z")
_MAX_CONTINUED_LINES = 64
_OPEN_START = lazyre.compile(r"\n[ \t]*[+.\"'`]")


def _segment(start: int, end: int, decoded: codec.Decoded, name: str) -> Segment:
    return Segment(start, end, decoded.text, decoded.begins, decoded.ends, [(0, (name,))])


def _region(text: str, offset: int) -> tuple[int, int]:
    """The part of `offset`'s line that escapes around a keyword are decoded in."""
    # Looked for no further than the region reaches: on a one-line file, finding the line's
    # ends would cost the whole text at every keyword.
    lo, hi = max(0, offset - _REGION_BEFORE), offset + _REGION_AFTER
    line_start = text.rfind("\n", lo, offset) + 1 or lo
    line_end = text.find("\n", offset, hi)
    line_end = min(len(text), hi) if line_end < 0 else line_end
    # Split literals continue over the next lines: take them while each leaves one open.
    last_start = line_start
    for _ in range(_MAX_CONTINUED_LINES):
        if line_end >= min(len(text), hi) or not (
                _OPEN_END.search(text, last_start, line_end)
                or _OPEN_START.match(text, line_end)):
            break
        following = text.find("\n", line_end + 1, hi)
        last_start, line_end = line_end + 1, min(len(text), hi) if following < 0 else following
    return (soft_boundary(text, max(line_start, lo), forward=True),
            soft_boundary(text, min(line_end, hi), forward=False))


def soft_boundary(text: str, pos: int, forward: bool) -> int:
    """`pos` moved off the middle of a token (forward or back), so that cutting the text there
    makes no shorter token that a rule would take for a key."""
    step = 1 if forward else -1
    for _ in range(512):
        if pos <= 0 or pos >= len(text) or not (
                text[pos - 1] in _TOKEN_CHARS and text[pos] in _TOKEN_CHARS):
            return pos
        pos += step
    return pos


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")


def line_back(text: str, pos: int, lines: int, reach: int) -> int:
    """The start of the line `lines` lines above the one holding `pos`, or `pos - reach` if
    that is nearer."""
    floor = max(0, pos - reach)
    for _ in range(lines + 1):
        pos = text.rfind("\n", floor, pos)
        if pos < 0:
            return floor
    return pos + 1


def line_forward(text: str, pos: int, lines: int, reach: int) -> int:
    """The end of the line `lines` lines below the one holding `pos`, or `pos + reach` if
    that is nearer."""
    ceiling = min(len(text), pos + reach)
    for _ in range(lines + 1):
        pos = text.find("\n", pos, ceiling)
        if pos < 0:
            return ceiling
        pos += 1
    return pos - 1


def _disjoint(segments: list[Segment]) -> list[Segment]:
    """Segments that do not overlap, in text order: of two that overlap, the longer (the
    earlier on a tie). One sweep in text order: a kept segment can only overlap the last one
    kept. A dropped span inside a kept one is found again when the kept one is decoded
    further."""
    kept: list[Segment] = []
    for segment in sorted(segments, key=lambda s: (s.start, s.start - s.end)):
        if not kept or segment.start >= kept[-1].end:
            kept.append(segment)
        elif segment.end - segment.start > kept[-1].end - kept[-1].start:
            kept[-1] = segment  # it starts after every other kept one ends
    return kept


def _substitute(outer: Segment, inner: list[Segment]) -> Segment:
    """`outer` with its own decoded spans put in place, mapped through to the source text."""
    parts: list[str] = []
    begins: list[int] = []
    ends: list[int] = []
    names: list[tuple[int, tuple[str, ...]]] = []
    length = 0
    at = 0
    for segment in inner:
        parts.append(outer.text[at:segment.start])
        begins.extend(outer.begins[at:segment.start])
        ends.extend(outer.ends[at:segment.start])
        names.append((length, outer.decodings_at(at)))
        length += segment.start - at
        parts.append(segment.text)
        begins.extend(outer.begins[b] for b in segment.begins)
        ends.extend(outer.ends[e - 1] for e in segment.ends)
        for offset, inner_names in segment.names:
            names.append((length + offset, outer.decodings_at(segment.start) + inner_names))
        length += len(segment.text)
        at = segment.end
    parts.append(outer.text[at:])
    begins.extend(outer.begins[at:])
    ends.extend(outer.ends[at:])
    names.append((length, outer.decodings_at(at)))
    return Segment(outer.start, outer.end, "".join(parts), begins, ends, names)
