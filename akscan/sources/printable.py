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
# The same, lower-cased: what the keyword prefilter searches, made in the same one pass.
_LOWER_TABLE = _TABLE.lower()
# Read in pieces this large when a binary file is streamed (over --max-file-size).
CHUNK = 8 * 1024 * 1024
# A run of printable bytes longer than this is cut at a piece's end: no key is that long.
_LONGEST_RUN = 64 * 1024


def printable_text(data: bytes) -> str:
    """`data` with every byte that is not printable ASCII (or a tab or newline) as a space."""
    return data.translate(_TABLE).decode("ascii")


def printable_lowered(data: bytes) -> bytes:
    """`printable_text(data)`, lower-cased, as bytes: offset for offset the same."""
    return data.translate(_LOWER_TABLE)


def pieces(handle: BinaryIO, first: bytes = b"") -> Iterator[tuple[bytes, int]]:
    """The bytes of a stream in pieces of about CHUNK bytes, each with the number of newlines
    before it; a piece ends between printable runs, so no run is split in two (a piece's
    `printable_text` is its part of the whole's)."""
    carry = first
    lines = 0
    while True:
        chunk = handle.read(CHUNK)
        if not chunk:
            if carry:
                yield carry, lines
            return
        start = len(carry) + len(chunk) - _LONGEST_RUN
        if start >= len(carry):
            # The cut falls in the chunk: the piece is made in one copy (or none), not two.
            cut = _run_end(chunk, start - len(carry))
            piece = b"".join((carry, memoryview(chunk)[:cut])) if carry else chunk[:cut]
            carry = chunk[cut:]
            yield piece, lines
            lines += piece.count(b"\n")
            continue
        data = carry + chunk
        cut = _run_end(data, max(0, len(data) - _LONGEST_RUN))
        piece, carry = data[:cut], data[cut:]
        yield piece, lines
        lines += piece.count(b"\n")


def _run_end(data: bytes, start: int) -> int:
    """Where to cut `data` so that no printable run is split: after its last byte at or after
    `start` that is not printable (nor a tab or newline); at its end if there is none."""
    tail = data[start:].translate(_TABLE)
    cut = tail.rfind(b" ")
    return len(data) if cut < 0 else start + cut + 1
