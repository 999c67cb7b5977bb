"""Where each history finding stands at the tip: still at its path, or which commit removed it.

The tip is HEAD when all refs are scanned, else the first revision given (B of A..B). Cost stays
linear: one `ls-tree` of the tip, and, only when some finding is no longer there, one `rev-list`
of the tip's history; the path changes come from the `git log` already read, so no commit's tree
is walked again.

A fleet scan is incremental, so the blobs at its head were often scanned by an earlier run:
`secrets_at` reads the tip's files at the given paths and scans them again instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence

from akscan import git
from akscan.detect.engine import Engine
from akscan.errors import AkscanError
from akscan.model import Finding, TipContext
from akscan.pipeline.content import scan_bytes
from akscan.sources import archives
from akscan.sources.git_log import Commit, Listing, display

GITLINK = "160000"  # a submodule's entry in a tree: a commit, not a file

# A history finding before its tip context: the finding, the listing's source index, the path.
Placed = tuple[Finding, int, bytes]


def tip_of(revisions: Sequence[str]) -> str | None:
    """The revision a scan's findings are compared with: HEAD for --all, else the first one
    given that is not excluded (`B` of `A..B`, `HEAD` of `A..`)."""
    negative = False
    for rev in revisions:
        if rev == "--not":
            negative = not negative
        elif rev == "--all":
            return "HEAD"
        elif rev.startswith("-") or rev.startswith("^") or negative:
            continue
        else:
            for dots in ("...", ".."):
                if dots in rev:
                    return rev.split(dots, 1)[1] or "HEAD"
            return rev
    return None


class Ancestry:
    """The commits reachable from a history scan's tip, from a `git rev-list` that `start`
    sets going while the scan still runs (at its first finding in a file). `attach` needs
    them only when a finding is gone from the tip, but then waiting for git at the end cost
    50 ms of a 5k-commit history (issue 14)."""

    def __init__(self, repo: git.Repo, revisions: Sequence[str]) -> None:
        self._repo, self._revisions = repo, revisions
        self._started: tuple[str, git.Process] | None = None  # (tip commit, its rev-list)
        self._tried = False

    def start(self) -> None:
        """Start git on it, once; any trouble is left for the end to meet and report."""
        if self._tried:
            return
        self._tried = True
        tip = tip_of(self._revisions)
        try:
            commit = git.resolve(self._repo, tip) if tip is not None else None
            if commit is not None:
                self._started = (commit, git.rev_list_process(self._repo, commit))
        except AkscanError:
            pass

    def of(self, commit: str) -> Iterator[str]:
        """The ids of the commits reachable from `commit`."""
        started, self._started = self._started, None
        if started is not None and started[0] != commit:  # the tip moved during the scan
            started[1].kill()
            started = None
        return git.rev_list(self._repo, commit, started[1] if started else None)

    def stop(self) -> None:
        """Stop the git that was not read (no finding was gone, or the scan failed)."""
        if self._started is not None:
            self._started[1].kill()
            self._started = None


def attach(
    repo: git.Repo, revisions: Sequence[str], placed: Sequence[Placed], listing: Listing,
    secrets_of: Mapping[str, frozenset[str]], unreadable: set[str],
    ancestry: Ancestry | None = None,
) -> list[Finding]:
    """The findings, those in files of commits given their TipContext; `ancestry`, the tip's
    commits if they were asked for already."""
    tip = tip_of(revisions)
    tip_commit = git.resolve(repo, tip) if tip is not None else None
    in_files = [(f, path) for f, source, path in placed
                if isinstance(listing.commits[source], Commit) and not path.startswith(b"<")]
    if tip is None or tip_commit is None or not in_files:
        return [f for f, _, _ in placed]
    wanted = {path for _, path in in_files}
    at_tip = {path: oid for _mode, oid, path in git.tree_entries(repo, tip_commit, wanted)
              if path in wanted}

    def present(path: bytes, secret: str) -> bool | None:
        oid = at_tip.get(path)
        if oid is None:
            return False
        if oid in secrets_of:
            return secret in secrets_of[oid]
        if oid in unreadable or oid not in listing.first_seen:
            return None  # the tip's file there was not scanned
        return False

    contexts: dict[tuple[bytes, str], TipContext] = {}
    gone = [(path, f.secret) for f, path in in_files if present(path, f.secret) is False]
    removals = _removals(ancestry or Ancestry(repo, revisions), tip_commit, listing, gone,
                         secrets_of) if gone else {}
    for f, path in in_files:
        key = (path, f.secret)
        if key not in contexts:
            removed = removals.get(key)
            contexts[key] = TipContext(tip, tip_commit, present(path, f.secret),
                                       removed.sha if removed else None,
                                       removed.date if removed else None)
    out = []
    for f, source, path in placed:
        context = contexts.get((path, f.secret))
        in_file = isinstance(listing.commits[source], Commit) and not path.startswith(b"<")
        out.append(dataclasses.replace(f, at_tip=context) if in_file and context else f)
    return out


def _removals(
    ancestry: Ancestry, tip_commit: str, listing: Listing, gone: Sequence[tuple[bytes, str]],
    secrets_of: Mapping[str, frozenset[str]],
) -> dict[tuple[bytes, str], Commit]:
    """For each (path, secret) no longer at the tip: the last commit on the tip's history whose
    change to that path took the secret out (a deletion, or a new content without it)."""
    index = {c.sha: i for i, c in enumerate(listing.commits) if isinstance(c, Commit)}
    ancestors = {index[sha] for sha in ancestry.of(tip_commit) if sha in index}
    paths = {path for path, _ in gone}
    events: dict[bytes, list[tuple[int, str | None]]] = {path: [] for path in paths}
    # (The few changes at these paths are picked out first, in C: there are hundreds of
    # thousands of changes in all.)
    for source, path, oid in [added for added in listing.additions if added[1] in paths]:
        if source in ancestors:
            events[path].append((source, oid))
    for source, path in [deleted for deleted in listing.deletions if deleted[1] in paths]:
        if source in ancestors:
            events[path].append((source, None))
    found: dict[tuple[bytes, str], Commit] = {}
    for path, secret in gone:
        held = False
        for source, content in sorted(events[path], key=lambda e: e[0]):  # parents first
            now = content is not None and secret in secrets_of.get(content, frozenset())
            if held and not now:
                commit = listing.commits[source]
                assert isinstance(commit, Commit)
                found[(path, secret)] = commit
            held = now
    return found


def secrets_at(repo: git.Repo, tip: str, paths: Iterable[str], engine: Engine,
               max_size: int) -> dict[str, list[str]]:
    """Finding path -> fingerprints found there at `tip` (archive members as `a.zip!m`).

    Only the files at the given paths are read, so the cost is bounded by the findings, not by
    the repository; each is scanned with the same engine as the history, so a key that is
    encoded or inside an archive is recognised the same way."""
    wanted = {path.partition("!")[0] for path in paths}
    if not wanted:
        return {}
    blobs = {}
    for mode, oid, raw in git.tree_entries(repo, tip):
        path = display(raw)
        if mode != GITLINK and path in wanted:
            blobs[oid] = path
    small = [oid for oid, kind, size in git.object_sizes(repo, list(blobs))
             if kind == "blob" and size <= max_size]
    present: dict[str, list[str]] = {path: [] for path in wanted}
    limits = archives.Limits(max_member=max_size)
    for oid, data in git.object_contents(repo, small):
        for finding in scan_bytes(data, blobs[oid], engine, limits=limits).findings:
            present.setdefault(finding.path, []).append(finding.secret_sha256)
    return present
