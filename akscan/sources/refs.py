"""What `git log --all` does not show: annotated tags' messages, trees and blobs that a ref
points at directly (`git tag v1 <blob>`), and the stash list's older entries.

`git log --all` peels every ref to a commit and silently skips refs to anything else; it sees
`refs/stash` (stash@{0}) but not the stash's reflog, where stash@{1} and older live.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from akscan import git
from akscan.sources.blobs import read_objects

STASH = "refs/stash"


@dataclass(frozen=True)
class TagMessage:
    oid: str
    ref: str
    tagger: str
    email: str
    date: str
    message: bytes


@dataclass
class Beyond:
    tags: list[TagMessage] = field(default_factory=list)
    # (object id, the ref that reaches it, the tag object on the way or '')
    trees: list[tuple[str, str, str]] = field(default_factory=list)
    blobs: list[tuple[str, str, str]] = field(default_factory=list)
    stash: list[str] = field(default_factory=list)  # stash@{1}, ... as revisions


def beyond_commits(
    repo: git.Repo, max_size: int, too_large: Callable[[str, int], None],
    missing: Callable[[str], None],
) -> Beyond:
    """Every tag object, tree and blob reachable from a ref other than through a commit."""
    found = Beyond()
    frontier: list[tuple[str, str]] = []  # (tag id, ref)
    for ref in git.refs(repo):
        if ref.kind == "tag":
            frontier.append((ref.oid, ref.name))
        elif ref.kind == "tree":
            found.trees.append((ref.oid, ref.name, ""))
        elif ref.kind == "blob":
            found.blobs.append((ref.oid, ref.name, ""))
        if ref.name == STASH:
            found.stash = git.reflog(repo, STASH)[1:]  # stash@{0} is refs/stash itself
    seen: set[str] = set()
    while frontier:  # a tag may point at a tag: one round per level of nesting
        refs_of: dict[str, str] = {}
        for oid, name in frontier:
            if oid not in seen:
                seen.add(oid)
                refs_of.setdefault(oid, name)
        frontier = []
        for oid, data in read_objects(repo, list(refs_of), max_size, too_large, missing,
                                      ("tag",)):
            tag = _parse_tag(oid, refs_of[oid], data)
            found.tags.append(tag)
            target, kind = _target(data)
            if kind == "tag":
                frontier.append((target, tag.ref))
            elif kind == "tree":
                found.trees.append((target, tag.ref, oid))
            elif kind == "blob":
                found.blobs.append((target, tag.ref, oid))
    return found


def _headers(data: bytes) -> tuple[dict[bytes, bytes], bytes]:
    head, _, message = data.partition(b"\n\n")
    headers: dict[bytes, bytes] = {}
    for line in head.split(b"\n"):
        name, _, value = line.partition(b" ")
        headers.setdefault(name, value)
    return headers, message


def _target(data: bytes) -> tuple[str, str]:
    headers, _ = _headers(data)
    return (headers.get(b"object", b"").decode("ascii", "replace"),
            headers.get(b"type", b"").decode("ascii", "replace"))


def _parse_tag(oid: str, ref: str, data: bytes) -> TagMessage:
    headers, message = _headers(data)
    name, email, date = person(headers.get(b"tagger", b""))
    return TagMessage(oid, ref, name, email, date, message)


def person(line: bytes) -> tuple[str, str, str]:
    """(name, email, ISO 8601 date) of a `Name <email> 1700000000 +0100` header value."""
    text = line.decode("utf-8", "replace")
    name, _, rest = text.partition(" <")
    email, _, when = rest.partition("> ")
    try:
        seconds, zone = when.split()
        sign = -1 if zone.startswith("-") else 1
        offset = datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
        date = datetime.datetime.fromtimestamp(int(seconds), datetime.timezone(offset))
        return name, email, date.isoformat()
    except (ValueError, IndexError, OverflowError, OSError):
        return name, email, ""


def commit_message(data: bytes) -> bytes:
    """The message of a raw commit object: what follows its headers."""
    return data.partition(b"\n\n")[2]
