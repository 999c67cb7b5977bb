"""Reading zip, tar and compressed archives within the limits of `archives` (issue 3).

Imported only when a scan meets an archive: zipfile, tarfile and the decompressors cost a few
milliseconds to import, which every pre-commit run would otherwise pay.
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, cast

from akscan.sources import archives
from akscan.sources.archives import (
    BZIP2,
    GZIP,
    TAR,
    TAR_MAGIC_AT,
    XZ,
    ZIP,
    ArchiveError,
    Budget,
    LimitReached,
    Limits,
    Member,
)

_BROKEN: tuple[type[Exception], ...] = (zlib.error, lzma.LZMAError, OSError, EOFError,
                                         ValueError)
try:  # ISA-L's inflate (python-isal), as for trail; without it, zlib
    from isal import isal_zlib
    # (its stubs declare the exception an instance)
    _BROKEN += (cast("type[Exception]", isal_zlib.IsalError),)
except ImportError:  # pragma: no cover - platforms without isal wheels
    isal_zlib = None  # type: ignore[assignment]
# Where the whole of a stream is checked before any of it is used (a small gzip'd tar, a zip
# member with its CRC), ISA-L inflates it: 2-3 times faster than zlib. Anything it finds
# wrong is read again by zlib, whose messages the warnings keep.
_INFLATE: Any = isal_zlib or zlib


def read_members(data: bytes, archive_kind: str, name: str, limits: Limits,
            budget: Budget) -> Iterator[Member]:
    """See `archives.members`."""
    try:
        if archive_kind == ZIP:
            yield from _zip_members(data, limits, budget)
        elif archive_kind == TAR:
            files = plain_tar(data)
            if files is None:  # anything unusual: as tarfile reads it
                yield from _tar_members(io.BytesIO(data), limits, budget)
            else:
                yield from _charged(((name, data, start, size) for name, start, size in files),
                                    limits, budget)
        else:
            yield from _compressed_members(data, archive_kind, name, limits, budget)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError,
            OSError, ValueError, NotImplementedError) as exc:
        raise ArchiveError(_reason(exc)) from None


def _zip_members(data: bytes, limits: Limits, budget: Budget) -> Iterator[Member]:
    start = 0 if data.startswith((b"PK\x03\x04", b"PK\x05\x06")) else archives.zip_start(data)
    if start:
        # A self-extracting stub, or the file a zip was appended to: scanned as a member.
        _count(budget)
        yield Member("(data before the zip)", data[:start])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            # Not `info.is_dir()`: it indexes the name's last character, and a member may
            # have an empty name (found by the fuzz target).
            if info.filename.endswith("/") or stat.S_ISLNK(info.external_attr >> 16):
                continue
            _count(budget)
            name, renamed = _clean(info.filename)
            problem = _zip_problem(info, limits, budget)
            if problem:
                yield Member(name, None, problem, renamed)
                continue
            content = _zip_content(data, info)
            if content is not None:  # its size is within both limits (_zip_problem)
                budget.bytes -= len(content)
                yield Member(name, content, None, renamed)
                continue
            try:
                with archive.open(info) as handle:
                    content = _read(handle, limits, budget)
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error,
                    lzma.LZMAError, EOFError, OSError) as exc:
                yield Member(name, None, f"cannot read: {_reason(exc)}", renamed)
                continue
            if content is None:
                yield Member(name, None, "inflates past its stated size (a zip bomb?)", renamed)
                continue
            yield Member(name, content, None, renamed)


_LOCAL_HEADER = struct.Struct("<4s2xH18xHH")  # signature, flags, name and extra lengths


def _zip_content(data: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """A stored or deflated member's content, read straight from the zip in memory (issue 14:
    zipfile's layers of file objects cost as much as inflating, 0.09 s of CPU for the 2,361
    members of pip's history), when zipfile would give exactly these bytes: its checks on the
    local header pass, the stream ends where it should and the CRC is right. None for
    anything else, which zipfile then reads and reports as before."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or (
            info.flag_bits & 0x60):  # compressed patched data, strong encryption
        return None
    at = info.header_offset
    if at < 0 or len(data) < at + _LOCAL_HEADER.size:
        return None
    signature, flags, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, at)
    start = at + _LOCAL_HEADER.size + name_length
    try:
        stored = data[start - name_length:start].decode("utf-8" if flags & 0x800 else "cp437")
    except UnicodeDecodeError:
        return None
    start += extra_length
    end = start + info.compress_size
    overlapping = getattr(info, "_end_offset", None)  # Pythons that check for overlap
    if (signature != b"PK\x03\x04" or stored != info.orig_filename or end > len(data)
            or (overlapping is not None and end > overlapping)):
        return None
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            return None
        content = data[start:end]
    else:
        inflater = _INFLATE.decompressobj(-15)
        try:
            content = inflater.decompress(memoryview(data)[start:end], info.file_size + 1)
        except _BROKEN:
            return None
        if not inflater.eof or len(content) != info.file_size:
            return None
    return content if zlib.crc32(content) == info.CRC else None


def _zip_problem(info: zipfile.ZipInfo, limits: Limits, budget: Budget) -> str | None:
    if info.flag_bits & 0x1:
        return "encrypted"
    if info.file_size > limits.max_member:
        return (f"{info.file_size} bytes uncompressed is over the size limit of "
                f"{limits.max_member} bytes")
    if (info.file_size > limits.ratio_floor
            and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
        return (f"inflates {info.file_size // max(info.compress_size, 1)} times "
                f"(limit {limits.max_ratio}; a zip bomb?)")
    if info.file_size > budget.bytes:
        raise LimitReached(f"more than {limits.max_total} bytes uncompressed in all")
    return None


def _tar_members(stream: BinaryIO, limits: Limits, budget: Budget) -> Iterator[Member]:
    # Streaming mode reads members in order and never seeks: fit for decompressed streams.
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for info in archive:
            if not info.isfile():  # directories, links, devices: nothing to scan
                continue
            _count(budget)
            name, renamed = _clean(info.name)
            if info.size > limits.max_member:
                yield Member(name, None, f"{info.size} bytes is over the size limit of "
                                         f"{limits.max_member} bytes", renamed)
                continue
            if info.size > budget.bytes:
                raise LimitReached(f"more than {limits.max_total} bytes uncompressed in all")
            handle = archive.extractfile(info)
            content = _read(handle, limits, budget) if handle is not None else b""
            yield Member(name, content, None, renamed)


def _compressed_members(data: bytes, archive_kind: str, name: str, limits: Limits,
                        budget: Budget) -> Iterator[Member]:
    """A compressed tar's members, or a single compressed file; what was read before damage
    (a truncated download) is still given, and then the damage raised as ArchiveError."""
    small = _small_tar(data, archive_kind, limits, budget)
    if small is not None:
        yield from _charged(small, limits, budget)
        return
    raw = _Decompressing(data, archive_kind)
    bounded = _Bounded(raw, len(data), limits, budget)
    stream = io.BufferedReader(bounded, buffer_size=64 * 1024)
    try:
        head = stream.peek(TAR_MAGIC_AT + 5)
        if head.startswith(b"ustar", TAR_MAGIC_AT) or archives.looks_like_v7_tar(head[:512]):
            yield from _tar_members(stream, limits, budget)
        else:
            yield from _single(stream, name, limits, budget)
    except tarfile.TarError:
        if raw.damage is None:
            raise
    if raw.damage is not None:
        raise ArchiveError(raw.damage)
    if raw.trailing:
        # `gzip -d` ignores what follows the compressed data; it is scanned, not lost.
        _count(budget)
        yield Member("(data after the compressed stream)", raw.trailing)


def _single(stream: IO[bytes], name: str, limits: Limits,
            budget: Budget) -> Iterator[Member]:
    """A single compressed file (config.json.gz): its content, named without the suffix."""
    _count(budget)
    base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    inner = base.rsplit(".", 1)[0] if "." in base else base
    content = stream.read(limits.max_member + 1)
    if len(content) > limits.max_member:
        yield Member(inner, None, f"over the size limit of {limits.max_member} bytes "
                                  "uncompressed")
        return
    yield Member(inner, content)


# Reading a tar without tarfile (issue 14): tarfile's per-member work (a TarInfo, every field
# decoded, a stream of small reads) was about 30% of the scan of a history with release
# tarballs. A tar that is entirely ordinary is parsed from memory by `plain_tar`; anything else
# (pax or sparse headers, base-256 numbers, a checksum tarfile would take only signed, a cut or
# unterminated archive) is left to tarfile, before a single member is given, so what is read,
# named, charged and reported is tarfile's in every case.

_BLOCK = 512
_END = bytes(_BLOCK)
_GNU_LONGNAME = b"L"
_REGULAR = (b"0", b"\0", b"7")  # tarfile's REGULAR_TYPES but sparse files
_NOT_FILES = (b"1", b"2", b"3", b"4", b"5", b"6")  # links, devices, directories, fifos
# Fields tarfile's `frombuf` reads as numbers: each must parse, or tarfile stops there.
_NUMBERS = ((100, 108), (108, 116), (116, 124), (136, 148), (329, 337), (337, 345))
_MIB = 1024 * 1024
# A gzip'd tar read whole into memory at most this large; larger ones are streamed.
_IN_MEMORY = 16 * _MIB


def _octal_field(width: int) -> bytes:
    """A pattern for a number field written the usual way: octal digits, then spaces or NULs
    to its end (tarfile reads it as those digits; anything else goes through `_number`)."""
    return b"(?:%s)" % b"|".join(b"[0-7]{%d}[ \0]{%d}" % (digits, width - digits)
                                 for digits in range(width, -1, -1))


# From offset 100: mode, uid, gid, size (captured), mtime, checksum (captured), and after the
# names, devmajor and devminor.
_USUAL_NUMBERS = re.compile(b"%s{3}(%s)%s(%s)[\x00-\xff]{173}%s{2}" % (
    _octal_field(8), _octal_field(12), _octal_field(12), _octal_field(8), _octal_field(8)))


def _byte_sum(header: bytes) -> int:
    """The sum of a 512-byte header's bytes, for its checksum. Adler-32 starts from 1 and adds
    each byte modulo 65,521, which 256 bytes (at most 65,280) never reach: so each half's sum is
    its Adler-32's low half less 1, in C (`sum` costs 2.5 us a header, a third of the parse)."""
    return (zlib.adler32(header[:256]) & 0xFFFF) + (zlib.adler32(header[256:]) & 0xFFFF) - 2


def _number(field: bytes) -> int | None:
    """An octal field as tarfile's `nti` reads it, or None when this reading is not certainly
    tarfile's (base-256, odd whitespace, or no number)."""
    digits = field.partition(b"\0")[0]
    try:
        return int(digits, 8) if digits else 0
    except ValueError:
        return None


def _text(field: bytes) -> str:
    """A NUL-terminated name field as tarfile decodes it."""
    return field.partition(b"\0")[0].decode(tarfile.ENCODING, "surrogateescape")


def plain_tar(data: bytes) -> list[tuple[str, int, int]] | None:
    """(name, start, size) of each regular file in an ordinary tar, exactly as tarfile names
    and finds them, in order; None when tarfile might read the archive any other way."""
    files: list[tuple[str, int, int]] = []
    at, end = 0, len(data)
    longname: str | None = None
    while True:
        header = data[at:at + _BLOCK]
        if len(header) < _BLOCK:
            return None  # no end-of-archive block
        if header == _END:
            # The end, unless nothing came before it or a long name is left waiting.
            return files if at and longname is None else None
        usual = _USUAL_NUMBERS.match(header, 100)
        stored: int | None
        size: int | None
        if usual is not None:  # one match instead of eight parses (most headers)
            size = int(usual[1].rstrip(b" \0") or b"0", 8)
            stored = int(usual[2].rstrip(b" \0") or b"0", 8)
        else:
            stored, size = _number(header[148:156]), _number(header[124:136])
            if any(_number(header[first:last]) is None for first, last in _NUMBERS):
                return None
        if (stored is None or size is None or size < 0
                or stored != 256 + _byte_sum(header) - sum(header[148:156])):
            return None
        kind = header[156:157]
        data_at = at + _BLOCK
        if kind == _GNU_LONGNAME:
            if longname is not None:
                return None
            at = data_at + -(-size // _BLOCK) * _BLOCK
            if at > end:
                return None
            longname = _text(data[data_at:at])
            continue
        name = _text(header[:100])
        if kind in _REGULAR and not (kind == b"\0" and name.endswith("/")):
            prefix = _text(header[345:500])
            if longname is not None:
                name = longname
            elif prefix:
                name = prefix + "/" + name
            at = data_at + -(-size // _BLOCK) * _BLOCK
            if at > end:
                return None
            files.append((name, data_at, size))
        elif kind in _NOT_FILES or kind == b"\0":  # tarfile skips no data after these
            at = data_at
        else:
            return None
        longname = None


def _small_tar(data: bytes, archive_kind: str, limits: Limits,
               budget: Budget) -> list[tuple[str, bytes, int, int]] | None:
    """The files of a gzip'd tar that is small, whole, ordinary and holds no archive, as
    (name, tar, start, size); None for anything else, which is then streamed as before
    (bzip2 and xz too: inflating them only to find them too large would cost too much).

    Those conditions make reading it in memory give what streaming gives: it fits the ratio
    limit and the budget (so `_Bounded` could not have stopped it, whenever it read), its
    compressed stream has no damage and nothing after it, and no member is an archive that
    would spend the budget while this one is being read."""
    cap = min(_IN_MEMORY, max(limits.ratio_floor, limits.max_ratio * len(data)),
              (budget.bytes + _MIB) // 2)
    if archive_kind != GZIP or int.from_bytes(data[-4:], "little") > cap:
        return None  # the size gzip records (modulo 4 GiB) says it is too large
    raw = _Decompressing(data, archive_kind, _INFLATE)
    # What `_compressed_members` peeks at (ISA-L may give less of it, never more: then the
    # archive is only streamed as before).
    head = raw.read(64 * 1024) or b""
    if not (head.startswith(b"ustar", TAR_MAGIC_AT) or archives.looks_like_v7_tar(head[:512])):
        return None
    parts, total = [head], len(head)
    while total <= cap:
        part = raw.read(_MIB)
        if not part:
            break
        parts.append(part)
        total += len(part)
    if total > cap or raw.damage is not None or raw.trailing:
        return None
    tar = b"".join(parts)
    files = plain_tar(tar)
    if files is None:
        return None
    for _, start, size in files:
        if size <= limits.max_member and archives.kind(tar[start:start + size]) is not None:
            return None
    return [(name, tar, start, size) for name, start, size in files]


def _charged(files: Iterator[tuple[str, bytes, int, int]] | list[tuple[str, bytes, int, int]],
             limits: Limits, budget: Budget) -> Iterator[Member]:
    """Members of a tar read by `plain_tar`, counted and charged as `_tar_members` does."""
    for stored, tar, start, size in files:
        _count(budget)
        name, renamed = _clean(stored)
        if size > limits.max_member:
            yield Member(name, None, f"{size} bytes is over the size limit of "
                                     f"{limits.max_member} bytes", renamed)
            continue
        if size > budget.bytes:
            raise LimitReached(f"more than {limits.max_total} bytes uncompressed in all")
        budget.bytes -= size
        yield Member(name, tar[start:start + size], None, renamed)


_MAGIC = {GZIP: b"\x1f\x8b", BZIP2: b"BZh", XZ: b"\xfd7zXZ\x00"}
_INPUT = 64 * 1024


class _Decompressing(io.RawIOBase):
    """The decompressed bytes of gzip, bzip2 or xz data, as `gzip -d` reads them: every
    concatenated stream, then the end. Damage (truncation, a corrupt block) ends the stream
    where it is, with `damage` saying why; bytes after the last stream that are not another
    are kept in `trailing` (gzip ignores them with a warning; akscan scans them)."""

    def __init__(self, data: bytes, archive_kind: str, inflate: Any = zlib) -> None:
        self._kind = archive_kind
        self._inflate = inflate  # zlib, or a module like it (isal_zlib)
        self._input = memoryview(data)
        self._at = 0
        self._decompressor = self._new()
        self._tail = b""  # zlib's input not yet consumed
        self._ended = False
        self.damage: str | None = None
        self.trailing = b""

    def _new(self) -> Any:
        if self._kind == GZIP:
            return self._inflate.decompressobj(wbits=31)
        if self._kind == BZIP2:
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._ended:
            try:
                out = self._step(len(buffer))
            except _BROKEN as exc:
                self.damage = f"damaged data: {_reason(exc)}"
                self._ended = True
                return 0
            if out:
                buffer[:len(out)] = out
                return len(out)
        return 0

    def _step(self, size: int) -> bytes:
        d = self._decompressor
        if self._kind == GZIP:
            chunk = self._tail or self._next_input()
            if chunk is None:
                return self._truncated()
            out: bytes = d.decompress(chunk, size)
            self._tail = d.unconsumed_tail
        else:
            chunk = self._next_input() if d.needs_input else b""
            if chunk is None:
                return self._truncated()
            out = d.decompress(chunk, max_length=size)
        if d.eof and not self._tail:
            self._next_stream(bytes(d.unused_data) + bytes(self._input[self._at:]))
        return out

    def _next_input(self) -> bytes | None:
        if self._at >= len(self._input):
            return None
        chunk = bytes(self._input[self._at:self._at + _INPUT])
        self._at += len(chunk)
        return chunk

    def _truncated(self) -> bytes:
        self.damage = "truncated: the compressed data ends before its stream does"
        self._ended = True
        return b""

    def _next_stream(self, rest: bytes) -> None:
        if rest.startswith(_MAGIC[self._kind]):
            self._input, self._at = memoryview(rest), 0
            self._decompressor = self._new()
        else:
            self.trailing = rest if rest.strip(b"\0") else b""
            self._ended = True


class _Bounded(io.RawIOBase):
    """A decompressing stream that gives up past the budget, or when it inflates too much."""

    def __init__(self, inner: io.RawIOBase, compressed: int, limits: Limits,
                 budget: Budget) -> None:
        self._inner = inner
        self._allowed = max(limits.ratio_floor, limits.max_ratio * compressed)
        self._limits = limits
        self._budget = budget
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(len(buffer)) or b""
        self._read += len(chunk)
        if self._read > self._allowed:
            raise LimitReached(f"inflates more than {self._limits.max_ratio} times "
                               "(a compression bomb?)")
        if self._read > self._budget.bytes + 1024 * 1024:  # tar headers and padding count too
            raise LimitReached(f"more than {self._limits.max_total} bytes uncompressed in all")
        buffer[:len(chunk)] = chunk
        return len(chunk)


def _read(handle: IO[bytes], limits: Limits, budget: Budget) -> bytes | None:
    """A member's content, charged to the budget; None if it is larger than it said."""
    cap = min(limits.max_member, budget.bytes)
    content = handle.read(cap + 1)
    if len(content) > cap:
        return None
    budget.bytes -= len(content)
    return content


def _count(budget: Budget) -> None:
    if budget.members <= 0:
        raise LimitReached("more members than the limit")
    budget.members -= 1


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def _clean(name: str) -> tuple[str, str | None]:
    """A member name as reports show it: relative, '/'-separated, no `.` or `..` steps, no
    drive letter, no control characters; and the stored name if that differs."""
    if name.isprintable() and "\\" not in name:  # no control character, no backslash
        parts = name.split("/")
        if ("" not in parts and "." not in parts and ".." not in parts
                and not (len(parts[0]) == 2 and parts[0][1] == ":")):
            return name, None  # most names: nothing to clean (translate costs 8 us a name)
    parts = name.replace("\\", "/").split("/")
    if parts and len(parts[0]) == 2 and parts[0][1] == ":":
        parts = parts[1:]
    cleaned = "/".join(p for p in parts if p not in ("", ".", "..")).translate(_CONTROL)
    cleaned = cleaned or "(unnamed)"
    return cleaned, (None if cleaned == name else name.translate(_CONTROL))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
