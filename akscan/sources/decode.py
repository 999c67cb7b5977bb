"""Bytes to text without losing line numbers.

UTF-8 (with or without BOM) and UTF-16 (with BOM, or without BOM when the NUL pattern is
unmistakable) are decoded; invalid bytes become U+FFFD one for one, so lines and the ASCII
credentials on them stay where they were. Anything else with NUL bytes is binary.
"""

from __future__ import annotations

import codecs

_SNIFF = 8192


class BinaryContent(Exception):
    """The bytes are not text in any encoding akscan reads."""


def needs_decoding_first(data: bytes) -> bool:
    """True when a byte-level keyword search would be wrong (UTF-16) or pointless (binary)."""
    # find() with bounds, not `in data[:_SNIFF]`: no copy of the head for every file
    return (data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
            or data.find(b"\0", 0, _SNIFF) >= 0)


def decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", "replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    head = data[:_SNIFF]
    if b"\0" in head:
        encoding = _utf16_without_bom(data)
        if encoding is None:
            raise BinaryContent
        return data.decode(encoding, "replace")
    return data.decode("utf-8", "replace")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text that is mostly ASCII has NULs in nearly every other byte, and few elsewhere.

    A few NULs on the other side are characters such as U+4E00 or U+0100, whose low byte is 0.
    """
    head = data[: _SNIFF - _SNIFF % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.02 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.02 * len(odd):
        return "utf-16-be"
    return None
