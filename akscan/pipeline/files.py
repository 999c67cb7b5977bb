"""Scan bytes with the engine: files and directories, and streams of contents (git blobs).

Files: most of a file's scan holds the GIL (prefilter, decoding, filters), so threads gave no
speed-up; worker processes each get a copy of the engine once and take files in batches.
Streams: contents arrive from one git process in the parent, so they are scanned in threads
with an engine that releases the GIL while matching.
"""

from __future__ import annotations

import functools
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import pathspec

from akscan.config import DEFAULT_MAX_FILE_SIZE
from akscan.detect.engine import Engine, Prefiltered
from akscan.model import Finding, Fragment
from akscan.sources import archives
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
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    jobs: int = 1


@dataclass
class ContentResult:
    """What scanning one file's (or blob's) bytes gave."""

    findings: list[Finding]
    scanned_bytes: int = 0
    binary: bool = False
    too_large: bool = False
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def scan_paths(
    paths: Sequence[str], engine: Engine, options: ScanOptions,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Finding], ScanStats]:
    """Scan files and directories. A single directory's findings are relative to it."""
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


def _scan_in_worker(item: FileItem) -> ContentResult:
    assert _worker is not None, "worker used before _start_worker"
    return scan_file(item, *_worker)


def report_base(paths: Sequence[str]) -> str:
    """The directory that finding paths are relative to: the one scanned directory, or `.`."""
    return os.path.abspath(paths[0] if _single_dir(paths) else os.curdir)


def _single_dir(paths: Sequence[str]) -> bool:
    return len(paths) == 1 and os.path.isdir(paths[0])


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
    return scan_bytes(data, item.display, engine, limits=_limits(max_file_size))


@functools.lru_cache(maxsize=4)
def _limits(max_file_size: int) -> archives.Limits:
    return archives.Limits(max_member=max_file_size)


def scan_bytes(data: bytes, display: str, engine: Engine,
               origin: tuple[tuple[str, str], ...] = (),
               verdict: Prefiltered | None = None,
               limits: archives.Limits = archives.DEFAULT_LIMITS) -> ContentResult:
    """Scan the bytes of one file; `display` names it in findings and warnings. `verdict` is
    the keyword prefilter's when the caller has already run it on these bytes. An archive is
    scanned member by member, each found at `display!member`."""
    archive_kind = archives.kind(data)
    if archive_kind is not None:
        return _scan_archive(data, archive_kind, display, engine, origin, limits, None)
    return _scan_content(data, display, engine, origin, verdict)


def _scan_content(data: bytes, display: str, engine: Engine,
                  origin: tuple[tuple[str, str], ...],
                  verdict: Prefiltered | None) -> ContentResult:
    if verdict is None and not needs_decoding_first(data):
        # Most files hold no keyword at all; deciding on the raw bytes skips decoding them.
        verdict = engine.prefilter(data.lower())
    if verdict is not None and not verdict:
        return ContentResult([], scanned_bytes=len(data))
    try:
        text = decode(data)
    except BinaryContent:
        return ContentResult([], binary=True)
    if verdict is None:
        result = engine.scan(Fragment(display, text, origin))
    else:
        # Byte offsets are character offsets only when every character is one byte.
        hits = verdict.hits if len(text) == len(data) else dict.fromkeys(verdict.hits)
        result = engine.scan(Fragment(display, text, origin), verdict.rules, hits)
    return ContentResult(result.findings, scanned_bytes=len(data), errors=result.warnings)


@dataclass(frozen=True)
class _Nesting:
    depth: int  # of the archive being read: 1 for one that is not inside another
    budget: archives.Budget  # shared by an outer archive and all inside it


def _scan_archive(data: bytes, archive_kind: str, display: str, engine: Engine,
                  origin: tuple[tuple[str, str], ...], limits: archives.Limits,
                  outer: _Nesting | None) -> ContentResult:
    """Every member of an archive, scanned as a file at `display!member`; what a limit or a
    corrupt archive leaves unread is an error (the scan is incomplete), never a crash."""
    nesting = _Nesting(outer.depth + 1 if outer else 1,
                       outer.budget if outer else archives.Budget(limits))
    result = ContentResult([])
    if nesting.depth > limits.max_depth:
        result.errors.append(f"{display}: archive nested more than {limits.max_depth} deep; "
                             "not scanned")
        return result
    read = 0
    try:
        for member in archives.members(data, archive_kind, display, limits, nesting.budget):
            shown = f"{display}!{member.name}"
            if member.renamed_from is not None:
                result.notes.append(f"{display}: member '{member.renamed_from}' is shown as "
                                    f"'{member.name}' (absolute or '..' path)")
            if member.data is None:
                result.errors.append(f"{shown}: {member.problem}; not scanned")
                continue
            read += 1
            inner_kind = archives.kind(member.data)
            if inner_kind is not None:
                inner = _scan_archive(member.data, inner_kind, shown, engine, origin, limits,
                                      nesting)
            else:
                inner = _scan_content(member.data, shown, engine, origin, None)
            result.findings.extend(inner.findings)
            result.errors.extend(inner.errors)
            result.notes.extend(inner.notes)
            result.scanned_bytes += inner.scanned_bytes
    except archives.LimitReached as exc:
        result.errors.append(f"{display}: {exc}; the rest of the archive was not scanned")
    except archives.ArchiveError as exc:
        rest = f"scanning stopped after {read} member(s)" if read else "not scanned"
        result.errors.append(f"{display}: corrupt or unreadable archive ({exc}); {rest}")
    return result


def member_suffix(path: str, container: str) -> str:
    """`!inner/path` of a finding at `container!inner/path`, or '' for one in `container`."""
    return path[len(container):] if path.startswith(container + "!") else ""


def _decode_first(data: bytes) -> bool:
    """Whether a keyword search of the raw bytes would be wrong: UTF-16, binary, archives."""
    return needs_decoding_first(data) or archives.kind(data) is not None


# Contents gathered for one keyword prefilter pass (see Engine.rules_for_each).
_BATCH_BYTES = 1 << 20


def scan_stream(
    contents: Iterable[tuple[str, bytes]], engine: Engine, jobs: int,
    label: Callable[[str], str], handle: Callable[[str, ContentResult], None],
    limits: archives.Limits = archives.DEFAULT_LIMITS,
) -> None:
    """Scan (key, bytes) items as they arrive; `handle` gets every result, not in order.

    Items are gathered into batches of about a megabyte; each batch is prefiltered by keyword
    as a whole (most contents of a git history hold none) and its remaining items scanned, one
    batch per thread, so that the thread reading `contents` only reads.
    """

    def scan_batch(batch: list[tuple[str, bytes]]) -> list[tuple[str, ContentResult]]:
        plain = [(key, data) for key, data in batch if not _decode_first(data)]
        verdicts = engine.prefilter_each([data for _, data in plain]) if plain else []
        out = [
            (key, scan_bytes(data, label(key), engine, verdict=verdict) if verdict
             else ContentResult([], scanned_bytes=len(data)))
            for (key, data), verdict in zip(plain, verdicts)
        ]
        if len(plain) < len(batch):  # UTF-16, binary or archives: decoded before deciding
            out.extend((key, scan_bytes(data, label(key), engine, limits=limits))
                       for key, data in batch if _decode_first(data))
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
