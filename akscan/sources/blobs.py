"""Blob contents from the object database, with oversized blobs left unread."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from akscan import git


def read_blobs(
    repo: git.Repo, oids: Iterable[str], max_size: int,
    too_large: Callable[[str, int], None], describe: Callable[[str], str],
) -> Iterator[tuple[str, bytes]]:
    """(id, content) of each blob no larger than `max_size`, in order.

    Sizes come first from `cat-file --batch-check`, so a huge blob is never read only to be
    thrown away; `too_large(id, size)` is told about each one instead. A missing object is a
    corrupt repository: GitError names it and `describe(id)` says where it was needed.
    """

    def small() -> Iterator[str]:
        for oid, kind, size in git.object_sizes(repo, oids):
            if kind == "missing":
                raise git.GitError(["git", "cat-file", "--batch-check"], 0, "",
                                   f"git object {oid} ({describe(oid)}) is missing or unreadable:"
                                   " the repository is corrupt (run 'git fsck')")
            if kind != "blob":
                continue
            if size > max_size:
                too_large(oid, size)
                continue
            yield oid

    yield from git.object_contents(repo, small())
