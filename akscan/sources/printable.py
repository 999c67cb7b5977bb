"""The printable runs of binary content, as `strings` would find them (issue 11).

Committed `.pyc` files, compiled configs and images with metadata hold keys as plain ASCII
between binary bytes. Every byte that is not printable ASCII becomes a space, except newlines,
which are kept: offsets are unchanged, so a finding's line and column say where its bytes are
(as `grep -a -n` would count them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

_KEPT = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A}
_TABLE = bytes(b if b in _KEPT else 0x20 for b in range(256))
# Read in pieces this large when a binary file is streamed (over --max-file-size).
CHUNK = 8 * 1024 * 1024
# A run of printable bytes longer than this is cut at a piece's end: no key is that long.
_LONGEST_RUN = 64 * 1024


def printable_text(data: bytes) -> str:
    """`data` with every byte that is not printable ASCII (or a tab or newline) as a space."""
    return data.translate(_TABLE).decode("ascii")


def pieces(handle: BinaryIO, first: bytes = b"") -> Iterator[tuple[str, int]]:
    """The printable text of a stream in pieces of about CHUNK bytes, each with the number of
    newlines before it; a piece ends between runs, so no run is split in two."""
    carry = printable_text(first) if first else ""
    lines = 0
    while True:
        chunk = handle.read(CHUNK)
        text = carry + printable_text(chunk) if chunk else carry
        if not chunk:
            if text:
                yield text, lines
            return
        cut = text.rfind(" ", max(0, len(text) - _LONGEST_RUN))
        cut = len(text) if cut < 0 else cut + 1
        piece, carry = text[:cut], text[cut:]
        yield piece, lines
        lines += piece.count("\n")
