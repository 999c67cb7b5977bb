"""Reading the small files users hand akscan (settings, rules, baselines, reports), bounded.

A settings file or baseline can be `/dev/zero`, a FIFO, gigabytes of random bytes or JSON nested
100,000 deep (issue 12): each is a one-line error, after reading at most `limit` bytes.
"""

from __future__ import annotations

import json
import os
from typing import Any

from akscan.errors import AkscanError
from akscan.terminal import escape_path

DEFAULT_LIMIT = 64 * 1024 * 1024


class UserFileError(AkscanError):
    """A user-supplied file that cannot be read as the text it should be."""


def read_bytes(path: str | os.PathLike[str], what: str, limit: int = DEFAULT_LIMIT) -> bytes:
    """At most `limit` bytes of `path`; more is an error, never a silent cut."""
    shown = escape_path(os.fspath(path))
    try:
        # Non-blocking, so a FIFO with no writer is an error rather than a hang.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UserFileError(f"{shown}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise UserFileError(f"{shown}: cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UserFileError(f"{shown}: {what} is larger than {limit // (1024 * 1024)} MB; "
                            "not read")
    return data


def read_text(path: str | os.PathLike[str], what: str, limit: int = DEFAULT_LIMIT) -> str:
    """The UTF-8 text of `path` (a BOM is dropped), bounded as `read_bytes`."""
    data = read_bytes(path, what, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserFileError(f"{escape_path(os.fspath(path))}: {what} is not UTF-8 text "
                            f"(byte {exc.start})") from None


def parse_json(text: str) -> Any:
    """`json.loads`, with nesting too deep for the parser reported as invalid JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
