"""Scan git history: each unique blob once, each secret reported where it was introduced.

Git processes run as a pipeline: `git log` lists (commit, path, blob) additions, a
`cat-file --batch-check` learns their sizes, and the contents are read and scanned a batch of
about a megabyte at a time: with `processes` (the CLI) by worker processes that each read their
batches through their own `cat-file --batch` (the GIL kept threads to one core), otherwise (a
fleet worker, which may not start processes) from one `cat-file --batch` by a thread pool. A
small scan (a push) starts no worker. After the blobs come what `git log` does not list as
files: trees and blobs that tags point at, then commit and tag messages. Only after
everything is scanned are the findings attributed: for each (path, secret), the oldest commit
that added a blob containing that secret at that path introduced it (issue 5).

Objects that cannot be read (a partial clone's blobs, a damaged repository) are counted and
named, and everything else is still scanned (issue 11).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Final, NamedTuple, cast

from akscan import git
from akscan.config import DEFAULT_MAX_FILE_SIZE
from akscan.detect.engine import Engine
from akscan.model import Finding
from akscan.pipeline import tip
from akscan.pipeline.content import ContentResult, member_suffix, scan_contents, scan_stream
from akscan.sources import archives
from akscan.sources.blobs import blob_then_commit_sizes, read_blobs, read_objects
from akscan.sources.git_log import (
    COMMIT_MESSAGE,
    TAG_MESSAGE,
    Commit,
    Listing,
    Start,
    Tagged,
    blob_ids,
    display,
)
from akscan.sources.refs import TagMessage, commit_message

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
    # With jobs > 1: scan in worker processes, each reading its share of the objects through
    # its own git (the CLI); otherwise in threads (inside a fleet worker, which may not start
    # processes of its own).
    processes: bool = False


def scan_history(
    repo: git.Repo, revisions: Sequence[str], engine: Engine, options: HistoryOptions,
    on_progress: Callable[[HistoryStats], None] | None = None, begun: Start | None = None,
) -> tuple[list[Finding], HistoryStats]:
    """Findings in the commits `revisions` selects (git log syntax), oldest commit first.

    With `--all` among the revisions (and no date limits), everything reachable from a ref is
    scanned: also the stash list, annotated tags' messages, and trees and blobs that tags point
    at. `begun` is the scan's `Start` when the caller made it already (with the same revisions
    and options), so that git walked the history while akscan loaded.
    """
    started = time.monotonic()
    stats = HistoryStats()
    if begun is None:
        begun = Start.begin(repo, revisions, options.max_file_size, options.since,
                            options.until)
    # (A share cannot tell what the tip holds: its caller merges the shares and works it out.)
    ancestry = tip.Ancestry(repo, begun.revisions) if options.shard[1] == 1 else None
    try:
        return _scan(repo, begun, engine, options, on_progress, started, stats, ancestry)
    finally:
        begun.stop()  # a git log the scan did not read to its end
        if ancestry is not None:
            ancestry.stop()


def _scan(
    repo: git.Repo, begun: Start, engine: Engine, options: HistoryOptions,
    on_progress: Callable[[HistoryStats], None] | None, started: float, stats: HistoryStats,
    ancestry: tip.Ancestry | None,
) -> tuple[list[Finding], HistoryStats]:
    revisions, beyond, oversized, missing = (begun.revisions, begun.beyond, begun.oversized,
                                             begun.missing)
    if not revisions:
        return [], stats  # nothing selected; git log would fall back to HEAD
    listing = Listing(exclude=options.exclude)

    def too_large(oid: str, size: int) -> None:
        oversized.append((oid, size))

    messages: set[str] = set()  # commit and tag ids whose message is being scanned
    registered = 0  # listing entries that are messages, not blobs

    def blobs() -> Iterator[str]:
        yield from blob_ids(repo, revisions, listing, begun.log)
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

    def listed_commits() -> dict[str, int]:
        """The commits whose messages are scanned (id -> listing index), each now listed."""
        nonlocal registered
        commits = {c.sha: i for i, c in enumerate(listing.commits)
                   if isinstance(c, Commit) and in_shard(c.sha, options.shard)}
        for sha, index in commits.items():
            registered += listing.add(index, COMMIT_MESSAGE, sha)
        return commits

    def listed_tags() -> Iterator[tuple[TagMessage, int]]:
        """The annotated tags whose messages are scanned, each listed: (tag, its source)."""
        nonlocal registered
        for tag in beyond.tags:
            if not in_shard(tag.oid, options.shard):
                continue
            source = listing.add_source(Tagged(tag.ref, tag.oid, tag.tagger, tag.email, tag.date))
            if listing.add(source, TAG_MESSAGE, tag.oid):
                registered += 1
                messages.add(tag.oid)
                yield tag, source

    def message_contents() -> Iterator[tuple[str, bytes]]:
        """Commit messages, read after the log has listed every commit, then tag messages."""
        for sha, data in read_objects(repo, listed_commits(), options.max_file_size, too_large,
                                      missing.append, ("commit",)):
            messages.add(sha)
            yield sha, commit_message(data)
        for tag, _ in listed_tags():
            yield tag.oid, tag.message

    def describe(oid: str) -> str:
        if oid not in listing.first_seen:
            return f"tag object {oid[:12]}"  # read before the log, while following tags
        path, holder = listing.where(oid)
        kind = "object" if oid in messages else "blob"
        return f"{path} ({kind} {oid[:12]}, first in {holder})"

    def items() -> Iterator[_Item]:
        """What read_blobs and message_contents give, as ids and sizes for workers to read."""
        commits: dict[str, int] = {}  # listed once the log has listed every commit

        def listed() -> dict[str, int]:
            commits.update(listed_commits())
            return commits

        for oid, size in blob_then_commit_sizes(repo, ids, listed, options.max_file_size,
                                                too_large, missing.append):
            if oid not in commits:
                yield oid, listing.first_seen[oid][1], "", size, False, None
                continue
            messages.add(oid)
            yield oid, COMMIT_MESSAGE, listing.commits[commits[oid]].describe(), size, True, None
        for tag, source in listed_tags():
            yield (tag.oid, TAG_MESSAGE, listing.commits[source].describe(), len(tag.message),
                   False, tag.message)

    ids = blobs()
    if options.shard[1] > 1:
        ids = (oid for oid in ids if in_shard(oid, options.shard))
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
            if ancestry is not None and oid not in messages:
                ancestry.start()  # for the end, in case this finding is gone from the tip
        if on_progress is not None:
            stats.commits = len(listing.commits)
            on_progress(stats)

    def counted(blobs: int, size: int, messages: int) -> None:
        """Blobs and messages scanned with nothing to tell (a worker counts them)."""
        stats.blobs_scanned += blobs
        stats.bytes_scanned += size
        stats.messages += messages
        if on_progress is not None:
            stats.commits = len(listing.commits)
            on_progress(stats)

    def label(oid: str) -> str:
        path, holder = listing.where(oid)
        return f"{path} ({holder})" if oid in messages else f"{path} (blob {oid[:12]})"

    limits = archives.Limits(max_member=options.max_file_size)
    if options.processes and options.jobs > 1:
        # Each worker of a large scan would set itself up on its first batch: the search it
        # switches to after 16 MiB (Hyperscan: 40 ms), `regex` and the patterns, the archive
        # readers. For the whole history (--all; a push's range is mostly small), a thread
        # does it once instead, while git walks the history, and the workers share it.
        building = None
        if "--all" in revisions:
            building = threading.Thread(target=_prepare_workers, args=(engine,), daemon=True)
            building.start()
        _scan_in_processes(repo, items(), engine, options.jobs, limits, handle, counted, stats,
                           building)
    else:
        contents = itertools.chain(
            read_blobs(repo, ids, options.max_file_size,
                       too_large, missing.append),
            message_contents())
        scan_stream(contents, engine, options.jobs, label, handle, limits)
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
                                  {*missing, *(oid for oid, _ in oversized)}, ancestry)
        except git.GitError as exc:  # the tip's tree is unreadable: findings stand without it
            findings = [f for f, _, _ in placed]
            stats.notes.append(f"whether keys are still at the tip was not worked out: {exc}")
    stats.seconds = time.monotonic() - started
    return findings, stats


# An object to scan, read by id from git (a commit: its message) or given: (id, the path where
# it first appeared (a message: its pseudo-path), the commit or tag holding a message
# (`commit 0123abcd4567`; '' for a blob), size, whether it is a commit, its content if given).
# A plain tuple: tens of thousands are sent to workers, and a NamedTuple pickles 10x slower
# (0.2 s of CPU for the SDK's 84k objects).
_Item = tuple[str, bytes, str, int, bool, "bytes | None"]
_KEY: Final = 0
_PATH: Final = 1
_HOLDER: Final = 2
_SIZE: Final = 3
_DATA: Final = 5


def _label(item: _Item) -> str:
    """How findings and warnings name an object (as `scan_history`'s label): worked out only
    for the few objects that need it, in the worker."""
    if item[_HOLDER]:
        return f"{display(item[_PATH])} ({item[_HOLDER]})"
    return f"{display(item[_PATH])} (blob {item[_KEY][:12]})"


# Objects of about this many bytes make one batch: one keyword prefilter pass, one message to a
# worker and back; and at most this many objects, so that a batch of small ones (commit
# messages: 25 us each to read and scan) is not one worker's 50 ms while the other waits.
_BATCH_BYTES = 1 << 20
_BATCH_OBJECTS = 256
# Starting workers costs tens of milliseconds: a small range (a pre-push hook) is scanned here.
_PARALLEL_MIN_BYTES = 8 * 1024 * 1024
_PARALLEL_MIN_OBJECTS = 2000


def _batches(items: Iterator[_Item]) -> Iterator[list[_Item]]:
    batch: list[_Item] = []
    size = 0
    for item in items:
        batch.append(item)
        size += item[_SIZE]
        if size >= _BATCH_BYTES or len(batch) >= _BATCH_OBJECTS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _scan_in_processes(
    repo: git.Repo, items: Iterator[_Item], engine: Engine, jobs: int, limits: archives.Limits,
    handle: Callable[[str, ContentResult], None], counted: Callable[[int, int, int], None],
    stats: HistoryStats, building: threading.Thread | None = None,
) -> None:
    """Scan the items in `jobs` worker processes (fewer if there are fewer CPUs), each reading
    the objects of the batches it is given through its own `git cat-file`; results are handled
    in the items' order. The GIL bounds threads to one core; processes use them all."""
    def handle_batch(done: _Done) -> None:
        for oid, result in done.results:
            handle(oid, result)
        counted(done.blobs, done.bytes, done.messages)

    batches = _batches(items)
    # Git log and the size checks run here meanwhile, feeding the workers as they go; until
    # there is enough to share, the batches are kept, so that a small scan starts no worker.
    first: list[list[_Item]] = []
    size = count = 0
    for batch in batches:
        first.append(batch)
        size += sum(item[_SIZE] for item in batch)
        count += len(batch)
        if size >= _PARALLEL_MIN_BYTES or count >= _PARALLEL_MIN_OBJECTS:
            break
    else:  # all of it is small
        if building is not None:
            building.join()
        _start_worker(engine, repo, limits)
        try:
            for batch in first:
                handle_batch(_scan_batch(batch))
        finally:
            _stop_reader()
        return

    from akscan.pipeline import workers  # multiprocessing: not for a small range (a hook)

    def retried(batch: list[_Item]) -> None:
        stats.notes.append(workers.retried_note(len(batch), "object(s)"))

    def lost(batch: list[_Item]) -> None:
        stats.errors.extend(workers.lost_error(_label(item)) for item in batch)

    if building is not None:
        building.join()  # no fork while it builds; the workers get what it built
    workers.run_batches(_scan_batch, itertools.chain(first, batches),
                        min(jobs, workers.usable_cpus()), _start_process, (engine, repo, limits),
                        handle_batch, lost, retried, finish=_stop_reader)


def _prepare_workers(engine: Engine) -> None:
    """What each worker would do on its first batch, done once before they are forked."""
    import hashlib  # noqa: F401 (archive members' digests)

    from akscan.sources import archive_readers  # noqa: F401

    engine.prepare_for_workers()


# A worker's engine, repository and limits, and the git that reads its objects.
_worker: tuple[Engine, git.Repo, archives.Limits] | None = None
_reader: git.ObjectReader | None = None


def _start_worker(engine: Engine, repo: git.Repo, limits: archives.Limits) -> None:
    global _worker
    _worker = (engine, repo, limits)


def _start_process(engine: Engine, repo: git.Repo, limits: archives.Limits) -> None:
    """`_start_worker` in a worker process of its own."""
    from akscan.pipeline import workers

    workers.reuse_freed_memory()
    _start_worker(engine, repo, limits)


def _stop_reader() -> None:
    """The end of this process's reading (a worker's, or the whole scan's here): its git
    waited for, not left to exit after it. Whatever state a failed batch left it in, it
    stops: no object is awaited any more, so how git ends changes nothing."""
    global _reader
    if _reader is not None:
        reader, _reader = _reader, None
        reader.end()


class _Done(NamedTuple):
    """A batch scanned: the results with something to tell, in order, and how many of the
    others were blobs (with their bytes) and messages."""

    results: list[tuple[str, ContentResult]]
    blobs: int
    bytes: int
    messages: int


def _scan_batch(batch: list[_Item]) -> _Done:
    """Read a batch's objects (through this process's one `git cat-file`) and scan them."""
    global _reader
    assert _worker is not None, "worker used before _start_worker"
    engine, repo, limits = _worker
    if _reader is None:
        _reader = git.ObjectReader(repo)
    read = dict(_reader.read([item[_KEY] for item in batch if item[_DATA] is None]))
    contents = []
    for key, _, _, _, commit, given in batch:
        data = given if given is not None else read[key]
        contents.append((key, commit_message(data) if commit else data))
    items = {item[_KEY]: item for item in batch}
    told = []
    blobs = size = messages = 0
    for key, result in scan_contents(contents, engine, lambda key: _label(items[key]), limits):
        if result.findings or result.errors or result.notes or result.binary:
            told.append((key, result))
        elif items[key][_HOLDER]:
            messages += 1
        else:
            blobs += 1
            size += result.scanned_bytes
    return _Done(told, blobs, size, messages)


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
    return shard[1] == 1 or int(oid[:8], 16) % shard[1] == shard[0]


def _introductions(
    listing: Listing, by_blob: dict[str, tuple[str, list[Finding]]]
) -> list[tip.Placed]:
    """Each blob's findings at each (commit, path) that first added their secret at that path,
    with that commit's index and the path; a finding inside an archive blob keeps its `!member`
    part."""
    seen: set[tuple[bytes, str]] = set()
    out: list[tip.Placed] = []
    # (Most additions have no finding: those that do are picked out first, in C.)
    for commit_index, path, oid in [added for added in listing.additions
                                    if added[2] in by_blob]:
        label, found = by_blob[oid]
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
    # The directory scan's module (and pathspec with it) only for a blob this large.
    from akscan.pipeline.files import scan_oversized

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
