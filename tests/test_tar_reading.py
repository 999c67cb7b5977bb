"""Ordinary tars (and gzip'd ones) are read without tarfile (issue 14): what is read, named,
charged to the limits and reported must be exactly what tarfile gives, for ordinary tars and
for every odd or broken one (which are handed to tarfile)."""

from __future__ import annotations

import gzip
import io
import random
import re
import tarfile
import zipfile
from collections.abc import Iterator

import pytest
from helpers import tar_of, zip_of
from keys import random_id, random_secret

from akscan.detect.engine import Engine
from akscan.pipeline.content import scan_bytes
from akscan.rules import builtin_rules_dir, load_rules
from akscan.sources import archive_readers, archives

ENGINE = Engine(load_rules([builtin_rules_dir()]))
FORMATS = (tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT)


def key_file(rng: random.Random) -> bytes:
    return (f"alibaba.cloud.access-key={random_id()}\n"
            f"alibaba.cloud.secret-key={random_secret()}\n").encode() * rng.randint(1, 3)


def random_name(rng: random.Random) -> str:
    parts = [rng.choice(["src", "pkg", "aliyunsdkecs", "a" * rng.randint(1, 90), "dir.d",
                         "ünï", "..", ".", "C:", "x y"]) for _ in range(rng.randint(1, 5))]
    name = "/".join(parts) + rng.choice(["", ".py", ".env", "/"])
    return rng.choice(["", "./", "/"]) + name if rng.random() < 0.2 else name


def random_tar(rng: random.Random, tar_format: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
        for _ in range(rng.randint(0, 12)):
            info = tarfile.TarInfo(random_name(rng))
            roll = rng.random()
            data = b""
            if roll < 0.1:
                info.type = tarfile.DIRTYPE
            elif roll < 0.15:
                info.type = tarfile.SYMTYPE
                info.linkname = random_name(rng)
            elif roll < 0.2:
                info.type = tarfile.LNKTYPE
                info.linkname = random_name(rng)
            elif roll < 0.3:
                data = key_file(rng)
            elif roll < 0.35:
                data = gzip.compress(key_file(rng))  # an archive inside
            else:
                data = rng.randbytes(rng.choice([0, 1, 511, 512, 513, rng.randint(0, 5000)]))
            info.size = len(data)
            info.mtime = rng.choice([0, 1_700_000_000])
            try:
                archive.addfile(info, io.BytesIO(data) if data else None)
            except ValueError:  # a name or link too long for ustar: left out
                continue
    return buffer.getvalue()


def mutated(rng: random.Random, tar: bytes) -> bytes:
    """A tar as found in the wild: usually whole, sometimes cut, damaged or odd."""
    roll = rng.random()
    data = bytearray(tar)
    if roll < 0.4 or not data:
        return tar
    if roll < 0.55:
        return tar[:rng.randrange(len(tar))]
    if roll < 0.7:  # a byte changed, most often in a header
        at = rng.randrange(512) if rng.random() < 0.7 else rng.randrange(len(data))
        data[at] = rng.randrange(256)
        return bytes(data)
    if roll < 0.8:  # a number field written another way (spaces, base-256, a sign)
        field = rng.choice([(100, 108), (124, 136), (136, 148), (148, 156), (329, 337)])
        start, end = field
        data[start:end] = rng.choice([b" " * (end - start), b"\x80" + bytes(end - start - 1),
                                      b"-1".ljust(end - start, b"\0"),
                                      b" 17 ".ljust(end - start, b"\0")])
        return bytes(data)
    if roll < 0.9:
        return tar + rng.randbytes(rng.randint(1, 2000))
    return tar.rstrip(b"\0")  # no end-of-archive blocks


def outcome(data: bytes, limits: archives.Limits) -> tuple[object, ...]:
    """Everything reading `data` gives: each member, the error that ends it, the budget left."""
    kind = archives.kind(data)
    assert kind is not None
    budget = archives.Budget(limits)
    got: list[object] = []
    try:
        for member in archives.members(data, kind, "release.tar.gz", limits, budget):
            got.append(tuple(member)[:4])  # (`plain` only saves looking at a kind again)
    except (archives.ArchiveError, archives.LimitReached) as exc:
        got.append((type(exc).__name__, str(exc)))
    return tuple(got), budget.bytes, budget.members


@pytest.fixture
def with_tarfile_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The reference: every tar read by tarfile, as before the fast reading."""
    monkeypatch.setattr(archive_readers, "plain_tar", lambda data: None)
    yield


def cases(seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for n in range(240):
        tar = mutated(rng, random_tar(rng, FORMATS[n % 3]))
        packed = gzip.compress(tar, mtime=0) if rng.random() < 0.6 else tar
        roll = rng.random()
        if packed is not tar and roll < 0.2:
            if roll < 0.07:
                packed = packed[:rng.randrange(1, len(packed))]
            elif roll < 0.14:  # a wrong CRC: damage found only at the stream's end
                crc = bytearray(packed)
                crc[-6] ^= 0x40
                packed = bytes(crc)
            else:  # bytes after the stream, which gzip -d ignores and akscan scans
                packed += rng.randbytes(rng.randint(1, 40)) + bytes(4)
        if archives.kind(packed) in (archives.TAR, archives.GZIP):
            yield packed


LIMITS = [archives.DEFAULT_LIMITS,
          archives.Limits(max_members=3), archives.Limits(max_total=4000),
          archives.Limits(max_member=600)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tars_read_as_tarfile_reads_them(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    checked = 0
    for data in cases(seed):
        for limits in LIMITS:
            fast = outcome(data, limits)
            with monkeypatch.context() as patch:
                patch.setattr(archive_readers, "plain_tar", lambda data: None)
                reference = outcome(data, limits)
            assert fast == reference
            checked += 1
    assert checked > 500


@pytest.mark.parametrize("seed", [4, 5])
def test_tars_scan_to_the_same_findings_warnings_and_notes(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = 0
    for data in cases(seed):
        for limits in (archives.DEFAULT_LIMITS, archives.Limits(max_total=3000)):
            fast = scan_bytes(data, "release.tar.gz", ENGINE, limits=limits)
            with monkeypatch.context() as patch:
                patch.setattr(archive_readers, "plain_tar", lambda data: None)
                reference = scan_bytes(data, "release.tar.gz", ENGINE, limits=limits)
            assert [(f.path, f.line, f.rule_id, f.secret) for f in fast.findings] == [
                (f.path, f.line, f.rule_id, f.secret) for f in reference.findings]
            assert (fast.errors, fast.notes, fast.scanned_bytes) == (
                reference.errors, reference.notes, reference.scanned_bytes)
            found += len(fast.findings)
    assert found > 50


def test_ordinary_tars_are_read_without_tarfile() -> None:
    rng = random.Random(7)
    long_name = "pkg/" + "n" * 120 + "/settings.py"
    for tar_format in (tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
            for name in (long_name if tar_format == tarfile.USTAR_FORMAT else long_name * 2,
                         "a/b.txt"):
                data = rng.randbytes(700)
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        files = archive_readers.plain_tar(buffer.getvalue())
        assert files is not None
        assert [name for name, _, _ in files] == [
            long_name if tar_format == tarfile.USTAR_FORMAT else long_name * 2, "a/b.txt"]


def test_pax_headers_and_bad_checksums_are_left_to_tarfile() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("ünïcode.txt")
        archive.addfile(info, io.BytesIO(b""))
    assert archive_readers.plain_tar(buffer.getvalue()) is None
    ordinary = bytearray(tar_of({"a.txt": b"hello"}, tarfile.GNU_FORMAT))
    assert archive_readers.plain_tar(bytes(ordinary)) is not None
    ordinary[0] ^= 1  # the name changed, the checksum not
    assert archive_readers.plain_tar(bytes(ordinary)) is None


def test_a_long_name_with_no_member_after_it_is_read_as_tarfile_reads_it(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tar_of({"d/" + "n" * 150: b"key = value\n"}, tarfile.GNU_FORMAT)
    # The GNU long-name header and its one data block, then straight to the end blocks.
    data = whole[:1024] + bytes(1024)
    fast = outcome(data, archives.DEFAULT_LIMITS)
    monkeypatch.setattr(archive_readers, "plain_tar", lambda data: None)
    assert fast == outcome(data, archives.DEFAULT_LIMITS)


def test_an_inner_archive_that_spends_the_budget_stops_the_outer_one_where_it_did(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # The inner zip spends 7.5 of the 8 MiB; the outer archive's next members are over the
    # member limit (not charged, but still read through): tarfile's stream stops the outer
    # archive once it has read 1 MiB past the budget left, wherever its members end.
    inner = zip_of({f"zeros{n}.bin": bytes(99_000) for n in range(80)})
    rng = random.Random(3)
    outer = {"inner.zip": inner} | {f"blob{n}.bin": rng.randbytes(150_000) for n in range(16)}
    data = gzip.compress(tar_of(outer, tarfile.GNU_FORMAT))
    limits = archives.Limits(max_total=8 * 1024 * 1024, max_member=100_000)
    fast = scan_bytes(data, "release.tar.gz", ENGINE, limits=limits)
    monkeypatch.setattr(archive_readers, "plain_tar", lambda data: None)
    reference = scan_bytes(data, "release.tar.gz", ENGINE, limits=limits)
    assert (fast.errors, fast.notes) == (reference.errors, reference.notes)
    assert "release.tar.gz: more than 8388608 bytes uncompressed in all" in "".join(
        reference.notes + reference.errors)


# --- zip members read straight from memory ---------------------------------------------------


class Unseekable(io.RawIOBase):
    def __init__(self, sink: io.BytesIO) -> None:
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self.sink.write(data)


def random_zip(rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    # Written to a stream that cannot seek, a zip has data descriptors after its members.
    stream: io.IOBase = Unseekable(buffer) if rng.random() < 0.3 else buffer
    methods = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
    with zipfile.ZipFile(stream, "w") as archive:
        for n in range(rng.randint(0, 10)):
            name = rng.choice([f"pkg/mod{n}.py", f"ünï/{n}.txt", f"dir{n}/", f"../up{n}.env",
                               f"a{n}" * 30])
            roll = rng.random()
            data = (key_file(rng) if roll < 0.3 else gzip.compress(key_file(rng)) if roll < 0.35
                    else rng.choice([b"", rng.randbytes(rng.randint(1, 3000)),
                                     b"abc\n" * rng.randint(1, 2000)]))
            info = zipfile.ZipInfo(name)
            info.compress_type = rng.choice(methods)
            archive.writestr(info, data)
        if rng.random() < 0.2:
            archive.comment = b"release " * rng.randint(1, 10)
    data = buffer.getvalue()
    return b"#!/bin/sh\nexit 0\n" + data if rng.random() < 0.1 else data


def zip_cases(seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(200):
        data = bytearray(random_zip(rng))
        roll = rng.random()
        if data and roll < 0.3:  # a byte changed: in a local header, the data, the directory
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif data and roll < 0.4:
            del data[rng.randrange(len(data)):]
        elif roll < 0.5 and len(data) > 60:  # a deflated member's data off by a bit
            at = bytes(data).find(b"PK\x03\x04", rng.randrange(len(data) // 2))
            if at >= 0 and at + 40 < len(data):
                data[at + 40] ^= 1 << rng.randrange(8)
        if archives.kind(bytes(data)) == archives.ZIP:
            yield bytes(data)


@pytest.mark.parametrize("seed", [1, 2])
def test_zip_members_read_as_zipfile_reads_them(seed: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    checked = 0
    for data in zip_cases(seed):
        for limits in LIMITS:
            fast = outcome(data, limits)
            with monkeypatch.context() as patch:
                patch.setattr(archive_readers, "_zip_content", lambda data, info: None)
                reference = outcome(data, limits)
            assert fast == reference
            checked += 1
    assert checked > 400


def test_stored_and_deflated_members_are_read_without_zipfile() -> None:
    rng = random.Random(9)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("stored.txt", b"plain\n", zipfile.ZIP_STORED)
        archive.writestr("ünï.py", rng.randbytes(100) + b"x" * 5000, zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            assert archive_readers._zip_content(data, info) == archive.read(info)
        damaged = bytearray(data)
        damaged[archive.infolist()[1].header_offset + 60] ^= 0xFF
        assert archive_readers._zip_content(bytes(damaged), archive.infolist()[1]) is None


def test_number_fields_are_read_as_tarfile_reads_them_or_left_to_it() -> None:
    rng = random.Random(11)
    usual = {width: re.compile(archive_readers._octal_field(width)) for width in (8, 12)}
    taken = 0
    for _ in range(20_000):
        width = rng.choice([8, 12])
        field = bytes(rng.choice(b"01234567  \0\0\0+-_o89x\x80\xff\t") for _ in range(width))
        if rng.random() < 0.5:  # the usual shape: digits, then padding
            digits = rng.randint(0, width)
            field = bytes(rng.choice(b"01234567") for _ in range(digits)) + bytes(
                rng.choice(b" \0") for _ in range(width - digits))
        try:
            expected: int | None = tarfile.nti(field)  # type: ignore[attr-defined]
        except tarfile.InvalidHeaderError:
            expected = None
        number = archive_readers._number(field)
        assert number is None or number == expected
        if usual[width].fullmatch(field):
            assert int(field.rstrip(b" \0") or b"0", 8) == expected
            taken += 1
    assert taken > 8_000


def test_header_sums_are_exact() -> None:
    rng = random.Random(12)
    for header in [bytes(512), b"\xff" * 512, *(rng.randbytes(512) for _ in range(2000))]:
        assert archive_readers._byte_sum(header) == sum(header)
