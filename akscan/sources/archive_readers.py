"""Reading zip, tar and compressed archives within the limits of `archives` (issue 3).

Imported only when a scan meets an archive: zipfile, tarfile and the decompressors cost a few
milliseconds to import, which every pre-commit run would otherwise pay.
"""

from __future__ import annotations

import bz2
import io
import lzma
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

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


def read_members(data: bytes, archive_kind: str, name: str, limits: Limits,
            budget: Budget) -> Iterator[Member]:
    """See `archives.members`."""
    try:
        if archive_kind == ZIP:
            yield from _zip_members(data, limits, budget)
        elif archive_kind == TAR:
            yield from _tar_members(io.BytesIO(data), limits, budget)
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


_MAGIC = {GZIP: b"\x1f\x8b", BZIP2: b"BZh", XZ: b"\xfd7zXZ\x00"}
_INPUT = 64 * 1024


class _Decompressing(io.RawIOBase):
    """The decompressed bytes of gzip, bzip2 or xz data, as `gzip -d` reads them: every
    concatenated stream, then the end. Damage (truncation, a corrupt block) ends the stream
    where it is, with `damage` saying why; bytes after the last stream that are not another
    are kept in `trailing` (gzip ignores them with a warning; akscan scans them)."""

    def __init__(self, data: bytes, archive_kind: str) -> None:
        self._kind = archive_kind
        self._input = memoryview(data)
        self._at = 0
        self._decompressor = self._new()
        self._tail = b""  # zlib's input not yet consumed
        self._ended = False
        self.damage: str | None = None
        self.trailing = b""

    def _new(self) -> Any:
        if self._kind == GZIP:
            return zlib.decompressobj(wbits=31)
        if self._kind == BZIP2:
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._ended:
            try:
                out = self._step(len(buffer))
            except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
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
    parts = name.replace("\\", "/").split("/")
    if parts and len(parts[0]) == 2 and parts[0][1] == ":":
        parts = parts[1:]
    cleaned = "/".join(p for p in parts if p not in ("", ".", "..")).translate(_CONTROL)
    cleaned = cleaned or "(unnamed)"
    return cleaned, (None if cleaned == name else name.translate(_CONTROL))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
