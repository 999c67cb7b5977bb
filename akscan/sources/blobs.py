"""Object contents from the object database, with oversized and missing objects left unread."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator

from akscan import git


def read_blobs(
    repo: git.Repo, oids: Iterable[str], max_size: int,
    too_large: Callable[[str, int], None], missing: Callable[[str], None],
) -> Iterator[tuple[str, bytes]]:
    """(id, content) of each blob no larger than `max_size`, in order; see read_objects."""
    return git.object_contents(
        repo, (oid for oid, _ in blob_sizes(repo, oids, max_size, too_large, missing)))


def read_blobs_at_once(
    repo: git.Repo, oids: Iterable[str], max_size: int,
    too_large: Callable[[str, int], None], missing: Callable[[str], None],
) -> Iterator[tuple[str, bytes]]:
    """read_blobs for a commit's staged blobs: one git reads them all, where read_blobs asks
    their sizes from another first; a blob over `max_size` (rare there) still passes through
    the pipe, unkept."""
    for oid, kind, size, data in git.object_contents_within(repo, _local(repo, oids, missing),
                                                            max_size):
        if kind == "missing":
            missing(oid)
        elif kind != "blob":
            continue
        elif data is None:
            too_large(oid, size)
        else:
            yield oid, data


def blob_sizes(
    repo: git.Repo, oids: Iterable[str], max_size: int,
    too_large: Callable[[str, int], None], missing: Callable[[str], None],
) -> Iterator[tuple[str, int]]:
    """(id, size) of each blob no larger than `max_size`, in order; see object_sizes.

    In a partial clone git stops at the first absent blob (it may not fetch it, and will not
    say 'missing'), so the ids are first checked against the blobs stored locally.
    """
    return object_sizes(repo, _local(repo, oids, missing), max_size, too_large, missing,
                        ("blob",))


def blob_then_commit_sizes(
    repo: git.Repo, blobs: Iterable[str], commits: Callable[[], Iterable[str]], max_size: int,
    too_large: Callable[[str, int], None], missing: Callable[[str], None],
) -> Iterator[tuple[str, int]]:
    """blob_sizes of `blobs`, then object_sizes of the commits that `commits()` gives once
    every blob was asked for, from one `cat-file --batch-check`: it answers for the commits
    while the caller still works through the blobs, rather than a second git being started
    and waited on after them."""
    local = _local(repo, blobs, missing)

    def asked() -> Iterator[str]:
        yield from local
        yield from commits()

    return object_sizes(repo, asked(), max_size, too_large, missing, ("blob", "commit"))


def _local(repo: git.Repo, oids: Iterable[str], missing: Callable[[str], None]
           ) -> Iterable[str]:
    """The blob ids, less (each told to `missing`) those a partial clone does not hold."""
    if not repo.partial:
        return oids
    return _present(oids, git.local_objects(repo, "blob"), missing)


def _present(oids: Iterable[str], local: set[str], missing: Callable[[str], None]
             ) -> Iterator[str]:
    """The ids in `local`; each other one is told to `missing`."""
    for oid in oids:
        if oid in local:
            yield oid
        else:
            missing(oid)


def read_objects(
    repo: git.Repo, oids: Iterable[str], max_size: int,
    too_large: Callable[[str, int], None], missing: Callable[[str], None],
    kinds: Collection[str],
) -> Iterator[tuple[str, bytes]]:
    """(id, content) of each object of one of `kinds` no larger than `max_size`, in order.

    Sizes come first from `cat-file --batch-check`, so a huge object is never read only to be
    thrown away; `too_large(id, size)` is told about each one instead. An object that is not
    in the repository (a damaged one) is told to `missing(id)` and the rest is still read.
    """

    wanted = object_sizes(repo, oids, max_size, too_large, missing, kinds)
    yield from git.object_contents(repo, (oid for oid, _ in wanted))


def object_sizes(
    repo: git.Repo, oids: Iterable[str], max_size: int,
    too_large: Callable[[str, int], None], missing: Callable[[str], None],
    kinds: Collection[str],
) -> Iterator[tuple[str, int]]:
    """(id, size) of each object of one of `kinds` no larger than `max_size`, in order, from
    `cat-file --batch-check`: what read_objects reads (and tells `too_large` and `missing`
    of the rest), for a caller that reads the contents elsewhere (scan workers)."""
    for oid, kind, size in git.object_sizes(repo, oids):
        if kind == "missing":
            missing(oid)
            continue
        if kind not in kinds:
            continue
        if size > max_size:
            too_large(oid, size)
            continue
        yield oid, size
