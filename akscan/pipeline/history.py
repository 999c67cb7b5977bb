"""Scan git history: each unique blob once, each secret reported where it was introduced.

Three git processes run as a pipeline: `git log` lists (commit, path, blob) additions, a
`cat-file --batch-check` learns their sizes, a `cat-file --batch` streams the contents, and a
thread pool scans them (the engine releases the GIL). Only after every blob is scanned are the
findings attributed: for each (path, secret), the oldest commit that added a blob containing that
secret at that path introduced it (issue 5).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from akscan import git
from akscan.config import DEFAULT_MAX_FILE_SIZE
from akscan.detect.engine import Engine
from akscan.model import Finding
from akscan.pipeline.files import ContentResult, member_suffix, scan_stream
from akscan.sources import archives
from akscan.sources.blobs import read_blobs
from akscan.sources.git_log import Listing, blob_ids, display


@dataclass
class HistoryStats:
    commits: int = 0
    blobs: int = 0  # unique blobs added by those commits
    blobs_scanned: int = 0
    bytes_scanned: int = 0
    binary_skipped: int = 0
    too_large: int = 0
    gitlinks: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # the scan is incomplete because of these
    notes: list[str] = field(default_factory=list)  # verbose-only explanations


@dataclass(frozen=True)
class HistoryOptions:
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    jobs: int = 1


def scan_history(
    repo: git.Repo, revisions: Sequence[str], engine: Engine, options: HistoryOptions,
    on_progress: Callable[[HistoryStats], None] | None = None,
) -> tuple[list[Finding], HistoryStats]:
    """Findings in the commits `revisions` selects (git log syntax), oldest commit first."""
    started = time.monotonic()
    stats = HistoryStats()
    if not revisions:
        return [], stats  # nothing selected; git log would fall back to HEAD
    listing = Listing()
    oversized: list[tuple[str, int]] = []

    def describe(oid: str) -> str:
        path, commit = listing.where(oid)
        return f"{path} in commit {commit}"

    contents = read_blobs(repo, blob_ids(repo, revisions, listing), options.max_file_size,
                          lambda oid, size: oversized.append((oid, size)), describe)
    by_blob: dict[str, tuple[str, list[Finding]]] = {}  # blob -> (its label, its findings)

    def handle(oid: str, result: ContentResult) -> None:
        stats.errors.extend(result.errors)
        stats.notes.extend(result.notes)
        if result.binary:
            stats.binary_skipped += 1
        else:
            stats.blobs_scanned += 1
            stats.bytes_scanned += result.scanned_bytes
        if result.findings:
            by_blob[oid] = (label(oid), result.findings)
        if on_progress is not None:
            stats.commits = len(listing.commits)
            on_progress(stats)

    def label(oid: str) -> str:
        return f"{listing.where(oid)[0]} (blob {oid[:12]})"

    scan_stream(contents, engine, options.jobs, label, handle,
                archives.Limits(max_member=options.max_file_size))
    for oid, size in oversized:
        path, commit = listing.where(oid)
        stats.errors.append(
            f"{path} (blob {oid[:12]}, first in commit {commit[:12]}): {size} bytes is over the "
            f"size limit of {options.max_file_size} bytes; not scanned (raise --max-file-size)")
    stats.too_large = len(oversized)
    stats.commits = len(listing.commits)
    stats.blobs = len(listing.first_seen)
    stats.gitlinks = listing.gitlinks
    if listing.gitlinks:
        stats.notes.append(f"{listing.gitlinks} submodule entries (gitlinks) were not entered: "
                           "their commits live in other repositories; scan those separately")
    stats.seconds = time.monotonic() - started
    return _introductions(listing, by_blob), stats


def _introductions(
    listing: Listing, by_blob: dict[str, tuple[str, list[Finding]]]
) -> list[Finding]:
    """Each blob's findings at each (commit, path) that first added their secret at that path;
    a finding inside an archive blob keeps its `!member` part."""
    seen: set[tuple[bytes, str]] = set()
    out: list[Finding] = []
    for commit_index, path, oid in listing.additions:
        label, found = by_blob.get(oid, ("", []))
        if not found:
            continue
        fresh = {f.secret for f in found if (path, f.secret) not in seen}
        if not fresh:
            continue
        seen.update((path, secret) for secret in fresh)
        shown = display(path)
        origin = listing.commits[commit_index].origin()
        out.extend(f.moved_to(shown + member_suffix(f.path, label), origin)
                   for f in found if f.secret in fresh)
    return out

