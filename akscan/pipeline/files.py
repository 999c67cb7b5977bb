"""Scan files and directories: list them, then read and scan each (see `content`).

Most of a file's scan holds the GIL (prefilter, decoding, filters), so threads gave no
speed-up; worker processes each get a copy of the engine once and take files in batches (see
`workers` for signals and workers that die). Standard input and FIFOs or devices the user
names are read in this process, as they come.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from akscan import git
from akscan.config import DEFAULT_MAX_FILE_SIZE
from akscan.detect.engine import Engine
from akscan.model import Finding
from akscan.pipeline import workers
from akscan.pipeline.binary import scan_printable_stream
from akscan.pipeline.content import (  # noqa: F401 (scan_stream, member_suffix: re-exported)
    ContentResult,
    limits_for,
    member_suffix,
    scan_bytes,
    scan_stream,
)
from akscan.sources import archives
from akscan.sources.decode import is_binary_head
from akscan.sources.files import FileItem, WalkStats, compile_patterns, display_path, walk_names
from akscan.sources.reading import NotReadable, open_checked, open_stream, read_fd, read_upto

STDIN = "-"
_HEAD = 8192


@dataclass
class ScanStats:
    files_scanned: int = 0
    bytes_scanned: int = 0
    binary: int = 0  # binary files whose printable runs were scanned
    too_large: int = 0
    ignored: int = 0
    symlinks_outside: int = 0
    special: int = 0
    seconds: float = 0.0
    jobs_capped: tuple[int, int] | None = None  # (asked, used) when -j was over the CPUs
    errors: list[str] = field(default_factory=list)  # the scan is incomplete because of these
    notes: list[str] = field(default_factory=list)  # verbose-only explanations of skips


@dataclass(frozen=True)
class ScanOptions:
    excludes: Sequence[str] = ()
    gitignore: bool = True
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    jobs: int = 1
    stdin_name: str = "stdin"  # how findings in standard input (`-`) are named


def scan_paths(
    paths: Sequence[str], engine: Engine, options: ScanOptions,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Finding], ScanStats]:
    """Scan files and directories (`-`: standard input). A single directory's findings are
    relative to it.

    Directories are walked as their files are scanned, never listed whole first: memory does
    not grow with the number of files, and worker processes start at once."""
    started = time.monotonic()
    stats = ScanStats()
    walk_stats = WalkStats()
    findings: list[Finding] = []

    def handle(result: ContentResult) -> None:
        findings.extend(result.findings)
        stats.errors.extend(result.errors)
        stats.notes.extend(result.notes)
        if result.too_large:
            stats.too_large += 1
        elif not result.errors or result.findings or result.scanned_bytes:
            stats.files_scanned += 1
            stats.bytes_scanned += result.scanned_bytes
            stats.binary += result.binary
        if on_progress is not None:
            on_progress(stats.files_scanned)

    # Files with more names than one (hard links), by (device, inode): each is reported
    # at the first name scanned (the walk keeps nothing per file; see walk_names).
    multiple: set[tuple[int, int]] = set()

    def handle_once(result: ContentResult, key: tuple[int, int] | None) -> None:
        if key is not None:
            if key in multiple:
                return
            multiple.add(key)
        handle(result)

    def handle_counted(counted: _Counted) -> None:
        stats.files_scanned += counted.files
        stats.bytes_scanned += counted.size
        for result, key in counted.results:
            handle_once(result, key)

    roots, streams, named = _classify(paths, options, walk_stats)
    for item in streams:
        handle(scan_stream_item(item, engine, options.max_file_size))
    work = _work(roots, named, options, walk_stats, stats.notes)
    if len(paths) > 1:
        work = _unique(work, roots)
    jobs = _jobs(options.jobs, stats)
    head: list[Work] = []
    worth = False
    if jobs > 1:
        head, worth = _head(work, roots)
    if jobs <= 1 or not worth:
        for one in itertools.chain(head, work):
            handle_once(*_scan_work(one, roots, engine, options.max_file_size))
    else:
        _scan_in_processes(itertools.chain(head, work), roots, engine, options.max_file_size,
                           jobs, stats, handle_counted)
    stats.errors[:0] = walk_stats.errors
    stats.ignored = walk_stats.ignored
    stats.symlinks_outside = walk_stats.symlinks_outside
    stats.special = walk_stats.special
    stats.seconds = time.monotonic() - started
    findings.sort(key=Finding.sort_key)
    return findings, stats


def _jobs(asked: int, stats: ScanStats) -> int:
    """More worker processes than CPUs only add memory and switching (and `-j 100000`, from a
    scanned repository's settings, say, would start a process storm): capped, and said."""
    cpus = workers.usable_cpus()
    if asked > cpus:
        stats.jobs_capped = (asked, cpus)
        return cpus
    return asked


@dataclass(frozen=True)
class _Root:
    """Where listed files come from: a walked directory, or (`fs` None) the command line."""

    fs: str | None  # the directory as named, which listed names are relative to
    prefix: str  # `fs` and a separator: a listed file's path is prefix + name
    real: str | None  # its real path, which its files must stay inside when opened
    dev: int  # its device, for the inodes the listing gave
    single: bool  # the only path scanned: findings are shown relative to it


# One file to scan: (index of its _Root, its name: relative to the root, or as named on the
# command line; whether it is a symbolic link to follow; its inode from the listing, or 0).
# Tuples, not objects: a walk of a million files sends a million of them to the workers.
Work = tuple[int, str, bool, int]
_NAMED = 0  # the _Root of files named on the command line


def _classify(
    paths: Sequence[str], options: ScanOptions, walk_stats: WalkStats,
) -> tuple[list[_Root], list[FileItem], list[tuple[int, str]]]:
    """The directories to walk (as roots), the streams to read in this process, and the files
    named (each with its position among `paths`) or the index of the root to walk there."""
    single_dir = _single_dir(paths)
    excluded = compile_patterns(options.excludes, "exclude") if options.excludes else None
    roots = [_Root(None, "", None, 0, False)]
    streams: list[FileItem] = []
    named: list[tuple[int, str]] = []
    for path in paths:
        if path == STDIN:
            streams.append(FileItem(STDIN, display_path(options.stdin_name), 0, stream=True))
            continue
        if os.path.isdir(path):
            real = os.path.realpath(path)
            try:
                dev = os.stat(real).st_dev
            except OSError:
                dev = 0  # the walk says why it cannot list it
            named.append((len(roots), path))
            roots.append(_Root(path, os.path.join(path, ""), real, dev, single_dir))
            continue
        shown = display_path(os.path.normpath(path))
        # Named files (what pre-commit passes) still obey the user's excludes.
        if excluded is not None and excluded.match_file(shown):
            walk_stats.ignored += 1
            continue
        try:
            st = os.stat(path)
        except OSError as exc:
            walk_stats.errors.append(f"{shown}: {exc.strerror or exc}")
            continue
        if stat.S_ISREG(st.st_mode):
            named.append((_NAMED, path))
        elif stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            # Named by the user (`/dev/stdin`, `<(cmd)`): read as it comes, as `cat` would.
            streams.append(FileItem(path, shown, 0, stream=True))
        else:
            walk_stats.special += 1
            walk_stats.errors.append(f"{shown}: a socket or other special file cannot be "
                                     "scanned")
    return roots, streams, named


def _work(roots: Sequence[_Root], named: Sequence[tuple[int, str]], options: ScanOptions,
          walk_stats: WalkStats, notes: list[str]) -> Iterator[Work]:
    """Every file to scan, in the order the paths were named, walking directories lazily."""
    for index, path in named:
        if index == _NAMED:
            yield _NAMED, path, True, 0
            continue
        tracked = _tracked(path) if options.gitignore else frozenset()
        for name, link, ino in walk_names(path, options.excludes, options.gitignore,
                                          walk_stats, notes.append, tracked):
            yield index, name, link, ino


def _unique(work: Iterable[Work], roots: Sequence[_Root]) -> Iterator[Work]:
    """Each file once, however many named paths reach it (`a.env ./a.env`, `dir dir/a.env`, a
    symlinked spelling): otherwise every finding would be reported twice (issue 11)."""
    seen: set[str] = set()
    for one in work:
        key = os.path.realpath(_fs_path(one, roots))
        if key not in seen:
            seen.add(key)
            yield one


def _fs_path(one: Work, roots: Sequence[_Root]) -> str:
    return roots[one[0]].prefix + one[1]


def _display(one: Work, roots: Sequence[_Root]) -> str:
    root = roots[one[0]]
    if root.fs is None:
        return display_path(os.path.normpath(one[1]))
    if root.single:
        return display_path(one[1])
    return display_path(os.path.normpath(os.path.join(root.fs, one[1])))


def _scan_work(one: Work, roots: Sequence[_Root], engine: Engine,
               max_file_size: int) -> tuple[ContentResult, tuple[int, int] | None]:
    root = roots[one[0]]
    return _scan_path(_fs_path(one, roots), _display(one, roots), root.real, one[2], one[3],
                      root.dev, engine, max_file_size)


# Starting workers and ending them costs about 15 ms, which two workers win back from about
# 2000 small files (some 25 us each) or 16 MB: less stays in-process (a pre-commit run too),
# so that -j N is not slower than -j 1.
_PARALLEL_MIN_FILES = 2000
_PARALLEL_MIN_BYTES = 16 * 1024 * 1024
_BATCH = 128
_worker: tuple[Engine, int, Sequence[_Root]] | None = None


def _head(work: Iterator[Work], roots: Sequence[_Root]) -> tuple[list[Work], bool]:
    """The first files to scan, up to what makes worker processes worth starting (a bounded
    look ahead: the rest of the walk is not waited for), and whether it was reached."""
    head: list[Work] = []
    size = 0
    for one in work:
        head.append(one)
        with contextlib.suppress(OSError):  # its scan says why
            size += os.stat(_fs_path(one, roots)).st_size
        if len(head) >= _PARALLEL_MIN_FILES or size >= _PARALLEL_MIN_BYTES:
            return head, True
    return head, False


@dataclass
class _Counted:
    """What a worker's batch gave: the plain files counted, the rest in full."""

    files: int = 0
    size: int = 0
    # each with the file's (device, inode) when it has more names than one
    results: list[tuple[ContentResult, tuple[int, int] | None]] = field(default_factory=list)


def _scan_in_processes(work: Iterator[Work], roots: Sequence[_Root], engine: Engine,
                       max_file_size: int, jobs: int, stats: ScanStats,
                       handle: Callable[[_Counted], None]) -> None:
    def handle_batch(results: list[_Counted]) -> None:
        for counted in results:
            handle(counted)

    def retried(batch: list[Work]) -> None:
        stats.notes.append(workers.retried_note(len(batch), "file(s)"))

    def lost(batch: list[Work]) -> None:
        stats.errors.extend(workers.lost_error(_display(one, roots)) for one in batch)

    def batches() -> Iterator[list[Work]]:
        while batch := list(itertools.islice(work, _BATCH)):
            yield batch

    workers.run_batches(_scan_batch, batches(), jobs, _start_worker,
                        (engine, max_file_size, roots), handle_batch, lost, retried)


def _start_worker(engine: Engine, max_file_size: int, roots: Sequence[_Root]) -> None:
    global _worker
    _worker = (engine, max_file_size, roots)


def _scan_batch(batch: list[Work]) -> list[_Counted]:
    """Scan a batch in a worker. A file that gave nothing but its size (most) travels back
    as two counts, not as a result object."""
    assert _worker is not None, "worker used before _start_worker"
    engine, max_file_size, roots = _worker
    counted = _Counted()
    for one in batch:
        result, key = _scan_work(one, roots, engine, max_file_size)
        if key is not None or result.findings or result.errors or result.notes \
                or result.too_large:
            counted.results.append((result, key))
        else:
            counted.files += 1
            counted.size += result.scanned_bytes
    return [counted]


def report_base(paths: Sequence[str]) -> str:
    """The directory that finding paths are relative to: the one scanned directory, or `.`."""
    return os.path.abspath(paths[0] if _single_dir(paths) else os.curdir)


def _single_dir(paths: Sequence[str]) -> bool:
    return len(paths) == 1 and paths[0] != STDIN and os.path.isdir(paths[0])


def _tracked(directory: str) -> frozenset[str]:
    """What git tracks under `directory`, when it is in a git work tree (git is run only
    then)."""
    here = os.path.realpath(directory)
    while not os.path.lexists(os.path.join(here, ".git")):
        parent = os.path.dirname(here)
        if parent == here:
            return frozenset()
        here = parent
    return git.tracked_paths(directory) or frozenset()


def scan_file(item: FileItem, engine: Engine, max_file_size: int) -> ContentResult:
    """Open a listed file safely (see `reading`) and scan it. The size limit applies to what is
    held whole (text, archives); a binary file of any size has its printable runs scanned,
    read in pieces."""
    return _scan_path(item.fs_path, item.display, item.root, item.link, item.ino, item.dev,
                      engine, max_file_size)[0]


def _scan_path(fs_path: str, display: str, root: str | None, link: bool, ino: int, dev: int,
               engine: Engine, max_file_size: int
               ) -> tuple[ContentResult, tuple[int, int] | None]:
    """The scan of one file, and its (device, inode) when it has more names than one."""
    try:
        fd, st = open_checked(fs_path, root, link, ino, dev)
    except NotReadable as exc:
        return ContentResult([], errors=[f"{display}: {exc}"]), None
    # Only a walk's files: files named on the command line are each scanned as named.
    key = (st.st_dev, st.st_ino) if st.st_nlink > 1 and root is not None else None
    try:
        if st.st_size > max_file_size:
            with os.fdopen(fd, "rb", buffering=0) as handle:
                fd = -1  # the handle closes it
                return scan_oversized(handle, display, engine, max_file_size, st.st_size), key
        data = read_fd(fd, st.st_size, max_file_size)
    except OSError as exc:
        return ContentResult([], errors=[f"{display}: cannot read: {exc.strerror or exc}"]), key
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_file_size:  # grew since it was listed
        return _too_large(display, max_file_size, len(data)), key
    return scan_bytes(data, display, engine, limits=limits_for(max_file_size)), key


def scan_oversized(handle: BinaryIO, display: str, engine: Engine, max_file_size: int,
                   size: int) -> ContentResult:
    """Content over --max-file-size, read from `handle`: the limit is for text, held whole;
    binary content is scanned for printable runs piece by piece, in bounded memory (issue 11).
    Files and history blobs alike."""
    head = read_upto(handle, _HEAD, _HEAD)
    if archives.kind(head) is not None or not is_binary_head(head):
        return _too_large(display, max_file_size, size)
    result, scanned = scan_printable_stream(handle, head, display, engine)
    return ContentResult(result.findings, scanned_bytes=scanned, binary=True,
                         errors=result.warnings, notes=[
                             f"{display}: binary, {size} bytes; its printable runs were "
                             "scanned with the high-precision rules"])


def _too_large(display: str, max_file_size: int, size: int) -> ContentResult:
    return ContentResult([], too_large=True, errors=[
        f"{display}: {size} bytes is over the size limit of {max_file_size} bytes; not "
        "scanned (raise --max-file-size to include it)"])


def scan_stream_item(item: FileItem, engine: Engine, max_file_size: int) -> ContentResult:
    """Standard input or a named FIFO or device: read to its end, up to the size limit."""
    try:
        with open_stream(item) as handle:
            data = read_upto(handle, 0, max_file_size)
    except NotReadable as exc:
        return ContentResult([], errors=[f"{item.display}: {exc}"])
    except OSError as exc:
        return ContentResult([], errors=[f"{item.display}: cannot read: {exc.strerror or exc}"])
    if len(data) > max_file_size:
        result = scan_bytes(data[:max_file_size], item.display, engine,
                            limits=limits_for(max_file_size))
        result.errors.append(f"{item.display}: longer than the size limit of {max_file_size} "
                             "bytes; only that much was read and scanned")
        return result
    return scan_bytes(data, item.display, engine, limits=limits_for(max_file_size))
