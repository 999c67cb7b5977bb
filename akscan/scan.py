"""Scan files and directories: the file source feeding the engine, in parallel threads.

The engine's patterns run with `concurrent=True`, so `regex` releases the GIL while matching and
threads give real parallelism without pickling rules into worker processes.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from akscan.detect.engine import Engine
from akscan.model import Finding, Fragment
from akscan.rules import Rule
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
class ContentResult:
    """What scanning one file's (or blob's) bytes gave."""

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
    items = _items(paths, options, walk_stats, stats.notes)
    findings: list[Finding] = []

    def handle(result: ContentResult) -> None:
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

    def work(item: FileItem) -> ContentResult:
        return scan_file(item, engine, options.max_file_size)

    if options.jobs <= 1:
        for item in items:
            handle(work(item))
    else:
        with ThreadPoolExecutor(max_workers=options.jobs) as pool:
            for result in pool.map(work, items, chunksize=1):
                handle(result)
    stats.errors[:0] = walk_stats.errors
    stats.ignored = walk_stats.ignored
    stats.symlinks_outside = walk_stats.symlinks_outside
    stats.special = walk_stats.special
    stats.seconds = time.monotonic() - started
    findings.sort(key=Finding.sort_key)
    return findings, stats


def _items(
    paths: Sequence[str], options: ScanOptions, walk_stats: WalkStats, notes: list[str]
) -> Iterator[FileItem]:
    single_dir = len(paths) == 1 and os.path.isdir(paths[0])
    for path in paths:
        if os.path.isdir(path):
            for item in walk(path, options.excludes, options.gitignore, walk_stats, notes.append):
                if single_dir:
                    yield item
                else:
                    shown = display_path(os.path.normpath(os.path.join(path, item.display)))
                    yield FileItem(item.fs_path, shown, item.size)
        else:
            try:
                size = os.stat(path).st_size
            except OSError as exc:
                walk_stats.errors.append(f"{display_path(path)}: {exc.strerror or exc}")
                continue
            yield FileItem(path, display_path(os.path.normpath(path)), size)


def scan_file(item: FileItem, engine: Engine, max_file_size: int) -> ContentResult:
    if item.size > max_file_size:
        return ContentResult([], too_large=True, errors=[
            f"{item.display}: {item.size} bytes is over the size limit of {max_file_size} "
            "bytes; not scanned (raise --max-file-size to include it)"])
    try:
        with open(item.fs_path, "rb") as handle:
            data = handle.read(max_file_size + 1)
    except OSError as exc:
        return ContentResult([], errors=[f"{item.display}: cannot read: {exc.strerror or exc}"])
    if len(data) > max_file_size:  # grew since it was listed
        return ContentResult([], too_large=True, errors=[
            f"{item.display}: over the size limit of {max_file_size} bytes; not scanned"])
    return scan_bytes(data, item.display, engine)


def scan_bytes(data: bytes, display: str, engine: Engine,
               origin: tuple[tuple[str, str], ...] = (),
               rules: Sequence[Rule] | None = None) -> ContentResult:
    """Scan the bytes of one file; `display` names it in findings and warnings. `rules` is the
    keyword prefilter's verdict when the caller has already run it on these bytes."""
    if rules is None and not needs_decoding_first(data):
        # Most files hold no keyword at all; deciding on the raw bytes skips decoding them.
        rules = engine.rules_for(data.lower())
    if rules is not None and not rules:
        return ContentResult([], scanned_bytes=len(data))
    try:
        text = decode(data)
    except BinaryContent:
        return ContentResult([], binary=True)
    result = engine.scan(Fragment(display, text, origin), rules)
    return ContentResult(result.findings, scanned_bytes=len(data), errors=result.warnings)


# Contents gathered for one keyword prefilter pass (see Engine.rules_for_each).
_BATCH_BYTES = 1 << 20


def scan_stream(
    contents: Iterable[tuple[str, bytes]], engine: Engine, jobs: int,
    label: Callable[[str], str], handle: Callable[[str, ContentResult], None],
) -> None:
    """Scan (key, bytes) items as they arrive; `handle` gets every result, not in order.

    Items are gathered into batches of about a megabyte; each batch is prefiltered by keyword
    as a whole (most contents of a git history hold none) and its remaining items scanned, one
    batch per thread, so that the thread reading `contents` only reads.
    """

    def scan_batch(batch: list[tuple[str, bytes]]) -> list[tuple[str, ContentResult]]:
        plain = [(key, data) for key, data in batch if not needs_decoding_first(data)]
        verdicts = engine.rules_for_each([data for _, data in plain]) if plain else []
        out = [
            (key, scan_bytes(data, label(key), engine, rules=rules) if rules
             else ContentResult([], scanned_bytes=len(data)))
            for (key, data), rules in zip(plain, verdicts)
        ]
        if len(plain) < len(batch):  # UTF-16 or binary: decoded before deciding
            out.extend((key, scan_bytes(data, label(key), engine))
                       for key, data in batch if needs_decoding_first(data))
        return out

    def batches() -> Iterator[list[tuple[str, bytes]]]:
        batch: list[tuple[str, bytes]] = []
        size = 0
        for key, data in contents:
            batch.append((key, data))
            size += len(data)
            if size >= _BATCH_BYTES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    if jobs <= 1:
        for batch in batches():
            for key, result in scan_batch(batch):
                handle(key, result)
        return
    pending: deque[Future[list[tuple[str, ContentResult]]]] = deque()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for batch in batches():
            pending.append(pool.submit(scan_batch, batch))
            # Waiting on the oldest batch bounds how much content is held in memory at once.
            while pending and (len(pending) > 2 * jobs or pending[0].done()):
                for key, result in pending.popleft().result():
                    handle(key, result)
        while pending:
            for key, result in pending.popleft().result():
                handle(key, result)
