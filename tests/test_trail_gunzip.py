"""Gzip inputs inflated by ISA-L read exactly as the standard library's gzip reads them: same
records, same line numbers, same malformed count, same reason and place to stop, for whole,
cut, corrupt, padded, multi-member and limit-reaching files. A pipe (not seekable) is read by
the standard library, so it is the reference here."""

from __future__ import annotations

import gzip
import io
import json
import random
import zlib
from typing import Any

import pytest
from fuzz.targets import TRAIL
from hypothesis import HealthCheck, given, settings

from akscan.trail import reader
from akscan.trail.reader import Limits, ReadStats, read_records

pytestmark = pytest.mark.skipif(reader.isal_zlib is None, reason="python-isal not installed")


class Pipe(io.RawIOBase):
    """The bytes of `data` as a pipe gives them: not seekable."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._data.readinto(buffer)


Read = tuple[list[tuple[dict[str, Any], int]], ReadStats]


def _read(raw: Any, limits: Limits = reader.DEFAULT_LIMITS) -> Read:
    stats = ReadStats()
    return list(read_records(raw, stats, limits)), stats


def _same(data: bytes, limits: Limits = reader.DEFAULT_LIMITS) -> Read:
    fast = _read(io.BytesIO(data), limits)
    assert fast == _read(io.BufferedReader(Pipe(data)), limits)
    return fast


def _trail(events: int, seed: int = 1) -> bytes:
    """JSON lines of varied events, a malformed line now and then: several MiB inflated."""
    rng = random.Random(seed)
    lines = []
    for n in range(events):
        event = {"eventId": f"{n:08d}", "eventName": rng.choice(["GetObject", "PutObject"]),
                 "eventTime": f"2024-05-01T00:{n % 60:02d}:00Z",
                 "sourceIpAddress": f"198.51.100.{rng.randrange(256)}",
                 "requestParameters": {"padding": "".join(rng.choices("abcdef0123", k=300))},
                 "userIdentity": {"accessKeyId": f"LTAI5tKey{rng.randrange(40):04d}xyzabcd"}}
        lines.append(json.dumps({"__time__": 1714521600 + n, "event": json.dumps(event)}))
        if n % 997 == 5:
            lines.append('{"event": "{\\"eventName\\": \\"cut')
    return ("\n".join(lines) + "\n").encode()


TEXT = _trail(12_000)
GZ = gzip.compress(TEXT, compresslevel=6)


def test_a_whole_file_is_inflated_by_isal_alone() -> None:
    raw = io.BytesIO(GZ)
    head = raw.read(2)
    text = reader._FastGunzip(raw, 0, head, reader.DEFAULT_LIMITS)
    read = "".join(iter(lambda: text.read(reader.CHUNK), ""))
    assert read == TEXT.decode()
    assert text._old is None and text.error is None


def test_a_whole_file_reads_as_with_the_standard_library() -> None:
    records, stats = _same(GZ)
    assert len(records) == 12_000 and stats.malformed == 13 and stats.error is None


@pytest.mark.parametrize("seed", range(12))
def test_a_file_cut_anywhere_keeps_exactly_what_came_before(seed: int) -> None:
    cut = random.Random(seed).randrange(20, len(GZ))
    _, stats = _same(GZ[:cut])
    assert stats.error and "end-of-stream" in stats.error


def test_a_file_cut_inside_its_trailer_or_header() -> None:
    for cut in (2, 5, 12, len(GZ) - 7, len(GZ) - 1):
        _, stats = _same(GZ[:cut])
        assert stats.error


@pytest.mark.parametrize("seed", range(12))
def test_a_corrupt_file_stops_where_and_as_the_standard_library_does(seed: int) -> None:
    rng = random.Random(seed)
    data = bytearray(GZ)
    for _ in range(rng.randrange(1, 4)):
        data[rng.randrange(20, len(data))] ^= 1 << rng.randrange(8)
    _, stats = _same(bytes(data))
    assert stats.error


def test_members_padding_and_what_follows_the_last_member() -> None:
    member = gzip.compress(_trail(300, seed=2))
    records, stats = _same(GZ + member)  # a second member
    assert len(records) == 12_300 and stats.error is None
    records, stats = _same(GZ + b"\0" * 1000)  # zero padding: ignored
    assert len(records) == 12_000 and stats.error is None
    records, stats = _same(GZ + b"garbage\n")
    assert len(records) == 12_000 and stats.error and "Not a gzipped file" in stats.error
    _same(GZ + b"\x1f")
    _same(GZ + b"\x1f\x8b")


def test_a_header_with_a_name_a_comment_and_extra_field() -> None:
    out = io.BytesIO()
    with gzip.GzipFile("trail.jsonl", "wb", fileobj=out, mtime=0) as gz:
        gz.write(TEXT[:100_000])
    data = bytearray(out.getvalue())
    data[3] |= 0x1E  # FHCRC, FEXTRA, FNAME, FCOMMENT flags on a header that lacks them
    _same(bytes(data))
    _same(zlib.compress(TEXT[:1000]))  # zlib, not gzip: plain (garbled) text either way


@pytest.mark.parametrize("limits", [
    Limits(max_decompressed=3 << 20),
    Limits(max_decompressed=len(TEXT) - 1),
    Limits(max_ratio=3, ratio_floor=1 << 20),  # this trail inflates 3.4 times
    Limits(max_ratio=2, ratio_floor=4 << 20),
])
def test_a_limit_stops_reading_where_the_standard_library_stops(limits: Limits) -> None:
    records, stats = _same(GZ, limits)
    assert stats.error and "raise with" in stats.error and len(records) <= 12_000


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(TRAIL)
def test_any_trail_reads_the_same_seekable_or_not(data: bytes) -> None:
    _same(data)


def test_a_bomb_before_the_events_stops_where_the_standard_library_stops() -> None:
    bomb = gzip.compress(b"\n" * (8 << 20), compresslevel=9)
    limits = Limits(max_ratio=50, ratio_floor=1 << 20)
    records, stats = _same(bomb + gzip.compress(TEXT[:5000]), limits)
    assert records == [] and stats.error and "--max-ratio" in stats.error
