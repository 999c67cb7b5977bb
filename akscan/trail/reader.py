"""Read JSON records from ActionTrail exports, in constant memory, whatever their shape.

SLS exports and SLS-to-OSS shipping write one JSON object per line; ActionTrail's own OSS
delivery writes gzip files of JSON; people also save arrays, `{"Records": [...]}` documents
and pretty-printed objects. Gzip is recognised by its magic bytes, not the file name. A record
that does not parse is counted (with the line it starts on) and skipped; reading goes on.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
MAX_RECORD = 16 << 20  # an event is a few KB; anything larger is not one
# Containers of events: OSS delivery ("Records") and the LookupEvents API response ("Events").
CONTAINER_KEYS = ("Records", "Events", "records", "events")
_CONTAINER_START = re.compile(r'\s*\{\s*"(?:Records|Events|records|events)"\s*:\s*\[')
_WS = re.compile(r"[\s,]*")
_DECODER = json.JSONDecoder()


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


def read_records(raw: BinaryIO, stats: ReadStats) -> Iterator[tuple[dict[str, Any], int]]:
    """Every JSON object in `raw`, unpacked from arrays and containers, with its line number."""
    head = raw.read(2)
    source = _Tolerant(lambda size: raw.read(size), head)
    if head == GZIP_MAGIC:
        gz = gzip.GzipFile(fileobj=io.BufferedReader(source, CHUNK), mode="rb")
        source = _Tolerant(gz.read1)
    text = io.TextIOWrapper(io.BufferedReader(source, CHUNK), encoding="utf-8-sig",
                            errors="replace")
    for value, line in _values(text, stats):
        yield from _unpack(value, line, stats)
    stats.error = source.error


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


def _values(text: TextIO, stats: ReadStats) -> Iterator[tuple[Any, int]]:
    head = text.read(CHUNK)
    start = head.lstrip()[:1]
    if not start:
        return
    if start == "[" or _CONTAINER_START.match(head):
        yield from _Document(head, text, stats).values()
        return
    first = len(head) - len(head.lstrip())
    newline = head.find("\n", first)
    if start == "{" and (newline < 0 or not _parses(head[first:newline])):
        # A pretty-printed object (or a one-line file longer than a chunk): parse by value.
        yield from _Document(head, text, stats).values()
        return
    yield from _lines(head, text, stats)


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _lines(head: str, text: TextIO, stats: ReadStats) -> Iterator[tuple[Any, int]]:
    """JSON lines: each line one value; a line that does not parse is one malformed record."""
    number = 0
    for line in _split_lines(head, text, stats):
        number += 1
        if line is None:
            stats.bad(number)
            continue
        if not line or line.isspace():
            continue
        try:
            yield json.loads(line), number
        except (ValueError, RecursionError):
            stats.bad(number)


def _split_lines(head: str, text: TextIO, stats: ReadStats) -> Iterator[str | None]:
    """The lines of `head` and then of `text`, without their newlines; None for an overlong line
    (read through and dropped, so that one line can never hold the whole file in memory)."""
    parts = head.split("\n")
    tail = parts.pop()
    for part in parts:
        yield part if len(part) < MAX_RECORD else None
    while True:
        line = text.readline(MAX_RECORD)
        if not line:
            break
        if tail:
            line, tail = tail + line, ""
        if line.endswith("\n"):
            yield line[:-1]
        elif len(line) >= MAX_RECORD:
            while line and not line.endswith("\n"):
                line = text.readline(CHUNK)
            yield None
        else:
            yield line  # the last line, without a newline
    if tail:
        yield tail


class _Document:
    """Values of a JSON document read chunk by chunk: the elements of a top-level array (or of a
    `{"Records": [...]}` container), or a sequence of top-level values."""

    def __init__(self, head: str, text: TextIO, stats: ReadStats) -> None:
        self.buf, self.pos, self.line = head, 0, 1
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
            except RecursionError:
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
        return len(data)
