"""Scan files and directories: list them, then read and scan each (see `content`).

Most of a file's scan holds the GIL (prefilter, decoding, filters), so threads gave no
speed-up; worker processes each get a copy of the engine once and take files in batches (see
`workers` for signals and workers that die). Standard input and FIFOs or devices the user
names are read in this process, as they come.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
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
from akscan.sources.files import FileItem, WalkStats, compile_patterns, display_path, walk
from akscan.sources.reading import NotReadable, open_listed, open_stream, read_upto

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
    relative to it."""
    started = time.monotonic()
    stats = ScanStats()
    walk_stats = WalkStats()
    items = list(_items(paths, options, walk_stats, stats.notes))
    if len(paths) > 1:
        items = _unique(items)
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

    for item in (i for i in items if i.stream):
        handle(scan_stream_item(item, engine, options.max_file_size))
    files = [i for i in items if not i.stream]
    jobs = _jobs(options.jobs, stats)
    if jobs <= 1 or not _worth_processes(files):
        for item in files:
            handle(scan_file(item, engine, options.max_file_size))
    else:
        _scan_in_processes(files, engine, options.max_file_size, jobs, stats, handle)
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


# Starting workers costs tens of milliseconds: a pre-commit run over a few files stays in-process.
_PARALLEL_MIN_FILES = 500
_PARALLEL_MIN_BYTES = 8 * 1024 * 1024
_BATCH = 32
_worker: tuple[Engine, int] | None = None


def _worth_processes(items: Sequence[FileItem]) -> bool:
    return len(items) >= _PARALLEL_MIN_FILES or sum(i.size for i in items) >= _PARALLEL_MIN_BYTES


def _scan_in_processes(files: Sequence[FileItem], engine: Engine, max_file_size: int,
                       jobs: int, stats: ScanStats,
                       handle: Callable[[ContentResult], None]) -> None:
    def handle_batch(results: list[ContentResult]) -> None:
        for result in results:
            handle(result)

    def retried(batch: list[FileItem]) -> None:
        stats.notes.append(f"a worker process died (killed by the system or a signal); its "
                           f"{len(batch)} file(s) were scanned again in a new one")

    def lost(batch: list[FileItem]) -> None:
        stats.errors.extend(f"{item.display}: not scanned: the worker process scanning it "
                            "died, also when retried alone (out of memory?)" for item in batch)

    batches = (list(files[i:i + _BATCH]) for i in range(0, len(files), _BATCH))
    workers.run_batches(_scan_batch, batches, jobs, _start_worker, (engine, max_file_size),
                        handle_batch, lost, retried)


def _start_worker(engine: Engine, max_file_size: int) -> None:
    global _worker
    _worker = (engine, max_file_size)


def _scan_batch(items: list[FileItem]) -> list[ContentResult]:
    assert _worker is not None, "worker used before _start_worker"
    return [scan_file(item, *_worker) for item in items]


def report_base(paths: Sequence[str]) -> str:
    """The directory that finding paths are relative to: the one scanned directory, or `.`."""
    return os.path.abspath(paths[0] if _single_dir(paths) else os.curdir)


def _single_dir(paths: Sequence[str]) -> bool:
    return len(paths) == 1 and paths[0] != STDIN and os.path.isdir(paths[0])


def _unique(items: Sequence[FileItem]) -> list[FileItem]:
    """Each file once, however many named paths reach it (`a.env ./a.env`, `dir dir/a.env`, a
    symlinked spelling): otherwise every finding would be reported twice (issue 11)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = os.path.realpath(item.fs_path)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _items(
    paths: Sequence[str], options: ScanOptions, walk_stats: WalkStats, notes: list[str]
) -> Iterator[FileItem]:
    single_dir = _single_dir(paths)
    excluded = compile_patterns(options.excludes, "exclude") if options.excludes else None
    for path in paths:
        if path == STDIN:
            yield FileItem(STDIN, display_path(options.stdin_name), 0, stream=True)
            continue
        if os.path.isdir(path):
            tracked = _tracked(path) if options.gitignore else frozenset()
            for item in walk(path, options.excludes, options.gitignore, walk_stats, notes.append,
                             tracked):
                if not single_dir:
                    shown = display_path(os.path.normpath(os.path.join(path, item.display)))
                    item = FileItem(item.fs_path, shown, item.size, item.root, item.link)
                yield item
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
            yield FileItem(path, shown, st.st_size, link=True)
        elif stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            # Named by the user (`/dev/stdin`, `<(cmd)`): read as it comes, as `cat` would.
            yield FileItem(path, shown, 0, stream=True)
        else:
            walk_stats.special += 1
            walk_stats.errors.append(f"{shown}: a socket or other special file cannot be "
                                     "scanned")


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
    try:
        handle, st = open_listed(item)
    except NotReadable as exc:
        return ContentResult([], errors=[f"{item.display}: {exc}"])
    with handle:
        try:
            if st.st_size > max_file_size:
                return scan_oversized(handle, item.display, engine, max_file_size, st.st_size)
            data = read_upto(handle, st.st_size, max_file_size)
        except OSError as exc:
            return ContentResult([], errors=[f"{item.display}: cannot read: "
                                             f"{exc.strerror or exc}"])
    if len(data) > max_file_size:  # grew since it was listed
        return _too_large(item.display, max_file_size, len(data))
    return scan_bytes(data, item.display, engine, limits=limits_for(max_file_size))


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
