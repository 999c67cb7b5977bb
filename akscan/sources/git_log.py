"""Git history as (commit, path, blob) additions, read from one streamed `git log`.

`git log --raw` lists, for every commit, the paths whose blob differs from its parent; for a merge,
`-c` keeps only the paths that differ from *every* parent, which is exactly what the merge itself
brought (a conflict resolution, an evil merge). With `--reverse --date-order` parents come before
children, so the first commit that adds a (path, blob) is the one that introduced it there.
`--source` names, for each commit, the ref (or revision) through which git reached it.

Objects that no commit reaches (a tag's tree or blob) and commit and tag messages are recorded in
the same listing under a `Tagged` source or a pseudo-path (`<commit message>`), so attribution
treats every kind of content alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from akscan import git
from akscan.sources.refs import Beyond, beyond_commits
from akscan.terminal import path_from_bytes

GITLINK_MODE = "160000"  # a submodule: the id is a commit in another repository
_MARK = b"\x01"
_FORMAT = "--format=%x01%H%x00%an%x00%ae%x00%aI%x00%S"
COMMIT_MESSAGE = b"<commit message>"
TAG_MESSAGE = b"<tag message>"


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    date: str  # ISO 8601, author date
    ref: str = ""  # the ref or revision through which it was reached

    def origin(self) -> tuple[tuple[str, str], ...]:
        found = (("commit", self.sha), ("author", self.author), ("email", self.email),
                 ("date", self.date))
        return (*found, ("ref", self.ref)) if self.ref else found

    def describe(self) -> str:
        return f"commit {self.sha[:12]}"


@dataclass(frozen=True)
class Tagged:
    """Content reached through a ref but through no commit: an annotated tag's message, or a
    tree or blob that a tag (or any ref) points at directly."""

    ref: str
    tag: str = ""  # the tag object's id; '' when the ref names the object itself
    tagger: str = ""
    email: str = ""
    date: str = ""  # ISO 8601, the tagger's date

    def origin(self) -> tuple[tuple[str, str], ...]:
        found: tuple[tuple[str, str], ...] = (("ref", self.ref),)
        if self.tag:
            found += (("tag", self.tag),)
        if self.tagger:
            found += (("author", self.tagger), ("email", self.email), ("date", self.date))
        return found

    def describe(self) -> str:
        return f"ref {self.ref}"


Source = Commit | Tagged


@dataclass
class Listing:
    """What the log said, gathered while it streams."""

    commits: list[Source] = field(default_factory=list)
    # (index into commits, path at that commit, blob id), oldest commit first
    additions: list[tuple[int, bytes, str]] = field(default_factory=list)
    # blob id -> (commit index, path) where it first appeared, to name it in messages
    first_seen: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    # (index into commits, path) of every deletion, for when a secret left a path
    deletions: list[tuple[int, bytes]] = field(default_factory=list)
    gitlinks: int = 0
    # Paths the user excluded (`exclude` settings, --exclude): never read, only counted.
    exclude: Callable[[str], bool] | None = None
    excluded: int = 0  # distinct excluded paths
    _verdicts: dict[bytes, bool] = field(default_factory=dict)
    failure: str | None = None  # why git log stopped before the end, if it did

    def new_blobs(self, fields: Iterable[bytes]) -> Iterator[str]:
        """Record every addition; yield each blob id the first time it appears."""
        # (Listing.add inlined, and the usual line read by position rather than split: a large
        # history has hundreds of thousands of these, 2 us each as first written.)
        tokens = iter(fields)
        commits, additions, first_seen = self.commits, self.additions, self.first_seen
        source = len(commits) - 1
        for token in tokens:
            token = token.lstrip(b"\n")
            if token.startswith(b":"):
                path = next(tokens, b"")
                if len(token) == _ONE_PARENT_SHA1 and token[1] != _COLON:
                    # ":100644 100644 <old id> <new id> M": the new blob and its mode in place
                    new = token[56:96]
                    if new == _NULL_SHA1:
                        self.deletions.append((source, path))
                        continue
                    mode, oid = token[8:14], new.decode("ascii")
                elif token[1:2] != b":":  # one parent, another kind of id (sha256)
                    parts = token.split(b" ", 4)
                    mode, oid = parts[1], parts[3].decode("ascii")
                else:  # a merge: one mode and id per parent, then the result's
                    mode, oid = _result_side(token)
                if oid in _NULL_IDS:
                    self.deletions.append((source, path))
                    continue
                if mode == _GITLINK:
                    self.gitlinks += 1
                    continue
                if self.exclude is not None and self._excluded(path):
                    continue
                additions.append((source, path, oid))
                if oid not in first_seen:
                    first_seen[oid] = (source, path)
                    yield oid
            elif token.startswith(_MARK):
                sha = token[1:].decode("ascii")
                author, email, date, ref = (next(tokens, b"").decode("utf-8", "replace")
                                            for _ in range(4))
                commits.append(Commit(sha, author, email, date, ref))
                source = len(commits) - 1

    def add(self, source: int, path: bytes, oid: str) -> bool:
        """Record that commits[source] holds `oid` at `path`; whether the id is new."""
        self.additions.append((source, path, oid))
        if oid in self.first_seen:
            return False
        self.first_seen[oid] = (source, path)
        return True

    def add_source(self, source: Source) -> int:
        self.commits.append(source)
        return len(self.commits) - 1

    def add_tree(self, source: int, entries: Iterable[tuple[str, str, bytes]]) -> Iterator[str]:
        """Record a tree's (mode, id, path) entries as held by commits[source]; yield new ids."""
        for mode, oid, path in entries:
            if mode == GITLINK_MODE:
                self.gitlinks += 1
            elif not self._excluded(path) and self.add(source, path, oid):
                yield oid

    def _excluded(self, path: bytes) -> bool:
        if self.exclude is None:
            return False
        verdict = self._verdicts.get(path)
        if verdict is None:
            verdict = self._verdicts[path] = self.exclude(display(path))
            self.excluded += verdict  # distinct paths
        return verdict

    def where(self, oid: str) -> tuple[str, str]:
        """The path (printable) where an object first appeared, and what holds it there
        (`commit 0123abcd4567`, `ref refs/tags/v1`)."""
        commit, path = self.first_seen[oid]
        return display(path), self.commits[commit].describe()


def _result_side(header: bytes) -> tuple[bytes, str]:
    """Mode and blob of the commit's side of a raw diff line (`:` once per parent)."""
    parents = len(header) - len(header.lstrip(b":"))
    fields = header[parents:].split(b" ")
    return fields[parents], fields[2 * parents + 1].decode("ascii")


_GITLINK = GITLINK_MODE.encode()
# A one-parent line with sha1 ids: ":" 6 " " 6 " " 40 " " 40 " " status (one letter).
_ONE_PARENT_SHA1 = 1 + 6 + 1 + 6 + 1 + 40 + 1 + 40 + 1 + 1
_COLON = ord(":")
_NULL_SHA1 = b"0" * 40
# The ids git gives a side that has no object (a deletion): sha1 and sha256.
_NULL_IDS = frozenset({"0" * 40, "0" * 64})


def display(path: bytes) -> str:
    """A git path as printable text, in the same convention as files (akscan.terminal)."""
    return path_from_bytes(path)


def log_args(revisions: Sequence[str]) -> list[str]:
    """`git log` arguments listing the additions of every commit in `revisions`."""
    return ["log", "--raw", "-z", "--no-abbrev", "--no-renames", "-c", "--root", "--reverse",
            "--source",
            "--date-order", "--no-color", "--no-ext-diff", "--encoding=UTF-8", _FORMAT,
            *revisions, "--"]


def blob_ids(repo: git.Repo, revisions: Sequence[str], listing: Listing,
             started: git.Process | None = None) -> Iterator[str]:
    """Stream `git log` into `listing`, yielding new blob ids as they appear; `started` is that
    git log when it was started already (see `Start`).

    If git log fails part way (a missing or corrupt tree or commit), what it listed until then
    is kept and `listing.failure` says why the rest is missing.
    """
    try:
        with started or git.Process(repo, log_args(revisions)) as log:
            yield from listing.new_blobs(git.nul_fields(log.stdout))
    except git.GitError as exc:
        listing.failure = str(exc)


@dataclass
class Start:
    """The first steps of a history scan, which need only git: the objects refs reach other
    than through commits, and the `git log` of the additions, already running. With
    `--reverse`, git walks the whole history before it lists anything: started before the
    scanner loads (its modules, its engine), that walk costs no time of its own (issue 14)."""

    revisions: list[str]  # as given to git log: with the stash's older entries, date limits
    beyond: Beyond
    oversized: list[tuple[str, int]]  # (id, size) of objects over the size limit, so far
    missing: list[str]  # ids of objects that could not be read, so far
    log: git.Process | None  # None: no revision selected, nothing to list

    @classmethod
    def begin(cls, repo: git.Repo, revisions: Sequence[str], max_size: int,
              since: str | None = None, until: str | None = None) -> Start:
        oversized: list[tuple[str, int]] = []
        missing: list[str] = []
        if not revisions:  # nothing selected; git log would fall back to HEAD
            return cls([], Beyond(), oversized, missing, None)
        beyond = Beyond()
        revisions = list(revisions)
        if "--all" in revisions and since is None and until is None:
            beyond = beyond_commits(repo, max_size, lambda oid, size: oversized.append(
                (oid, size)), missing.append)
            revisions = [*revisions, *beyond.stash]
        if since is not None:
            revisions = [f"--since={since}", *revisions]
        if until is not None:
            revisions = [f"--until={until}", *revisions]
        return cls(revisions, beyond, oversized, missing,
                   git.Process(repo, log_args(revisions)))

    def stop(self) -> None:
        """Stop git log if it is still running (the scan did not take it, or failed)."""
        if self.log is not None:
            self.log.kill()
