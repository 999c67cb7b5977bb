"""Parsed rule files, kept with their text so that the next run need not parse TOML again
(and, through `directory` and `keep`, other things made from the rules: see caseless).

A commit hook runs akscan once per commit, and importing the TOML parser and parsing the
built-in rules was a tenth of its run (issue 14). An entry holds a rule file's exact text and,
as JSON, the data that parsing it gave; it is used only for that very text (compared whole,
along with the Python version whose parser made it), so an entry never stands for a file that
changed, and data read back goes through the same checks as freshly parsed data. Anything
wrong with the cache (no home, a read-only or full disk, a damaged entry) only means parsing
again. Entries are named by length and CRC-32 of the text: cheap to compute, and a collision
only costs a parse.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import zlib
from pathlib import Path
from typing import Any

_FORMAT = f"akscan-rules-1 python-{sys.version_info[0]}.{sys.version_info[1]}"


def directory(kind: str = "rules") -> Path | None:
    """$XDG_CACHE_HOME/akscan/KIND, else ~/.cache/akscan/KIND; None without either."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG rule: a relative path is ignored
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "akscan" / kind


def _name(text: str) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    return f"{len(raw)}-{zlib.crc32(raw):08x}"


def get(text: str) -> dict[str, Any] | None:
    """What parsing `text` gave before, or None."""
    folder = directory()
    if folder is None:
        return None
    raw = read(folder / f"{_name(text)}.json", _MAX_ENTRY)
    if raw is None:
        return None
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if (not isinstance(entry, dict) or entry.get("format") != _FORMAT
            or entry.get("text") != text or not isinstance(entry.get("data"), dict)):
        return None
    data: dict[str, Any] = entry["data"]
    return data


def put(text: str, data: dict[str, Any]) -> None:
    """Keep what parsing `text` gave; written whole (a temporary file renamed) or not at all."""
    folder = directory()
    if folder is None:
        return
    try:
        payload = json.dumps({"format": _FORMAT, "text": text, "data": data})
    except (TypeError, ValueError, RecursionError):
        return  # a value JSON cannot hold (a TOML date): parsed again next time
    keep(folder / f"{_name(text)}.json", payload.encode("utf-8"))


# Larger entries are not read (a built-in rules file's is about 60 KB, a keyword database's
# 250 KB): whatever is there, a cache costs a bounded read.
_MAX_ENTRY = 16 * 1024 * 1024


def read(path: Path, limit: int = _MAX_ENTRY) -> bytes | None:
    """A cache entry's bytes; None unless it is a regular file of at most `limit` bytes that
    can be read (never waiting on a FIFO put where an entry should be)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def keep(path: Path, data: bytes) -> None:
    """Write a cache entry whole (a temporary file renamed) or not at all: a reader never
    sees half of one, and a failure (read-only, full disk) only means no entry."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
