"""Scan git history: each unique blob once, each secret reported where it was introduced.

Three git processes run as a pipeline: `git log` lists (commit, path, blob) additions, a
`cat-file --batch-check` learns their sizes, a `cat-file --batch` streams the contents, and a
thread pool scans them (the engine releases the GIL). After the blobs come what `git log` does not
list as files: trees and blobs that tags point at, then commit and tag messages. Only after
everything is scanned are the findings attributed: for each (path, secret), the oldest commit
that added a blob containing that secret at that path introduced it (issue 5).

Objects that cannot be read (a partial clone's blobs, a damaged repository) are counted and
named, and everything else is still scanned (issue 11).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from akscan import git
from akscan.config import DEFAULT_MAX_FILE_SIZE
from akscan.detect.engine import Engine
from akscan.model import Finding
from akscan.pipeline import tip
from akscan.pipeline.files import ContentResult, member_suffix, scan_oversized, scan_stream
from akscan.sources import archives
from akscan.sources.blobs import read_blobs, read_objects
from akscan.sources.git_log import (
    COMMIT_MESSAGE,
    TAG_MESSAGE,
    Commit,
    Listing,
    Tagged,
    blob_ids,
    display,
)
from akscan.sources.refs import Beyond, beyond_commits, commit_message

# Missing objects named one by one on standard error; the rest only with -v.
_MISSING_SHOWN = 5


@dataclass
class HistoryStats:
    commits: int = 0
    blobs: int = 0  # unique blobs added by those commits
    blobs_scanned: int = 0
    bytes_scanned: int = 0
    messages: int = 0  # commit and tag messages scanned
    binary_skipped: int = 0
    too_large: int = 0
    missing: int = 0  # objects that could not be read
    excluded: int = 0  # distinct paths left out by exclude settings
    gitlinks: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # the scan is incomplete because of these
    notes: list[str] = field(default_factory=list)  # verbose-only explanations


@dataclass(frozen=True)
class HistoryOptions:
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    jobs: int = 1
    exclude: Callable[[str], bool] | None = None  # paths never read (exclude settings)
    # (k, n): scan only the k-th of n disjoint shares of the blobs and messages, so that several
    # workers can split one large repository (the fleet scan); the caller merges the shares'
    # findings.
    shard: tuple[int, int] = (0, 1)
    since: str | None = None  # only commits more recent than this date, as git log --since
    until: str | None = None  # only commits older than this date, as git log --until


def scan_history(
    repo: git.Repo, revisions: Sequence[str], engine: Engine, options: HistoryOptions,
    on_progress: Callable[[HistoryStats], None] | None = None,
) -> tuple[list[Finding], HistoryStats]:
    """Findings in the commits `revisions` selects (git log syntax), oldest commit first.

    With `--all` among the revisions (and no date limits), everything reachable from a ref is
    scanned: also the stash list, annotated tags' messages, and trees and blobs that tags point
    at.
    """
    started = time.monotonic()
    stats = HistoryStats()
    if not revisions:
        return [], stats  # nothing selected; git log would fall back to HEAD
    listing = Listing(exclude=options.exclude)
    oversized: list[tuple[str, int]] = []
    missing: list[str] = []
    beyond = Beyond()
    if "--all" in revisions and options.since is None and options.until is None:
        beyond = beyond_commits(repo, options.max_file_size,
                                lambda oid, size: oversized.append((oid, size)), missing.append)
        revisions = [*revisions, *beyond.stash]
    if options.since is not None:
        revisions = [f"--since={options.since}", *revisions]
    if options.until is not None:
        revisions = [f"--until={options.until}", *revisions]
    messages: set[str] = set()  # commit and tag ids whose message is being scanned
    registered = 0  # listing entries that are messages, not blobs

    def blobs() -> Iterator[str]:
        yield from blob_ids(repo, revisions, listing)
        for tree, ref, tag in beyond.trees:
            source = listing.add_source(Tagged(ref, tag))
            try:
                yield from listing.add_tree(source, git.tree_entries(repo, tree))
            except git.GitError as exc:
                stats.errors.append(f"tree {tree[:12]} of {ref} could not be read: {exc}")
        for blob, ref, tag in beyond.blobs:
            name = f"<{ref}>".encode()
            if listing.add(listing.add_source(Tagged(ref, tag)), name, blob):
                yield blob

    def message_contents() -> Iterator[tuple[str, bytes]]:
        """Commit messages, read after the log has listed every commit, then tag messages."""
        nonlocal registered
        commits = {c.sha: i for i, c in enumerate(listing.commits)
                   if isinstance(c, Commit) and in_shard(c.sha, options.shard)}
        for sha, index in commits.items():
            registered += listing.add(index, COMMIT_MESSAGE, sha)
        for sha, data in read_objects(repo, commits, options.max_file_size,
                                      lambda oid, size: oversized.append((oid, size)),
                                      missing.append, ("commit",)):
            messages.add(sha)
            yield sha, commit_message(data)
        for tag in beyond.tags:
            if not in_shard(tag.oid, options.shard):
                continue
            source = listing.add_source(Tagged(tag.ref, tag.oid, tag.tagger, tag.email, tag.date))
            if listing.add(source, TAG_MESSAGE, tag.oid):
                registered += 1
                messages.add(tag.oid)
                yield tag.oid, tag.message

    def describe(oid: str) -> str:
        if oid not in listing.first_seen:
            return f"tag object {oid[:12]}"  # read before the log, while following tags
        path, holder = listing.where(oid)
        kind = "object" if oid in messages else "blob"
        return f"{path} ({kind} {oid[:12]}, first in {holder})"

    ids = blobs()
    if options.shard[1] > 1:
        ids = (oid for oid in ids if in_shard(oid, options.shard))
    contents = itertools.chain(
        read_blobs(repo, ids, options.max_file_size,
                   lambda oid, size: oversized.append((oid, size)), missing.append),
        message_contents())
    by_blob: dict[str, tuple[str, list[Finding]]] = {}  # blob -> (its label, its findings)

    def handle(oid: str, result: ContentResult) -> None:
        stats.errors.extend(result.errors)
        stats.notes.extend(result.notes)
        if oid in messages:
            stats.messages += 1
        elif result.binary:
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
        path, holder = listing.where(oid)
        return f"{path} ({holder})" if oid in messages else f"{path} (blob {oid[:12]})"

    scan_stream(contents, engine, options.jobs, label, handle,
                archives.Limits(max_member=options.max_file_size))
    # The size limit is for text: a blob over it is streamed, and if binary its printable
    # runs are scanned, as for files; text stays "not scanned".
    large, oversized[:] = oversized[:], []
    for oid, size in large:
        result = None if oid in messages else _scan_oversized_blob(
            repo, oid, size, label(oid), engine, options.max_file_size)
        if result is None or result.too_large:
            oversized.append((oid, size))
        else:
            handle(oid, result)
    for oid, size in oversized:
        stats.errors.append(
            f"{describe(oid)}: {size} bytes is over the size limit of "
            f"{options.max_file_size} bytes; not scanned (raise --max-file-size)")
    _report_unreadable(repo, listing, missing, stats, describe)
    stats.too_large = len(oversized)
    stats.missing = len(missing)
    stats.commits = sum(isinstance(c, Commit) for c in listing.commits)
    stats.blobs = len(listing.first_seen) - registered
    stats.gitlinks = listing.gitlinks
    stats.excluded = listing.excluded
    if listing.gitlinks:
        stats.notes.append(f"{listing.gitlinks} submodule entries (gitlinks) were not entered: "
                           "their commits live in other repositories; scan those separately")
    placed = _introductions(listing, by_blob)
    if options.shard[1] > 1:  # a share cannot tell what the tip holds; the caller merges
        findings = [f for f, _, _ in placed]
    else:
        secrets_of = {oid: frozenset(f.secret for f in found)
                      for oid, (_, found) in by_blob.items()}
        try:
            findings = tip.attach(repo, revisions, placed, listing, secrets_of,
                                  {*missing, *(oid for oid, _ in oversized)})
        except git.GitError as exc:  # the tip's tree is unreadable: findings stand without it
            findings = [f for f, _, _ in placed]
            stats.notes.append(f"whether keys are still at the tip was not worked out: {exc}")
    stats.seconds = time.monotonic() - started
    return findings, stats


def _report_unreadable(repo: git.Repo, listing: Listing, missing: Sequence[str],
                       stats: HistoryStats, describe: Callable[[str], str]) -> None:
    """Errors for what could not be read: a few named, all with -v, and why it may be so."""
    if listing.failure is not None:
        last = next((c for c in reversed(listing.commits) if isinstance(c, Commit)), None)
        after = f" after commit {last.sha[:12]}" if last else ""
        stats.errors.append(f"git log stopped{after}, so the rest of the history was not "
                            f"scanned: {listing.failure}")
    if not missing:
        return
    why = ("this is a partial clone (--filter), whose blobs are fetched on demand; akscan does "
           "not fetch: clone without --filter to scan everything" if repo.partial else
           "the repository is damaged (run 'git fsck')")
    stats.errors.append(f"{len(missing)} git objects are missing or unreadable, not scanned: "
                        f"{why}")
    named = [f"missing object {oid}: {describe(oid)}" for oid in missing]
    stats.errors.extend(named[:_MISSING_SHOWN])
    if len(named) > _MISSING_SHOWN:
        stats.errors.append(f"... and {len(named) - _MISSING_SHOWN} more missing objects (-v "
                            "lists them)")
        stats.notes.extend(named[_MISSING_SHOWN:])


def in_shard(oid: str, shard: tuple[int, int]) -> bool:
    """Whether object `oid` belongs to share k of n (ids are uniformly spread hashes)."""
    return int(oid[:8], 16) % shard[1] == shard[0]


def _introductions(
    listing: Listing, by_blob: dict[str, tuple[str, list[Finding]]]
) -> list[tip.Placed]:
    """Each blob's findings at each (commit, path) that first added their secret at that path,
    with that commit's index and the path; a finding inside an archive blob keeps its `!member`
    part."""
    seen: set[tuple[bytes, str]] = set()
    out: list[tip.Placed] = []
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
        out.extend((f.moved_to(shown + member_suffix(f.path, label), origin), commit_index, path)
                   for f in found if f.secret in fresh)
    return out


def _scan_oversized_blob(repo: git.Repo, oid: str, size: int, display: str, engine: Engine,
                         max_file_size: int) -> ContentResult | None:
    """`scan_oversized` of one blob read from its own `git cat-file`; None if unreadable."""
    process = git.Process(repo, ["cat-file", "blob", oid])
    try:
        stream = cast(BinaryIO, process.stdout)  # a pipe's reader: read() is all that is used
        result = scan_oversized(stream, display, engine, max_file_size, size)
    except BaseException:
        process.kill()
        raise
    if result.too_large:  # text: the rest is not read, so git is stopped rather than waited on
        process.kill()
        return result
    try:
        process.close()
    except git.GitError:
        return None
    return result
