"""Read JSON records from ActionTrail exports, in constant memory, whatever their shape.

SLS exports and SLS-to-OSS shipping write one JSON object per line; ActionTrail's own OSS
delivery writes gzip files of JSON; people also save arrays, `{"Records": [...]}` documents
and pretty-printed objects. Gzip is recognised by its magic bytes, not the file name. A record
that does not parse is counted (with the line it starts on) and skipped; reading goes on.

A gzip input is bounded (issue 12): past `Limits.max_decompressed` bytes, or once it inflates
more than `Limits.max_ratio` times (beyond a floor that ordinary trails never reach), reading
stops there, as for a corrupt file, and the reason names the option that raises the bound.
Blank lines cost no interpreted step each: a gigabyte of newlines is a few C-speed scans.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, cast

try:  # ISA-L's inflate (python-isal); without it, gzip inputs are inflated by zlib
    from isal import isal_zlib
    # (its stubs declare the exception an instance)
    _BROKEN: tuple[type[Exception], ...] = (cast("type[Exception]", isal_zlib.IsalError), OSError)
except ImportError:  # pragma: no cover - a platform without its wheel
    isal_zlib = None  # type: ignore[assignment]

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
_GIB = 1 << 30
MAX_RECORD = 16 << 20  # an event is a few KB; anything larger is not one
# Containers of events: OSS delivery ("Records") and the LookupEvents API response ("Events").
CONTAINER_KEYS = ("Records", "Events", "records", "events")
_CONTAINER_START = re.compile(r'\s*\{\s*"(?:Records|Events|records|events)"\s*:\s*\[')
_WS = re.compile(r"[\s,]*")
_DECODER = json.JSONDecoder()
_NONBLANK = re.compile(r"[^\n]+")


@dataclass(frozen=True)
class Limits:
    """How far one gzip input may inflate (`--max-decompressed`, `--max-ratio`)."""

    max_decompressed: int = 16 * _GIB
    max_ratio: int = 200  # ActionTrail JSON compresses 10 to 30 times
    ratio_floor: int = 256 << 20  # below this much output, any ratio is fine


DEFAULT_LIMITS = Limits()


@dataclass
class ReadStats:
    """What reading one input gave: records, and what had to be skipped."""

    records: int = 0
    malformed: int = 0
    first_malformed: int | None = None  # line number of the first malformed record
    error: str | None = None  # why reading stopped early (a truncated or corrupt gzip file)

    def bad(self, line: int) -> None:
        self.malformed += 1
        if self.first_malformed is None:
            self.first_malformed = line


def open_input(name: str) -> BinaryIO:
    """The bytes of `name` (`-` is standard input); raises OSError."""
    if name == "-":
        return sys.stdin.buffer
    return open(name, "rb")  # the caller closes it


# Takes the JSON lines of buf[pos:end] (buf, pos, end, the line number at pos) up to the first
# one it leaves to the generic reader: where that line starts and its number (see trail.fast).
Take = Callable[[str, int, int, int], tuple[int, int]]


def read_records(raw: BinaryIO, stats: ReadStats, limits: Limits = DEFAULT_LIMITS,
                 take: Take | None = None, parallel: Parallel | None = None
                 ) -> Iterator[tuple[dict[str, Any], int]]:
    """Every JSON object in `raw`, unpacked from arrays and containers, with its line number.
    In JSON lines, `take` may consume runs of lines itself (in order: a record yielded here
    comes after the lines taken before it), and `parallel` the rest of a long input."""
    start = _position(raw)
    head = raw.read(2)
    text: Text
    if head == GZIP_MAGIC and start is not None and isal_zlib is not None:
        text = _FastGunzip(raw, start, head, limits)
    else:
        text = _Opened(raw, head, limits)
    for value, line in _values(text, stats, take, parallel):
        yield from _unpack(value, line, stats)
    if text.error:  # after any error met while folding (a batch lost with its worker)
        stats.error = f"{stats.error}; {text.error}" if stats.error else text.error


class Text(Protocol):
    """The text of an input, read `CHUNK` characters at a time; `error` says why it ended
    early (a truncated or corrupt gzip file, a limit reached), or is None."""

    @property
    def error(self) -> str | None: ...

    def read(self, size: int) -> str: ...


class _Opened:
    """An input as text: gzip inflated by the standard library, UTF-8 with U+FFFD for what does
    not decode, universal newlines; a read error ends it early, as for a truncated file."""

    def __init__(self, raw: BinaryIO, head: bytes, limits: Limits) -> None:
        source = _Tolerant(lambda size: raw.read(size), head)
        if head == GZIP_MAGIC:
            gz = gzip.GzipFile(fileobj=io.BufferedReader(source, CHUNK), mode="rb")
            source = _Inflated(gz.read1, source, limits)
        self._source = source
        self.read = io.TextIOWrapper(io.BufferedReader(source, CHUNK), encoding="utf-8-sig",
                                     errors="replace").read

    @property
    def error(self) -> str | None:
        return self._source.error


def _position(raw: BinaryIO) -> int | None:
    """Where `raw` is, if it can be read again from there (a file, not a pipe)."""
    try:
        return raw.tell() if raw.seekable() else None
    except (OSError, ValueError):
        return None


class _Handover(Exception):
    """The fast gzip reader leaves the rest of an input to the standard library's."""


class _FastGunzip:
    """A gzip file (seekable) as text, inflated by ISA-L (python-isal): on a million
    ActionTrail events it inflates in 0.4 s of CPU where `gzip.GzipFile` takes 1.9 s.

    The text is the same as `_Opened` gives, read for read, whatever the input. For a well-formed
    file read to its end within the limits that holds because both give the same bytes. For
    anything else (an error or a cut in the data, bytes after a member that do not start another,
    a limit within reach) this reader does not decide: `_Opened` takes over from the start of
    the input, is read as often as this one was (that text is dropped: it was given already),
    and gives the rest itself, so where reading stops and the reason are exactly its own. Such an
    input costs one more inflation of what came before; ordinary trails never reach a limit."""

    def __init__(self, raw: BinaryIO, start: int, head: bytes, limits: Limits) -> None:
        self._raw, self._start, self._limits = raw, start, limits
        source = _Isal(raw, head, limits)
        self._read = io.TextIOWrapper(io.BufferedReader(source, CHUNK), encoding="utf-8-sig",
                                      errors="replace").read
        self._reads: list[list[int]] = []  # [size, times] of the reads so far, run by run
        self._old: _Opened | None = None

    @property
    def error(self) -> str | None:
        return self._old.error if self._old is not None else None

    def read(self, size: int) -> str:
        if self._old is None:
            try:
                text = self._read(size)
            except _Handover:
                self._old = self._replay()
            else:
                reads = self._reads
                if reads and reads[-1][0] == size:
                    reads[-1][1] += 1
                else:
                    reads.append([size, 1])
                return text
        return self._old.read(size)

    def _replay(self) -> _Opened:
        raw = self._raw
        raw.seek(self._start)  # an OSError here is a read error, as any other
        old = _Opened(raw, raw.read(2), self._limits)
        for size, times in self._reads:
            for _ in range(times):
                old.read(size)
        return old


_PIECE = 1 << 18  # compressed bytes inflated at a time


class _Isal(io.RawIOBase):
    """The inflated bytes of a gzip input, member after member, by ISA-L; raises `_Handover`
    on anything but well-formed members read to their end, or near a limit."""

    def __init__(self, raw: BinaryIO, head: bytes, limits: Limits) -> None:
        assert isal_zlib is not None
        self._raw, self._head, self._limits = raw, head, limits
        self._inflater = isal_zlib.decompressobj(31)  # gzip: header, CRC and size checked
        self._read = 0  # compressed bytes read
        self.total = 0  # bytes inflated

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inflate(len(view))
        view[:len(data)] = data
        return len(data)

    def _inflate(self, size: int) -> bytes:
        assert isal_zlib is not None
        inflater = self._inflater
        try:
            while True:
                if inflater.unconsumed_tail:
                    data = inflater.decompress(inflater.unconsumed_tail, size)
                elif inflater.eof:  # a member ended: the end of the input, or another member
                    rest = inflater.unused_data
                    if len(rest) < 2:
                        rest += self._piece()
                        if not rest:
                            return b""
                    if rest[:2] != GZIP_MAGIC:  # padding or anything else: not decided here
                        raise _Handover
                    self._inflater = inflater = isal_zlib.decompressobj(31)
                    data = inflater.decompress(rest, size)
                else:
                    piece = self._piece()
                    if not piece:  # cut short
                        raise _Handover
                    data = inflater.decompress(piece, size)
                if data:
                    break
        except _BROKEN as exc:
            raise _Handover from exc
        self.total += len(data)
        # Far enough from the limits that `_Opened`, reading ahead a few chunks more, would
        # not have reached them either (and inflating at most half the ratio allowed).
        reach, limits = self.total + 4 * CHUNK, self._limits
        used = self._read - len(inflater.unconsumed_tail) - len(inflater.unused_data)
        if reach > limits.max_decompressed or (
                reach > limits.ratio_floor and reach * 2 > limits.max_ratio * max(used, 1)):
            raise _Handover
        return data

    def _piece(self) -> bytes:
        piece = self._raw.read(_PIECE)
        if self._head:
            piece, self._head = self._head + piece, b""
        self._read += len(piece)
        return piece


def _unpack(value: Any, line: int, stats: ReadStats) -> Iterator[tuple[dict[str, Any], int]]:
    if isinstance(value, dict):
        for key in CONTAINER_KEYS:
            inner = value.get(key)
            if isinstance(inner, list) and "eventName" not in value and "event" not in value:
                value = inner
                break
        else:
            stats.records += 1
            yield value, line
            return
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                stats.records += 1
                yield item, line
            else:
                stats.bad(line)
    else:
        stats.bad(line)


def _values(text: Text, stats: ReadStats, take: Take | None = None,
            parallel: Parallel | None = None) -> Iterator[tuple[Any, int]]:
    head = text.read(CHUNK)
    lines = 0
    while head and head.isspace():  # leading blank lines, however many: counted, not kept
        lines += head.count("\n")
        head = text.read(CHUNK)
    start = head.lstrip()[:1]
    if not start:
        return
    first = lines + 1  # the number of the line head starts on
    if start == "[" or _CONTAINER_START.match(head):
        yield from _Document(head, text, stats, first).values()
        return
    begin = len(head) - len(head.lstrip())
    newline = head.find("\n", begin)
    if start == "{" and (newline < 0 or not _parses(head[begin:newline])):
        # A pretty-printed object (or a one-line file longer than a chunk): parse by value.
        yield from _Document(head, text, stats, first).values()
        return
    yield from _lines(head, text, stats, first, take, parallel)


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


# A run of whole JSON lines, `buf[:end]` as (buf, end), or None for a line longer than
# `MAX_RECORD` (read through and dropped, never held whole).
Piece = tuple[str, int] | None


class Parallel(Protocol):
    """Folds JSON lines elsewhere: past `after` characters of them, the rest of an input is
    given to `fold` as pieces, the first of them starting on line `number`."""

    after: int

    def fold(self, pieces: Iterator[Piece], number: int) -> None: ...


def _lines(head: str, text: Text, stats: ReadStats, first: int = 1, take: Take | None = None,
           parallel: Parallel | None = None) -> Iterator[tuple[Any, int]]:
    """JSON lines: each line one value; a line that does not parse, or longer than
    `MAX_RECORD`, is one malformed record."""
    number = first  # the line the next piece starts on
    read = 0
    pieces = _pieces(head, text)
    for piece in pieces:
        if piece is None:
            stats.bad(number)
            number += 1
            continue
        buf, end = piece
        number = yield from _piece_values(buf, end, number, stats, take)
        read += end
        if parallel is not None and read > parallel.after:
            parallel.fold(pieces, number)
            return


def _pieces(head: str, text: Text) -> Iterator[Piece]:
    """The lines of `text` (after `head`), a chunk's worth at a time (see `Piece`)."""
    buf, eof = head, False
    while True:
        rest = "" if eof else buf[buf.rfind("\n") + 1:]  # the line still being read
        end = len(buf) - len(rest)  # buf[:end]: whole lines
        if end:
            yield buf, end
        buf = rest
        if eof:
            return
        if len(buf) >= MAX_RECORD:  # an overlong line: drop it up to its end
            yield None
            buf = ""
            while True:
                chunk = text.read(CHUNK)
                if not chunk:
                    return
                newline = chunk.find("\n")
                if newline >= 0:
                    buf = chunk[newline + 1:]
                    break
        chunk = text.read(CHUNK)
        if chunk:
            buf += chunk
        else:
            eof = True


def fold_piece(piece: Piece, number: int, stats: ReadStats, take: Take,
               add: Callable[[dict[str, Any], int], None]) -> int:
    """Read one piece starting on line `number`: `take` folds the lines it can, the records of
    the others go to `add` with their line numbers. The number of the line after the piece."""
    if piece is None:
        stats.bad(number)
        return number + 1
    values = _piece_values(piece[0], piece[1], number, stats, take)
    while True:
        try:
            value, line = next(values)
        except StopIteration as stop:
            after: int = stop.value
            return after
        for record, at in _unpack(value, line, stats):
            add(record, at)


def _piece_values(buf: str, end: int, number: int, stats: ReadStats, take: Take | None
                  ) -> Generator[tuple[Any, int], None, int]:
    """The values of the lines in `buf[:end]` (those `take` leaves), the first numbered
    `number`; returns the number of the line after them."""
    if take is None:
        yield from _blank_or_not(buf, 0, end, number, stats)
        return number + buf.count("\n", 0, end)
    pos = 0
    while pos < end:
        # `take` folds what it can; the lines it leaves are read here.
        pos, number = take(buf, pos, end, number)
        if pos >= end:
            break
        if buf[pos] == "\n":  # blank lines, however many: skipped in C
            match = _NONBLANK.search(buf, pos, end)
            skip = match.start() if match else end
            pos, number = skip, number + skip - pos
            continue
        stop = buf.find("\n", pos, end)
        line = buf[pos:stop if stop >= 0 else end]
        if not line.isspace():
            yield from _line(line, number, stats)
        pos, number = pos + len(line) + 1, number + 1
    return number


def _blank_or_not(buf: str, pos: int, end: int, number: int, stats: ReadStats
                  ) -> Iterator[tuple[Any, int]]:
    """The values of the lines in `buf[pos:end]`, the first numbered `number`."""
    for match in _NONBLANK.finditer(buf, pos, end):  # blank lines: skipped in C
        number += buf.count("\n", pos, match.start())
        pos = match.start()
        line = match.group()
        if not line.isspace():
            yield from _line(line, number, stats)


def _line(line: str, number: int, stats: ReadStats) -> Iterator[tuple[Any, int]]:
    if len(line) >= MAX_RECORD:
        stats.bad(number)
        return
    try:
        yield json.loads(line), number
    except (ValueError, RecursionError):
        stats.bad(number)


class _Document:
    """Values of a JSON document read chunk by chunk: the elements of a top-level array (or of a
    `{"Records": [...]}` container), or a sequence of top-level values."""

    def __init__(self, head: str, text: Text, stats: ReadStats, first: int = 1) -> None:
        self.buf, self.pos, self.line = head, 0, first
        self.text, self.stats, self.eof = text, stats, False

    def values(self) -> Iterator[tuple[Any, int]]:
        depth = 0  # inside the array whose elements are the records
        self._skip()
        match = _CONTAINER_START.match(self.buf, self.pos)
        if match:
            self._advance(match.end() - self.pos)
            depth = 1
        resyncing = False
        while True:
            self._skip()
            char = self._peek()
            if char is None:
                return
            if char == "]" and depth:
                self._advance(1)
                depth -= 1
                if match:  # the rest of the container holds no events
                    return
                continue
            if char == "[" and not depth:
                self._advance(1)
                depth = 1
                continue
            if char != "{":
                if not resyncing:
                    self.stats.bad(self.line)
                    resyncing = True
                self._next_line()
                continue
            line = self.line
            value = self._decode()
            if value is None:
                self.stats.bad(line)
                resyncing = True
                continue
            resyncing = False
            yield value, line

    def _decode(self) -> Any:
        """The value at `pos`, or None (and `pos` moved to the next line) if it is malformed."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._incomplete(exc) and self._fill():
                    continue
                self._advance(max(exc.pos - self.pos, 0))
                self._next_line()
                return None
            except (ValueError, RecursionError):
                # Nested past Python's stack, or a number of more than 4,300 digits.
                self._next_line()
                return None
            self._advance(end - self.pos)
            return value

    def _incomplete(self, exc: json.JSONDecodeError) -> bool:
        # Ran off the end of what is buffered (not a real error) if the error is at the end, or
        # a string is open there: JSON strings cannot hold raw newlines, so it did not end.
        near_end = exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated string")
        return near_end and not self.eof and len(self.buf) - self.pos < MAX_RECORD

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.text.read(CHUNK)
        if not data:
            self.eof = True
            return True  # one more try, now knowing it is the end
        self.buf = self.buf[self.pos:] + data
        self.pos = 0
        return True

    def _peek(self) -> str | None:
        while self.pos >= len(self.buf):
            if self.eof or not self._fill() or self.eof:
                return None
        return self.buf[self.pos]

    def _skip(self) -> None:
        while True:
            end = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            self._advance(end - self.pos)
            if self.pos < len(self.buf) or self.eof or not self._fill():
                return

    def _next_line(self) -> None:
        while True:
            newline = self.buf.find("\n", self.pos)
            if newline >= 0:
                self._advance(newline + 1 - self.pos)
                return
            self._advance(len(self.buf) - self.pos)
            if not self._fill() or self.eof:
                return

    def _advance(self, count: int) -> None:
        self.line += self.buf.count("\n", self.pos, self.pos + count)
        self.pos += count


class _Tolerant(io.RawIOBase):
    """Bytes from `read`, after `head`; a read error (a truncated or corrupt gzip file, a disk
    error) ends the stream cleanly and is kept in `error`, so what came before still counts."""

    def __init__(self, read: Callable[[int], bytes], head: bytes = b"") -> None:
        self._read, self._head = read, head
        self.error: str | None = None
        self.count = 0  # bytes returned

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            data, self._head = self._head[:len(view)], self._head[len(view):]
        elif self.error is not None:
            return 0
        else:
            try:
                data = self._read(len(view))
            except (OSError, EOFError, zlib.error) as exc:
                self.error = str(exc) or type(exc).__name__
                return 0
        view[:len(data)] = data
        self.count += len(data)
        return len(data)


class _Inflated(_Tolerant):
    """The output of a decompressor, stopped (like a read error) past the limits."""

    def __init__(self, read: Callable[[int], bytes], compressed: _Tolerant,
                 limits: Limits) -> None:
        super().__init__(read)
        self._compressed, self._limits = compressed, limits
        self.total = 0

    def readinto(self, buffer: Any) -> int:
        count = super().readinto(buffer)
        self.total += count
        limits = self._limits
        if self.total > limits.max_decompressed:
            self.error = (f"decompresses to more than {_size(limits.max_decompressed)} "
                          "(raise with --max-decompressed)")
        elif (self.total > limits.ratio_floor
              and self.total > limits.max_ratio * max(self._compressed.count, 1)):
            self.error = (f"inflates more than {limits.max_ratio} times: not an ordinary trail "
                          "(raise with --max-ratio)")
        return count


def _size(count: int) -> str:
    for unit, scale in (("GiB", _GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"
