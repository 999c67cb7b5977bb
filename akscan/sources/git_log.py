"""Git history as (commit, path, blob) additions, read from one streamed `git log`.

`git log --raw` lists, for every commit, the paths whose blob differs from its parent; for a merge,
`-c` keeps only the paths that differ from *every* parent, which is exactly what the merge itself
brought (a conflict resolution, an evil merge). With `--reverse --date-order` parents come before
children, so the first commit that adds a (path, blob) is the one that introduced it there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from akscan import git
from akscan.terminal import path_from_bytes

GITLINK_MODE = "160000"  # a submodule: the id is a commit in another repository
_MARK = b"\x01"
_FORMAT = "--format=%x01%H%x00%an%x00%ae%x00%aI"


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    date: str  # ISO 8601, author date

    def origin(self) -> tuple[tuple[str, str], ...]:
        return (("commit", self.sha), ("author", self.author), ("email", self.email),
                ("date", self.date))


@dataclass
class Listing:
    """What the log said, gathered while it streams."""

    commits: list[Commit] = field(default_factory=list)
    # (index into commits, path at that commit, blob id), oldest commit first
    additions: list[tuple[int, bytes, str]] = field(default_factory=list)
    # blob id -> (commit index, path) where it first appeared, to name it in messages
    first_seen: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    gitlinks: int = 0

    def new_blobs(self, fields: Iterable[bytes]) -> Iterator[str]:
        """Record every addition; yield each blob id the first time it appears."""
        tokens = iter(fields)
        for token in tokens:
            token = token.lstrip(b"\n")
            if token.startswith(_MARK):
                sha = token[1:].decode("ascii")
                author, email, date = (next(tokens, b"").decode("utf-8", "replace")
                                       for _ in range(3))
                self.commits.append(Commit(sha, author, email, date))
            elif token.startswith(b":"):
                path = next(tokens, b"")
                mode, oid = _result_side(token)
                if git.is_null(oid):
                    continue  # deleted here
                if mode == GITLINK_MODE:
                    self.gitlinks += 1
                    continue
                commit = len(self.commits) - 1
                self.additions.append((commit, path, oid))
                if oid not in self.first_seen:
                    self.first_seen[oid] = (commit, path)
                    yield oid

    def where(self, oid: str) -> tuple[str, str]:
        """The path (printable) and commit where a blob first appeared."""
        commit, path = self.first_seen[oid]
        return display(path), self.commits[commit].sha


def _result_side(header: bytes) -> tuple[str, str]:
    """Mode and blob of the commit's side of a raw diff line (`:` once per parent)."""
    parents = len(header) - len(header.lstrip(b":"))
    fields = header[parents:].decode("ascii").split(" ")
    return fields[parents], fields[2 * parents + 1]


def display(path: bytes) -> str:
    """A git path as printable text, in the same convention as files (akscan.terminal)."""
    return path_from_bytes(path)


def log_args(revisions: Sequence[str]) -> list[str]:
    """`git log` arguments listing the additions of every commit in `revisions`."""
    return ["log", "--raw", "-z", "--no-abbrev", "--no-renames", "-c", "--root", "--reverse",
            "--date-order", "--no-color", "--no-ext-diff", "--encoding=UTF-8", _FORMAT,
            *revisions, "--"]


def blob_ids(repo: git.Repo, revisions: Sequence[str], listing: Listing) -> Iterator[str]:
    """Stream `git log` into `listing`, yielding new blob ids as they appear."""
    with git.Process(repo, log_args(revisions)) as log:
        yield from listing.new_blobs(git.nul_fields(log.stdout))
