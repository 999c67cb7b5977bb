"""Archives: the files inside zip (jar, war, whl, apk, ...), tar, and gzip, bzip2 or xz
compressed tar, read in memory, recognised by their first bytes whatever their names (issue 3).

Nothing is extracted to disk, so a member path cannot escape anywhere; names that are absolute
or climb with `..` are still shown cleaned up, so a report never points outside the archive.
Zip bombs are bounded: every member and the total read from one outer archive (nested ones
included) have a size budget, a member that inflates more than `max_ratio` times is not read,
and so is anything past `max_members` members. What is not read is reported, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

ZIP = "zip"
TAR = "tar"
GZIP = "gzip"
BZIP2 = "bzip2"
XZ = "xz"
TAR_MAGIC_AT = 257
_MIB = 1024 * 1024


def kind(data: bytes) -> str | None:
    """Which archive `data` is, by its magic bytes, or None."""
    # Most contents start with none of the magics: one test instead of five (issue 14: this
    # runs for every blob of a history, 79,000 of them in the SDK's).
    if data.startswith(_MAGICS) and (found := _by_magic(data)) is not None:
        return found
    # (a v7 tar header is read from the first 512 bytes only: no copy of them is needed)
    if data.startswith(b"ustar", TAR_MAGIC_AT) or looks_like_v7_tar(data):
        return TAR
    if zip_start(data) is not None:
        return ZIP
    return None


_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _by_magic(data: bytes) -> str | None:
    """The compressed or zip archive whose magic `data` starts with, or None (a text that
    happens to start with BZh)."""
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a local file header; an empty zip
        return ZIP
    if data.startswith(b"\x1f\x8b"):
        return GZIP
    # "BZh" and a block size, then the magic of a block (pi) or of the end (sqrt pi): a text
    # that happens to start with BZh9 is no archive.
    if data.startswith(b"BZh") and data[3:4].isdigit() and data[4:10] in (
            b"1AY&SY", b"\x17rE8P\x90"):
        return BZIP2
    if data.startswith(b"\xfd7zXZ\x00"):
        return XZ
    return None


# The end of central directory record: its signature, 18 bytes of fields, a comment of up to
# 64 KiB. Only the tail is searched, so no file pays for more than that.
_EOCD = b"PK\x05\x06"
_EOCD_SPAN = 22 + 0xFFFF


def zip_start(data: bytes) -> int | None:
    """Where a zip with something before it (a self-extracting stub, a zip appended to
    another file) starts, if `data` ends with one; None otherwise."""
    tail = max(0, len(data) - _EOCD_SPAN)
    # A signature's third byte, looked for first with memchr: text holds none, and this costs
    # a third of the search for the signature itself (0.044 -> 0.013 s over flask's blobs).
    if data.find(b"\x05", tail + 2) < 0:
        return None
    end = data.rfind(_EOCD, tail)
    if end < 0 or len(data) - end < 22:
        return None
    if int.from_bytes(data[end + 20:end + 22], "little") != len(data) - end - 22:
        return None  # the comment length must account for the rest: not a chance match
    start = data.find(b"PK\x03\x04")
    return start if 0 <= start < end else None


def looks_like_v7_tar(header: bytes) -> bool:
    """An old (v7) tar header, which has no `ustar` magic: a name, octal fields, and the
    header checksum right (a text file does not pass this by chance). Only the first 512
    bytes of `header` are read."""
    if len(header) < 512 or header[0] in (0, 0x20):
        return False
    field = header[148:156].rstrip(b" \0")
    if not field or not field.isdigit() or b"8" in field or b"9" in field:
        return False
    stored = int(field, 8)
    unsigned = sum(header[:148]) + 8 * 0x20 + sum(header[156:512])
    return stored == unsigned and header[100:107].strip(b" \0").isdigit()


class Limits(NamedTuple):
    max_depth: int = 3  # archives inside archives inside archives
    max_members: int = 10_000  # per outer archive, nested ones included
    max_total: int = 512 * _MIB  # bytes read from one outer archive, nested ones included
    max_member: int = 50 * _MIB  # one member (akscan's --max-file-size)
    max_ratio: int = 100  # uncompressed / compressed, for what inflates past `ratio_floor`
    ratio_floor: int = 8 * _MIB


DEFAULT_LIMITS = Limits()


class Budget:
    """What is left to read of one outer archive and the archives nested in it."""

    def __init__(self, limits: Limits) -> None:
        self.bytes = limits.max_total
        self.members = limits.max_members


class ArchiveError(Exception):
    """The archive is corrupt or cannot be read (the message says why)."""


class LimitReached(Exception):
    """A limit stops the reading of this archive (the message says which)."""


class Member(NamedTuple):
    name: str  # cleaned: relative, '/'-separated, printable
    data: bytes | None  # None: not read, `problem` says why
    problem: str | None = None
    renamed_from: str | None = None  # the name as stored, when it had to be cleaned
    plain: bool = False  # its kind already looked at: no archive


def members(data: bytes, archive_kind: str, name: str, limits: Limits,
            budget: Budget) -> Iterator[Member]:
    """The regular files in an archive of `archive_kind` (see `kind`); `name` is the archive's
    own file name, which names the content of a compressed file that is not a tar."""
    # The readers import zipfile, tarfile, lzma...: only a scan that meets an archive pays.
    from akscan.sources.archive_readers import read_members

    yield from read_members(data, archive_kind, name, limits, budget)
