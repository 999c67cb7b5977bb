"""Bytes to text without losing line numbers.

Read as text: UTF-8 (with or without BOM, with a few stray NUL bytes), UTF-16 and UTF-32 (with
BOM, or without one when the bytes can only be text: the NUL pattern of mostly-ASCII text, or
a strict decoding that gives printable characters, as mostly-CJK UTF-16 does). Invalid bytes
become U+FFFD one for one, so lines and the ASCII credentials on them stay where they were.
Anything else with NUL bytes is binary (see `printable` for what is still scanned in it).
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

_SNIFF = 8192
# Share of a text's sniffed head that may be NULs or other non-printable characters.
_TEXT_NOISE = 0.01
_TEXT_PRINTABLE = 0.95
_WHITESPACE = frozenset("\t\n\r\f\v")
# Control characters that text may hold: whitespace, a stray NUL, the escape of a color code.
_ALLOWED_CONTROLS = str.maketrans("", "", "".join(_WHITESPACE) + "\0\x1b")


class BinaryContent(Exception):
    """The bytes are not text in any encoding akscan reads."""


class Text(NamedTuple):
    text: str
    encoding: str
    # Told by the bytes' pattern rather than a BOM: a binary file could pass for it, so the
    # caller also scans its printable runs.
    guessed: bool = False


def needs_decoding_first(data: bytes) -> bool:
    """True when a byte-level keyword search would be wrong (UTF-16) or pointless (binary)."""
    # find() with bounds, not `in data[:_SNIFF]`: no copy of the head for every file
    return (data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
            or data.find(b"\0", 0, _SNIFF) >= 0)


def decode(data: bytes) -> str:
    """The text of `data`; BinaryContent when it is not text."""
    return decode_text(data).text


def decode_text(data: bytes) -> Text:
    """The text of `data` and how it was read; BinaryContent when it is not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return Text(data[len(bom):].decode(encoding, "replace"), encoding)
    if data.find(b"\0", 0, _SNIFF) < 0:
        return Text(data.decode("utf-8", "replace"), "utf-8")
    sniffed = sniff_encoding(data[:_SNIFF])
    if sniffed is None:
        raise BinaryContent
    return Text(data.decode(sniffed, "replace"), sniffed, guessed=sniffed != "utf-8")


def is_binary_head(head: bytes) -> bool:
    """Whether a file starting with `head` (its first few KB) is binary, not text."""
    if head.startswith(tuple(bom for bom, _ in _BOMS)) or b"\0" not in head[:_SNIFF]:
        return False
    return sniff_encoding(head[:_SNIFF]) is None


# UTF-32 before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def sniff_encoding(head: bytes) -> str | None:
    """The encoding of a head without BOM that holds NUL bytes, or None when it is binary."""
    # Stray NULs before the strict UTF-16 test: ASCII read as UTF-16 is printable CJK.
    return (_utf32_without_bom(head) or _utf16_mostly_ascii(head)
            or _utf8_with_stray_nuls(head) or _utf16_strict(head))


def _utf32_without_bom(head: bytes) -> str | None:
    head = head[: len(head) - len(head) % 4]
    if len(head) < 8:
        return None
    for encoding, high in (("utf-32-le", head[3::4]), ("utf-32-be", head[0::4])):
        if high.count(0) == len(high):
            text = _strict(head, encoding)
            if text is not None and _texty(text):
                return encoding
    return None


def _utf16_mostly_ascii(head: bytes) -> str | None:
    """UTF-16 text that is mostly ASCII has NULs in nearly every other byte, and few elsewhere.

    A few NULs on the other side are characters such as U+4E00 or U+0100, whose low byte is 0.
    """
    head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.02 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.02 * len(odd):
        return "utf-16-be"
    return None


def _utf16_strict(head: bytes) -> str | None:
    """UTF-16 in other scripts (CJK, say): it decodes strictly to printable characters, which
    random or structured binary data does not (lone surrogates, U+0000, unassigned points).
    When both byte orders pass, the one that reads more ASCII wins: ASCII read in the wrong
    order becomes U+xx00, and CJK read in the wrong order rarely lands in ASCII."""
    head = head[: len(head) - len(head) % 2]
    if len(head) < 8:
        return None
    best: tuple[int, str] | None = None
    for encoding in ("utf-16-le", "utf-16-be"):
        text = _strict(head, encoding)
        if text is None or not _texty(text):
            continue
        score = sum(1 for c in text if c < "\x7f")
        if best is None or score > best[0]:
            best = (score, encoding)
    return best[1] if best else None


def _utf8_with_stray_nuls(head: bytes) -> str | None:
    """UTF-8 text with a NUL or two (a C string written whole, a damaged byte)."""
    if head.count(0) > max(1, _TEXT_NOISE * len(head)):
        return None
    text = head.decode("utf-8", "replace")
    if text.isascii() and text.translate(_ALLOWED_CONTROLS).isprintable():
        return "utf-8"  # (told from C) nothing bad: no U+FFFD, no other control character
    # Counted until there are too many (binary data: after a few dozen characters).
    limit = _TEXT_NOISE * len(text)
    bad = 0
    for c in text:
        if c == "\ufffd" or (not c.isprintable() and c not in _WHITESPACE and c not in "\0\x1b"):
            bad += 1
            if bad > limit:
                return None
    return "utf-8"


def _strict(head: bytes, encoding: str) -> str | None:
    """`head` decoded without errors, allowing a character cut at its end; None if invalid."""
    try:
        return head.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return None
        try:
            return head[:exc.start].decode(encoding)
        except UnicodeDecodeError:
            return None


def _texty(text: str) -> bool:
    if not text or text.count("\0") > _TEXT_NOISE * len(text):
        return False
    printable = sum(1 for c in text if c.isprintable() or c in _WHITESPACE)
    return printable >= _TEXT_PRINTABLE * len(text)
