"""Binary content: its printable runs scanned with the high-precision rules (issue 11).

A binary file is not text, but `.pyc` files, compiled configs and images with metadata carry
keys as ASCII runs. Only rules precise enough to trust without the surrounding text run on them
(AccessKey IDs, STS IDs and tokens, secrets named by a keyword, and the pairs they form); the
secret-near-an-ID rule and the decoders, which would read noise into random bytes, do not.
A binary file of any size is read in pieces, so it costs time in proportion to its size and a
bounded amount of memory; --max-file-size limits text, which is held whole.

Most large binaries hold keywords ("secret", "credential") but no key. Their keywords are found
on printable bytes made a chunk at a time, and the rules first run only on small windows around
the hits (`Engine.could_find`, with bounds proven per pattern in `detect.reach`); the whole
printable text is made and scanned only when a rule matches in one, so the findings are those
of the whole text (issue 14).
"""

from __future__ import annotations

import dataclasses
from typing import BinaryIO

from akscan.detect.engine import Engine, ScanResult
from akscan.model import Finding, Fragment
from akscan.sources.printable import pieces, printable_lowered, printable_text

# Bytes of the stream a streamed piece is scanned with on either side of it (see
# `scan_printable_stream`): longer than any match and than a line worth quoting.
MARGIN = 64 * 1024

_HIGH_PRECISION = frozenset({"high", "very-high"})
_engines: dict[int, tuple[Engine, Engine]] = {}


def high_precision(engine: Engine) -> Engine:
    """`engine`'s high and very-high precision rules, without decoders (built once)."""
    cached = _engines.get(id(engine))
    if cached is None or cached[0] is not engine:
        rules = [r for r in engine.rules if r.precision in _HIGH_PRECISION]
        cached = (engine, Engine(rules, timeout=engine.timeout, concurrent=engine.concurrent,
                                 decode=False))
        _engines[id(engine)] = cached
    return cached[1]


def scan_printable(data: bytes, display: str, engine: Engine,
                   origin: tuple[tuple[str, str], ...] = ()) -> ScanResult:
    """Findings in the printable runs of `data`, at their lines and columns in `data`."""
    precise = high_precision(engine)
    # Most binary content holds no keyword: decided on bytes made in one pass, before any text.
    verdict = precise.prefilter_sparse(data, printable_lowered)
    if not verdict:
        return ScanResult()
    # Most binary content that holds a keyword holds no key near it: decided on windows
    # around the hits, before the whole text is made (the same findings: see `could_find`).
    if not precise.could_find(verdict, len(data), lambda start, end: printable_text(
            data[start:end])):
        return ScanResult()
    return precise.scan(Fragment(display, printable_text(data), origin), verdict.rules,
                        verdict.hits)


def scan_printable_stream(handle: BinaryIO, first: bytes, display: str,
                          engine: Engine) -> tuple[ScanResult, int]:
    """`scan_printable` of a stream whose first bytes (`first`) were read already, piece by
    piece; and the number of bytes read.

    Each piece is scanned with up to `MARGIN` bytes of the stream on either side of it, and
    keeps the findings that start in it: a match across a cut is found (in the piece it starts
    in), and a finding on a line that began in an earlier piece has its column and line text
    as in the whole stream. Only a line longer than the margin still differs: what lies beyond
    it (an inline suppression, the line above) is not seen."""
    result = ScanResult()
    size = 0
    stream = pieces(handle, first)
    current = next(stream, None)
    before = b""  # the last bytes of the stream before `current`, up to MARGIN of them
    newline = -1  # offset in the stream of the last newline before `before`
    while current is not None:
        data, lines_before = current
        following = next(stream, None)
        after = following[0][:MARGIN] if following is not None else b""
        window = b"".join((before, data, after))
        found = scan_printable(window, display, engine)
        # (line, column) in the window of the piece's first byte and of the byte after it
        inside = (_position(window, len(before)), _position(window, len(before) + len(data)))
        lines = lines_before - before.count(b"\n")  # newlines of the stream before the window
        column = size - len(before) - newline - 1  # characters of its first line before it
        result.findings.extend(_placed(f, lines, column) for f in found.findings
                               if inside[0] <= (f.line, f.column) < inside[1])
        result.warnings.extend(found.warnings)
        # The next window starts MARGIN bytes before the next piece (or at the stream's start).
        end = len(before) + len(data)
        start = max(0, end - MARGIN)
        cut = window.rfind(b"\n", 0, start)
        if cut >= 0:
            newline = size - len(before) + cut
        before = window[start:end]
        size += len(data)
        current = following
    return result, size


def _position(text: bytes, offset: int) -> tuple[int, int]:
    """The (line, column) of `offset` in `text`, both from 1, as findings count them."""
    return text.count(b"\n", 0, offset) + 1, offset - text.rfind(b"\n", 0, offset)


def _placed(finding: Finding, lines: int, column: int) -> Finding:
    """A finding of a window, at its place in the whole stream: `lines` newlines and, on the
    window's first line, `column` characters come before the window."""
    if not lines and not column:
        return finding
    partners = tuple(dataclasses.replace(p, line=p.line + lines,
                                         column=p.column + column * (p.line == 1))
                     for p in finding.paired_with)
    return dataclasses.replace(
        finding, line=finding.line + lines, end_line=finding.end_line + lines,
        column=finding.column + column * (finding.line == 1),
        end_column=finding.end_column + column * (finding.end_line == 1), paired_with=partners)
