"""What the engine scans again after decoding: excerpts of a text with decoded spans in place.

Every character of a layer traces back to the original text (as written, or where its encoding
sits), so that a finding in a layer is reported in the file (issue 3).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from akscan.detect.decoders import Segment, line_back, line_forward, soft_boundary

# Characters of context around a decoded span, at most, whatever the lines' lengths.
_CONTEXT_REACH = 4096


class Layer:
    """An excerpt of a text with decoded spans in place of their encodings."""

    __slots__ = ("pieces", "starts", "text")

    def __init__(self, text: str, pieces: list[tuple[int, Segment | None, int]]) -> None:
        self.text = text
        # (offset in `text`, the segment there or None for original text, offset in the
        # original)
        self.pieces = pieces
        # where each piece starts in `text`, for bisection (built once: a layer of a one-line
        # file can hold thousands of pieces, each located many times)
        self.starts = [p[0] for p in pieces]

    def locate(self, start: int, end: int) -> tuple[int, int, tuple[str, ...]]:
        """Where text[start:end] of the layer sits in the original text, and the decodings
        that made it (none when it was there as written)."""
        first = self._piece(start)
        last = self._piece(max(end - 1, start))
        names: tuple[str, ...] = ()
        for at, segment, _ in self.pieces[first:last + 1]:
            if segment is not None:
                names = segment.decodings_at(max(start - at, 0))
                break
        return self._original(first, start, True), self._original(last, end - 1, False), names

    def _piece(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def _original(self, index: int, offset: int, begin: bool) -> int:
        at, segment, origin = self.pieces[index]
        if segment is None:
            return origin + offset - at + (0 if begin else 1)
        return segment.begins[offset - at] if begin else segment.ends[offset - at]


def layers(text: str, segments: Sequence[Segment], context_lines: int) -> list[Layer]:
    """Excerpts of `text` around `segments` (with `context_lines` lines on either side, where
    the rules look for an ID or a name), decoded spans in place; overlapping excerpts merge."""
    spans: list[tuple[int, int, list[Segment]]] = []
    for segment in segments:
        start = line_back(text, segment.start, context_lines, _CONTEXT_REACH)
        end = line_forward(text, segment.end, context_lines, _CONTEXT_REACH)
        start = soft_boundary(text, start, forward=True)
        end = soft_boundary(text, end, forward=False)
        start, end = min(start, segment.start), max(end, segment.end)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]), [*spans[-1][2], segment])
        else:
            spans.append((start, end, [segment]))
    out = []
    for start, end, members in spans:
        parts: list[str] = []
        pieces: list[tuple[int, Segment | None, int]] = []
        length = 0
        at = start
        for segment in members:
            pieces.append((length, None, at))
            parts.append(text[at:segment.start])
            length += segment.start - at
            pieces.append((length, segment, segment.start))
            parts.append(segment.text)
            length += len(segment.text)
            at = segment.end
        pieces.append((length, None, at))
        parts.append(text[at:end])
        out.append(Layer("".join(parts), pieces))
    return out
