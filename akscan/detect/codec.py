"""Decode one span of text: base64, hex, string escapes, percent-encoding, split literals.

Each decoder returns the decoded text with, for every decoded character, the span of the source
text that encodes it (`begins[i]`, `ends[i]`), so that a credential found in decoded text can be
reported where its encoding sits in the file. None means the span does not decode (to text).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from akscan import lazyre

BASE64 = "base64"
HEX = "hex"
ESCAPE = "escape"
PERCENT = "percent"
CONCAT = "concat"


class Decoded(NamedTuple):
    text: str
    begins: list[int]  # where the encoding of each character starts, in the source text
    ends: list[int]  # where it ends (exclusive)


# Control characters that never occur in the text of a config or source file: decoded bytes that
# hold one are binary (an image, a hash, random data), not text worth scanning.
_CONTROL = lazyre.compile("[\x00-\x08\x0e-\x1f\x7f\ufffd]")


def _bytes_to_text(
    data: bytes, begin_of: Callable[[int], int], end_of: Callable[[int], int]
) -> Decoded | None:
    """Decoded bytes as text if they are text (UTF-8, or UTF-16LE as PowerShell encodes it);
    byte i was encoded at begin_of(i)..end_of(i) of the source text."""
    utf16 = len(data) >= 4 and data[1::2].count(0) >= 0.9 * (len(data) // 2)
    if data.isascii() and not utf16:
        text = data.decode("ascii")
        if _CONTROL.search(text):
            return None
        return Decoded(text, [begin_of(i) for i in range(len(data))],
                       [end_of(i) for i in range(len(data))])
    width = 2 if utf16 else 1
    try:
        text = (data[: len(data) - len(data) % 2].decode("utf-16-le") if utf16
                else data.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if _CONTROL.search(text):
        return None
    char_begins, char_ends = [], []
    at = 0
    for char in text:
        size = len(char.encode("utf-8")) if width == 1 else len(char.encode("utf-16-le"))
        char_begins.append(begin_of(at))
        char_ends.append(end_of(at + size - 1))
        at += size
    return Decoded(text, char_begins, char_ends)


_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


def _text_like(head: bytes) -> bool:
    """Whether the first bytes of decoded data start text as configs and code start: printable
    ASCII, or printable ASCII in UTF-16LE. Random bytes pass one time in a few hundred."""
    return _PRINTABLE.issuperset(head[::2]) and _PRINTABLE.issuperset(head[1::2].replace(
        b"\0", b" "))


# --- base64 -----------------------------------------------------------------------------------

_B64_CHARS = "A-Za-z0-9+/_\\-"
_B64_SPAN = lazyre.compile(f"[{_B64_CHARS}]*")
_B64_PADDED = lazyre.compile(f"[{_B64_CHARS}]*={{0,2}}")
_B64_LINE = lazyre.compile(f"[ \\t]*([{_B64_CHARS}]+={{0,2}})[ \\t\\r]*")
_B64_ONLY = lazyre.compile(f"[{_B64_CHARS}]*")
# What a base64 run wrapped over lines holds besides its characters (padding too).
_LAYOUT = str.maketrans("", "", " \t\r\n=")
_B64_PIECE = lazyre.compile("[^ \t\r\n=]+")
BASE64_RUN = lazyre.compile(f"(?<![{_B64_CHARS}])[{_B64_CHARS}]{{20,}}={{0,2}}")
# `base64` wraps its output at 76 characters and PEM at 64: lines at least this long that hold
# nothing but base64 continue on the next line.
_WRAP_LINE = 40
# How far around the hit a huge run is decoded (a whole config file fits; a 10 MB image does not
# need to).
_RUN_WINDOW = 64 * 1024


def base64_run_at(text: str, pos: int) -> tuple[int, int]:
    """The base64 run holding `pos`, followed over wrapped lines, and cut to a window around
    `pos` (at a group boundary, so that it decodes as the whole run would) when it is huge.
    It costs time in proportion to the run, never to the line or text around it."""
    reach = 4 * _RUN_WINDOW
    start = _run_start(text, pos, _B64_SPAN, reach)
    end = _B64_PADDED.match(text, pos, pos + reach).end()  # type: ignore[union-attr]
    if end - start > 2 * _RUN_WINDOW:
        cut = start + 4 * (max(0, pos - _RUN_WINDOW - start) // 4)
        return cut, min(end, cut + 2 * _RUN_WINDOW)
    if _whole_line(text, start, end):
        return _wrapped(text, start, end, pos)
    return start, end


def _run_start(text: str, pos: int, chars: re.Pattern[str], reach: int) -> int:
    """Where the run of `chars` that ends at `pos` starts, `reach` back at most. `re` only
    matches forwards: the text before `pos` is reversed, a piece twice as long each time the
    run fills it, so that the cost is the run's length, not the reach's."""
    size = 64
    while True:
        lo = max(0, pos - size, pos - reach)
        back = chars.match(text[lo:pos][::-1]).end()  # type: ignore[union-attr]
        if back < pos - lo or lo == max(0, pos - reach):
            return pos - back
        size *= 2


def _wrapped(text: str, start: int, end: int, pos: int) -> tuple[int, int]:
    """Extend a run that fills its line over the lines around it that hold base64 of the same
    width (the last line of a blob may be shorter)."""
    width = end - start
    first = start
    while pos - start < _RUN_WINDOW and _line_at(text, start)[0] > 0:
        above = _line_run(text, _line_at(text, _line_at(text, start)[0] - 1))
        if above is None or above[1] - above[0] < _WRAP_LINE or text[above[1] - 1] == "=":
            break
        if width >= _WRAP_LINE and above[1] - above[0] != width:
            break
        width = above[1] - above[0]  # when `pos` is on a short last line, the blob's width
        start = above[0]
    if end - first < width or width < _WRAP_LINE:
        return start, end  # the run ends on this line
    while end - pos < _RUN_WINDOW and text[end - 1] != "=":
        line_end = _line_at(text, end)[1]
        if line_end >= len(text):
            break
        below = _line_run(text, _line_at(text, line_end + 1))
        if below is None or below[1] - below[0] > width:
            break
        end = below[1]
        if below[1] - below[0] < width:
            break  # the short last line
    return start, end


def _line_at(text: str, pos: int) -> tuple[int, int]:
    """(start, end) of the line holding `pos`; `end` is its newline or the end of the text."""
    end = text.find("\n", pos)
    return text.rfind("\n", 0, pos) + 1, len(text) if end < 0 else end


def _line_run(text: str, line: tuple[int, int]) -> tuple[int, int] | None:
    """The base64 on a line that holds nothing else (but indentation)."""
    match = _B64_LINE.fullmatch(text, *line)
    return match.span(1) if match else None


def _whole_line(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is alone on its line, but for indentation (looked for no
    further than a line's indentation could reach)."""
    before = _INDENT_BEFORE.search(text, max(0, start - _INDENT_LIMIT), start)
    if before is None or (before.start() > 0 and text[before.start() - 1] != "\n"):
        return False
    return _BLANK_AFTER.match(text, end) is not None


_INDENT_LIMIT = 256
_INDENT_BEFORE = lazyre.compile(r"[ \t]*\Z")
_BLANK_AFTER = lazyre.compile(r"[ \t\r]*(?:\n|\Z)")


def decode_base64(text: str, start: int, end: int) -> Decoded | None:
    """Standard or URL-safe base64 in text[start:end], line breaks and indents skipped."""
    raw = text[start:end].rstrip("=")
    wrapped = not _B64_ONLY.fullmatch(raw)
    # Wrapped over lines: the characters without the layout; where each one sits is worked out
    # only for a run that decodes (most are hashes or binary, told by their first bytes), and
    # from C: a loop over each character cost 0.2 s of CPU on pip's history.
    chars = text[start:end].translate(_LAYOUT) if wrapped else raw
    if len(chars) % 4 == 1:
        chars = chars[:-1]
    urlsafe = "-" in chars or "_" in chars
    if urlsafe and ("+" in chars or "/" in chars):
        return None
    try:
        head = base64.b64decode(chars[:8], altchars=b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not _text_like(head):
        return None  # most runs are hashes or binary: their first bytes say so
    try:
        data = base64.b64decode(chars + "=" * (-len(chars) % 4),
                                altchars=b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError):
        return None
    positions: Sequence[int] = range(start, start + len(chars))
    if wrapped:
        pieces = [match.span() for match in _B64_PIECE.finditer(text, start, end)]
        positions = list(itertools.chain.from_iterable(itertools.starmap(range, pieces)))[
            :len(chars)]
    # Byte i of a group of three is spread over characters k and k+1 of its group of four.
    return _bytes_to_text(data, lambda i: positions[4 * (i // 3) + i % 3],
                          lambda i: positions[4 * (i // 3) + i % 3 + 1] + 1)


# --- hex --------------------------------------------------------------------------------------

_HEX_RIGHT = lazyre.compile(r"[0-9A-Fa-f]*")
HEX_RUN = lazyre.compile(r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{2}){12,}(?![0-9A-Za-z])")


def hex_run_at(text: str, pos: int, limit: int) -> tuple[int, int]:
    """The hex run holding `pos`, no further than `limit` on either side of it; a run cut
    there keeps `pos` (where an encoded keyword starts) at a byte boundary."""
    lo = max(0, pos - limit)
    start = _run_start(text, pos, _HEX_RIGHT, limit)
    end = _HEX_RIGHT.match(text, pos, pos + limit).end()  # type: ignore[union-attr]
    if start == lo and lo > 0:
        start += (pos - start) % 2
    if end == pos + limit:
        end -= (end - start) % 2
    return start, end


def decode_hex(text: str, start: int, end: int) -> Decoded | None:
    if (end - start) % 2 or not _text_like(bytes.fromhex(text[start:start + 8])):
        return None
    try:
        data = bytes.fromhex(text[start:end])
    except ValueError:
        return None
    return _bytes_to_text(data, lambda i: start + 2 * i, lambda i: start + 2 * i + 2)


# --- string escapes and percent-encoding ------------------------------------------------------

_ESCAPE = lazyre.compile(
    r"\\(?:u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|x([0-9a-fA-F]{2})"
    r"|([nrtbfv0\"'\\/`$]))"
)
ESCAPE_HINT = lazyre.compile(
    r"\\(?:u\{?[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[nrt\"'\\/])")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def decode_escapes(text: str, start: int, end: int) -> Decoded | None:
    """JSON, JavaScript, Python, C, Java and Go string escapes in text[start:end]."""
    out: list[str] = []
    begins: list[int] = []
    ends: list[int] = []
    at = start
    pending_high: tuple[int, int] | None = None  # a high surrogate waiting for its pair
    for match in _ESCAPE.finditer(text, start, end):
        _copy(text, at, match.start(), out, begins, ends)
        code_text = match.group(1) or match.group(2) or match.group(3) or match.group(4)
        if code_text is not None:
            code = int(code_text, 16)
            if 0xD800 <= code < 0xDC00:
                pending_high = (code, match.start())
                at = match.end()
                continue
            if 0xDC00 <= code < 0xE000 and pending_high and pending_high[1] + 6 == match.start():
                code = 0x10000 + ((pending_high[0] - 0xD800) << 10) + (code - 0xDC00)
                begin = pending_high[1]
            else:
                begin = match.start()
            char = chr(code) if code < 0x110000 else "\ufffd"
        else:
            char = _SIMPLE.get(match.group(5), match.group(5))
            begin = match.start()
        pending_high = None
        out.append(char)
        begins.append(begin)
        ends.append(match.end())
        at = match.end()
    _copy(text, at, end, out, begins, ends)
    return Decoded("".join(out), begins, ends)


_PERCENT = lazyre.compile(r"(?:%[0-9A-Fa-f]{2})+")
PERCENT_HINT = lazyre.compile(r"%[0-9A-Fa-f]{2}")


def decode_percent(text: str, start: int, end: int) -> Decoded | None:
    """Percent-encoding (URLs, form bodies) in text[start:end]; `+` stays a `+`, since in the
    values that matter here (base64 tokens) it is one."""
    out: list[str] = []
    begins: list[int] = []
    ends: list[int] = []
    at = start
    for match in _PERCENT.finditer(text, start, end):
        _copy(text, at, match.start(), out, begins, ends)
        data = bytes.fromhex(match.group().replace("%", ""))
        decoded = data.decode("utf-8", "replace")
        if len(decoded) == len(data):  # one character per escape: exact positions
            for i, char in enumerate(decoded):
                out.append(char)
                begins.append(match.start() + 3 * i)
                ends.append(match.start() + 3 * i + 3)
        else:
            for char in decoded:
                out.append(char)
                begins.append(match.start())
                ends.append(match.end())
        at = match.end()
    _copy(text, at, end, out, begins, ends)
    return Decoded("".join(out), begins, ends)


def _copy(text: str, start: int, end: int, out: list[str], begins: list[int],
          ends: list[int]) -> None:
    out.append(text[start:end])
    begins.extend(range(start, end))
    ends.extend(range(start + 1, end + 1))


# --- string literals split over pieces --------------------------------------------------------

# A string literal of token characters (what a split key is made of), with an optional prefix
# (Python f/r/b/u, C# @ and $); a backslash before a line break continues it on the next line.
_LITERAL = lazyre.compile(
    r"""(?:[fFrRbBuU@$]{1,2})?(["'`])((?:[A-Za-z0-9+/=._\-]|\\\r?\n)*)\1"""
)
# Between two pieces: spaces, line breaks, backslash continuations, one + (most languages) or .
# (PHP) or nothing at all (Python, C and shell put literals side by side).
# Written so that a gap can be read in one way only: a line's spaces, then a comment (// or #)
# to the line's end, the lines joined by (backslash-continued) line breaks. Spaces and comments
# as alternatives repeated (`(?:[ \t]|#[^\r\n]*|...)*`) read the same, but "# a # a # a"
# in 2**n ways, all tried before a failing match gives up: 18 of them after a literal took
# seconds, 30 hung the scan (`re` has no timeout). A comment runs to its line's end (no piece
# starts inside it), and is at most _COMMENT long: otherwise each literal before a long line of
# comments and literals read on to its end, time quadratic in the line (a 100 KB line of
# `SECRET_KEY = 'dev' # ...` took 13 s).
_COMMENT = 400
_LINE_GAP = rf"[ \t]*(?:(?://|#)(?:[^\r\n\\]|\\(?!\r?\n)){{0,{_COMMENT}}}(?=\\?\r?\n|\Z))?"
_GAPS = rf"{_LINE_GAP}(?:\\?\r?\n{_LINE_GAP})*"
_JOINER = lazyre.compile(f"{_GAPS}(?:[+.]{_GAPS})?")
# An unquoted token continued on the next line (shell, Java .properties).
_CONTINUED = lazyre.compile(r"[A-Za-z0-9+/=_\-]+\\\r?\n[ \t]*[A-Za-z0-9+/=_\-]+")
_CONTINUATION = lazyre.compile(r"\\\r?\n[ \t]*")
# Where a key is split: at the end of the piece that starts it, a closing quote and the next
# literal, or a backslash line continuation (SPLIT_AFTER); as a field's value, a literal that
# the next one continues (SPLIT_VALUE).
SPLIT_AFTER = lazyre.compile(
    r"""[A-Za-z0-9+/=._\-]*(?:\\\r?\n|["'`]""" + _GAPS + "(?:[+.]" + _GAPS
    + r""")?[fFrRbBuU@$]{0,2}["'`])""")
SPLIT_VALUE = lazyre.compile(
    r"""[fFrRbBuU@$]{0,2}["'`][A-Za-z0-9+/=._\-]*(?:\\\r?\n|["'`]""" + _GAPS + "(?:[+.]"
    + _GAPS + r""")?[fFrRbBuU@$]{0,2}["'`])"""
    r"""|[A-Za-z0-9+/=_\-]+\\\r?\n""")


def join_literals(text: str, start: int, end: int) -> Decoded | None:
    """text[start:end] with adjacent string literals joined into one and backslash line
    continuations removed: `"LTAI5t" + "abc"` reads `"LTAI5tabc"`. None if nothing joins."""
    out: list[str] = []
    begins: list[int] = []
    ends: list[int] = []
    at = start
    joined = False
    pos = start
    continued = _CONTINUED.search(text, pos, end)
    while pos < end:
        literal = _LITERAL.search(text, pos, end)
        if continued is not None and continued.start() < pos:
            # Searched again only once passed: from every literal, it read to the end of the
            # region each time (quadratic in the literals of a long line).
            continued = _CONTINUED.search(text, pos, end)
        if continued is not None and (literal is None or continued.start() < literal.start()):
            _copy(text, at, continued.start(), out, begins, ends)
            _copy_without_breaks(text, continued.start(), continued.end(), out, begins, ends)
            at = pos = continued.end()
            joined = True
            continue
        if literal is None:
            break
        chain = [literal]
        while True:
            joint = _JOINER.match(text, chain[-1].end(), end)
            after = joint.end() if joint else chain[-1].end()
            following = _LITERAL.match(text, after, end)
            if following is None:
                break
            chain.append(following)
        inner_break = any(_CONTINUATION.search(m.group(2)) for m in chain)
        if len(chain) == 1 and not inner_break:
            pos = literal.end()
            continue
        _copy(text, at, literal.start(2), out, begins, ends)
        for match in chain:
            _copy_without_breaks(text, match.start(2), match.end(2), out, begins, ends)
        closing = chain[-1].end() - 1  # closed with the opening quote, where the last closes
        out.append(literal.group(1))
        begins.append(closing)
        ends.append(closing + 1)
        at = pos = chain[-1].end()
        joined = True
    if not joined:
        return None
    _copy(text, at, end, out, begins, ends)
    return Decoded("".join(out), begins, ends)


def _copy_without_breaks(text: str, start: int, end: int, out: list[str], begins: list[int],
                         ends: list[int]) -> None:
    at = start
    for match in _CONTINUATION.finditer(text, start, end):
        _copy(text, at, match.start(), out, begins, ends)
        at = match.end()
    _copy(text, at, end, out, begins, ends)
