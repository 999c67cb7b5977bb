"""Opening and reading the files a walk listed, safely (issues 12 and 15).

Between the listing and the opening, a file can be swapped for a FIFO (whose opening or reading
would block for ever), a device, or a symbolic link out of the scan root. So files are opened
non-blocking, without following a link that was not listed as one, and the open handle is
checked: a regular file, whose real path is still inside the scan root. Reads are bounded by
the size the handle reports, never by the size limit alone (`read(100 GB)` preallocates).
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO

from akscan.sources.files import FileItem, inside

_PIECE = 1 << 20


class NotReadable(Exception):
    """The file cannot be read as listed (the message says why, for a one-line warning)."""


def open_listed(item: FileItem) -> tuple[BinaryIO, os.stat_result]:
    """The open file of a listed (or named) regular file and its fstat; NotReadable if it is
    no longer a regular file inside the scan root."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not item.link:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(item.fs_path, flags | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if not item.link and os.path.islink(item.fs_path):
            raise NotReadable("became a symbolic link after it was listed; not followed"
                              ) from None
        raise NotReadable(f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotReadable("is no longer a regular file (a FIFO or device swapped in "
                              "after it was listed?); not read")
        if item.root is not None:
            real = _real_path(fd)
            if real is not None and not inside(real, item.root):
                raise NotReadable("now leads out of the scan root (a link swapped in after "
                                  "it was listed?); not read")
        return os.fdopen(fd, "rb", buffering=0), st
    except BaseException:
        os.close(fd)
        raise


def _real_path(fd: int) -> str | None:
    """The path the kernel holds for an open file, where it says (Linux); else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def read_upto(handle: BinaryIO, expected: int, cap: int) -> bytes:
    """At most `cap + 1` bytes (so that more than `cap` shows), reading no more than the
    `expected` size in one call; a file that grows is read on in pieces."""
    first = handle.read(min(expected, cap) + 1)
    if len(first) <= expected or len(first) > cap:
        return first
    parts = [first]
    total = len(first)
    while total <= cap:
        part = handle.read(min(_PIECE, cap + 1 - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def open_stream(item: FileItem) -> BinaryIO:
    """Standard input, or a FIFO or device the user named, opened to be read as it comes."""
    if item.fs_path == "-":
        try:
            return os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
        except (OSError, ValueError, AttributeError) as exc:  # closed, or not a real file
            raise NotReadable(f"standard input cannot be read: {exc}") from None
    try:
        return open(item.fs_path, "rb", buffering=0)
    except OSError as exc:
        raise NotReadable(f"cannot read: {exc.strerror or exc}") from None
