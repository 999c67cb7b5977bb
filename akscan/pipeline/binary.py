"""Binary content: its printable runs scanned with the high-precision rules (issue 11).

A binary file is not text, but `.pyc` files, compiled configs and images with metadata carry
keys as ASCII runs. Only rules precise enough to trust without the surrounding text run on them
(AccessKey IDs, STS IDs and tokens, secrets named by a keyword, and the pairs they form); the
secret-near-an-ID rule and the decoders, which would read noise into random bytes, do not.
A binary file of any size is read in pieces, so it costs time in proportion to its size and a
bounded amount of memory; --max-file-size limits text, which is held whole.
"""

from __future__ import annotations

import dataclasses
from typing import BinaryIO

from akscan.detect.engine import Engine, ScanResult
from akscan.model import Finding, Fragment
from akscan.sources.printable import pieces, printable_lowered, printable_text

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
    piece; and the number of bytes read."""
    result = ScanResult()
    size = 0
    for data, lines_before in pieces(handle, first):
        size += len(data)
        piece = scan_printable(data, display, engine)
        result.findings.extend(_shifted(f, lines_before) for f in piece.findings)
        result.warnings.extend(piece.warnings)
    return result, size


def _shifted(finding: Finding, lines: int) -> Finding:
    """A finding of a piece, at its line in the whole stream."""
    if not lines:
        return finding
    partners = tuple(dataclasses.replace(p, line=p.line + lines) for p in finding.paired_with)
    return dataclasses.replace(finding, line=finding.line + lines,
                               end_line=finding.end_line + lines, paired_with=partners)
