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
    fd, st = open_checked(item.fs_path, item.root, item.link, item.ino, item.dev)
    return os.fdopen(fd, "rb", buffering=0), st


_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
    | getattr(os, "O_NOCTTY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_checked(fs_path: str, root: str | None, link: bool, ino: int = 0,
                 dev: int = 0) -> tuple[int, os.stat_result]:
    """`open_listed` of a file given by its parts, as an open descriptor (the caller closes
    it). `ino` and `dev`, when known, are those the listing saw: a file opened with them is
    the one listed, which spares asking the kernel for its path."""
    try:
        fd = os.open(fs_path, _FLAGS if link else _FLAGS | _NOFOLLOW)
    except OSError as exc:
        if not link and os.path.islink(fs_path):
            raise NotReadable("became a symbolic link after it was listed; not followed"
                              ) from None
        raise NotReadable(f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotReadable("is no longer a regular file (a FIFO or device swapped in "
                              "after it was listed?); not read")
        if root is not None and not (ino and st.st_ino == ino and st.st_dev == dev):
            real = _real_path(fd)
            if real is not None and not inside(real, root):
                raise NotReadable("now leads out of the scan root (a link swapped in after "
                                  "it was listed?); not read")
        return fd, st
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


def read_fd(fd: int, expected: int, cap: int) -> bytes:
    """`read_upto` of an open descriptor: the common case, a file read whole in one call,
    without a file object around it."""
    want = min(expected, cap) + 1
    first = os.read(fd, want)
    if len(first) == want <= cap or 0 < len(first) < want - 1:
        # It grew since its fstat, or the read was short (over 2 GB at once): read on.
        return _read_on(fd, first, cap)
    return first


def _read_on(fd: int, first: bytes, cap: int) -> bytes:
    parts = [first]
    total = len(first)
    while total <= cap:
        part = os.read(fd, min(_PIECE, cap + 1 - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


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
