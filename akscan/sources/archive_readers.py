"""Reading zip, tar and compressed archives within the limits of `archives` (issue 3).

Imported only when a scan meets an archive: zipfile, tarfile and the decompressors cost a few
milliseconds to import, which every pre-commit run would otherwise pay.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, BinaryIO

from akscan.sources.archives import (
    BZIP2,
    GZIP,
    TAR,
    TAR_MAGIC_AT,
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
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir() or stat.S_ISLNK(info.external_attr >> 16):
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
    with _decompressing(archive_kind, data) as decompressed:
        bounded = _Bounded(decompressed, len(data), limits, budget)
        stream = io.BufferedReader(bounded, buffer_size=64 * 1024)
        head = stream.peek(TAR_MAGIC_AT + 5)
        if head.startswith(b"ustar", TAR_MAGIC_AT):
            yield from _tar_members(stream, limits, budget)
            return
        # A single compressed file (config.json.gz): its content, named without the suffix.
        _count(budget)
        base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1]
        inner = base.rsplit(".", 1)[0] if "." in base else base
        content = stream.read(limits.max_member + 1)
        if len(content) > limits.max_member:
            yield Member(inner, None, f"over the size limit of {limits.max_member} bytes "
                                      "uncompressed")
            return
        yield Member(inner, content)


def _decompressing(archive_kind: str, data: bytes) -> io.BufferedIOBase:
    raw = io.BytesIO(data)
    if archive_kind == GZIP:
        return gzip.GzipFile(fileobj=raw)
    if archive_kind == BZIP2:
        return bz2.BZ2File(raw)
    return lzma.LZMAFile(raw)


class _Bounded(io.RawIOBase):
    """A decompressing stream that gives up past the budget, or when it inflates too much."""

    def __init__(self, inner: io.BufferedIOBase, compressed: int, limits: Limits,
                 budget: Budget) -> None:
        self._inner = inner
        self._allowed = max(limits.ratio_floor, limits.max_ratio * compressed)
        self._limits = limits
        self._budget = budget
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(len(buffer))
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
