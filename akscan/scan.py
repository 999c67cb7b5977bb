"""Scan files and directories: the file source feeding the engine, in parallel processes.

Most of a file's scan holds the GIL (prefilter, decoding, filters), so threads gave no speed-up;
worker processes each get a copy of the engine once and take files in batches.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import pathspec

from akscan.detect.engine import Engine
from akscan.model import Finding, Fragment
from akscan.sources.decode import BinaryContent, decode, needs_decoding_first
from akscan.sources.files import FileItem, WalkStats, display_path, walk


@dataclass
class ScanStats:
    files_scanned: int = 0
    bytes_scanned: int = 0
    binary_skipped: int = 0
    too_large: int = 0
    ignored: int = 0
    symlinks_outside: int = 0
    special: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # the scan is incomplete because of these
    notes: list[str] = field(default_factory=list)  # verbose-only explanations of skips


@dataclass(frozen=True)
class ScanOptions:
    excludes: Sequence[str] = ()
    gitignore: bool = True
    max_file_size: int = 50 * 1024 * 1024
    jobs: int = 1


@dataclass
class _FileResult:
    findings: list[Finding]
    scanned_bytes: int = 0
    binary: bool = False
    too_large: bool = False
    errors: list[str] = field(default_factory=list)


def scan_paths(
    paths: Sequence[str], engine: Engine, options: ScanOptions,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Finding], ScanStats]:
    """Scan files and directories. A single directory's findings are relative to it."""
    started = time.monotonic()
    stats = ScanStats()
    walk_stats = WalkStats()
    items = list(_items(paths, options, walk_stats, stats.notes))
    findings: list[Finding] = []

    def handle(result: _FileResult) -> None:
        findings.extend(result.findings)
        stats.errors.extend(result.errors)
        if result.binary:
            stats.binary_skipped += 1
        elif result.too_large:
            stats.too_large += 1
        elif not result.errors:
            stats.files_scanned += 1
            stats.bytes_scanned += result.scanned_bytes
        if on_progress is not None:
            on_progress(stats.files_scanned)

    if options.jobs <= 1 or not _worth_processes(items):
        for item in items:
            handle(scan_file(item, engine, options.max_file_size))
    else:
        with ProcessPoolExecutor(max_workers=options.jobs, initializer=_start_worker,
                                 initargs=(engine, options.max_file_size)) as pool:
            for result in pool.map(_scan_in_worker, items, chunksize=_BATCH):
                handle(result)
    stats.errors[:0] = walk_stats.errors
    stats.ignored = walk_stats.ignored
    stats.symlinks_outside = walk_stats.symlinks_outside
    stats.special = walk_stats.special
    stats.seconds = time.monotonic() - started
    findings.sort(key=Finding.sort_key)
    return findings, stats


# Starting workers costs tens of milliseconds: a pre-commit run over a few files stays in-process.
_PARALLEL_MIN_FILES = 500
_PARALLEL_MIN_BYTES = 8 * 1024 * 1024
_BATCH = 32
_worker: tuple[Engine, int] | None = None


def _worth_processes(items: Sequence[FileItem]) -> bool:
    return len(items) >= _PARALLEL_MIN_FILES or sum(i.size for i in items) >= _PARALLEL_MIN_BYTES


def _start_worker(engine: Engine, max_file_size: int) -> None:
    global _worker
    _worker = (engine, max_file_size)


def _scan_in_worker(item: FileItem) -> _FileResult:
    assert _worker is not None, "worker used before _start_worker"
    return scan_file(item, *_worker)


def report_base(paths: Sequence[str]) -> str:
    """The directory that finding paths are relative to: the one scanned directory, or `.`."""
    return os.path.abspath(paths[0] if _single_dir(paths) else os.curdir)


def _single_dir(paths: Sequence[str]) -> bool:
    return len(paths) == 1 and os.path.isdir(paths[0])


def _items(
    paths: Sequence[str], options: ScanOptions, walk_stats: WalkStats, notes: list[str]
) -> Iterator[FileItem]:
    single_dir = _single_dir(paths)
    excluded = pathspec.GitIgnoreSpec.from_lines(options.excludes) if options.excludes else None
    for path in paths:
        if os.path.isdir(path):
            for item in walk(path, options.excludes, options.gitignore, walk_stats, notes.append):
                if single_dir:
                    yield item
                else:
                    shown = display_path(os.path.normpath(os.path.join(path, item.display)))
                    yield FileItem(item.fs_path, shown, item.size)
        else:
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
            if not stat.S_ISREG(st.st_mode):
                walk_stats.special += 1
                notes.append(f"{shown}: not a regular file, skipped")
                continue
            yield FileItem(path, shown, st.st_size)


def scan_file(item: FileItem, engine: Engine, max_file_size: int) -> _FileResult:
    if item.size > max_file_size:
        return _FileResult([], too_large=True, errors=[
            f"{item.display}: {item.size} bytes is over the size limit of {max_file_size} "
            "bytes; not scanned (raise --max-file-size to include it)"])
    try:
        with open(item.fs_path, "rb") as handle:
            data = handle.read(max_file_size + 1)
    except OSError as exc:
        return _FileResult([], errors=[f"{item.display}: cannot read: {exc.strerror or exc}"])
    if len(data) > max_file_size:  # grew since it was listed
        return _FileResult([], too_large=True, errors=[
            f"{item.display}: over the size limit of {max_file_size} bytes; not scanned"])
    rules = None
    if not needs_decoding_first(data):
        # Most files hold no keyword at all; deciding on the raw bytes skips decoding them.
        rules = engine.rules_for(data.lower())
        if not rules:
            return _FileResult([], scanned_bytes=len(data))
    try:
        text = decode(data)
    except BinaryContent:
        return _FileResult([], binary=True)
    result = engine.scan(Fragment(item.display, text), rules)
    return _FileResult(result.findings, scanned_bytes=len(data), errors=result.warnings)
