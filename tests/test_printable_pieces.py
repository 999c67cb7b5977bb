"""A streamed binary is cut into pieces between printable runs, whatever its head and size."""

from __future__ import annotations

import io
import random

import pytest

from akscan.sources import printable


@pytest.mark.parametrize("chunk, longest", [(64, 16), (100, 30), (50, 60), (1000, 7)])
def test_pieces_make_up_the_stream_and_never_cut_a_printable_run(
    monkeypatch: pytest.MonkeyPatch, chunk: int, longest: int
) -> None:
    monkeypatch.setattr(printable, "CHUNK", chunk)
    monkeypatch.setattr(printable, "_LONGEST_RUN", longest)
    rng = random.Random(chunk * longest)
    alphabet = [b"a", b"\x00", b" ", b"\n", b"LTAI", b"\xff", b"xyz"]
    for _ in range(300):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 600)))
        head = rng.randint(0, len(data))
        got = list(printable.pieces(io.BytesIO(data[head:]), data[:head]))
        assert b"".join(piece for piece, _ in got) == data
        seen = b""
        for piece, lines_before in got:
            assert lines_before == seen.count(b"\n")
            if seen:  # a cut only after a space of the printable text, or in a run too long
                assert (printable.printable_text(seen[-1:]) == " "
                        or " " not in printable.printable_text(seen[-longest:]))
            seen += piece
