"""Files and directories: which files to scan, honouring .gitignore and excludes.

Symbolic links are followed only when they resolve inside the scan root, and every real file or
directory is visited once, so links can neither leak the scan outside the root nor loop.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pathspec

from akscan.terminal import path_from_bytes

GITIGNORE = ".gitignore"
_ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class FileItem:
    fs_path: str  # what to open (may hold surrogate escapes for non-UTF-8 names)
    display: str  # what reports show: relative to the root, '/'-separated, printable
    size: int


@dataclass
class WalkStats:
    ignored: int = 0
    symlinks_outside: int = 0
    special: int = 0  # FIFOs, sockets, devices: never opened, since reading them can block
    errors: list[str] = field(default_factory=list)


def display_path(path: str) -> str:
    """A path as text that any stream can print: undecodable bytes and control characters
    (which could split a report line or drive the terminal) become escapes, a backslash
    `\\\\` (see akscan.terminal.escape_path)."""
    # One convention for every command (akscan.terminal), so a baseline made by `scan` matches
    # `staged` and `history` (issue 11).
    return path_from_bytes(os.fsencode(path).replace(os.sep.encode(), b"/"))


class _Ignores:
    """The user's excludes, and the .gitignore files that apply: those met on the way down, and
    those of the scan root's parents up to the root of the git work tree holding it."""

    def __init__(self, excludes: Sequence[str]) -> None:
        self._excludes = pathspec.GitIgnoreSpec.from_lines(excludes) if excludes else None
        # (directory relative to the scan root, path of the scan root relative to the
        # .gitignore's directory for parents' files, the patterns), outermost first.
        self._specs: list[tuple[str, str, pathspec.GitIgnoreSpec]] = []

    def add_parents(self, real_root: str, stats: WalkStats) -> None:
        parents = []
        here = real_root
        if os.path.exists(os.path.join(here, ".git")):
            return  # the scan root is the work tree's root
        while True:
            parent = os.path.dirname(here)
            if parent == here:
                return  # not inside a git work tree: parents' .gitignore files do not apply
            parents.append(parent)
            if os.path.exists(os.path.join(parent, ".git")):
                break
            here = parent
        for parent in reversed(parents):
            path = os.path.join(parent, GITIGNORE)
            if os.path.isfile(path):
                prefix = os.path.relpath(real_root, parent).replace(os.sep, "/") + "/"
                self._add("", prefix, path, stats)

    def add_gitignore(self, rel_dir: str, path: str, stats: WalkStats) -> None:
        self._add(rel_dir, "", path, stats)

    def _add(self, base: str, prefix: str, path: str, stats: WalkStats) -> None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                spec = pathspec.GitIgnoreSpec.from_lines(handle.read().splitlines())
        except (OSError, ValueError) as exc:
            stats.errors.append(f"{display_path(path)}: cannot read .gitignore: {exc}")
            return
        self._specs.append((base, prefix, spec))

    def drop_below(self, rel_dir: str) -> None:
        """Forget the .gitignore files of directories the walk has left."""
        self._specs = [(base, prefix, spec) for base, prefix, spec in self._specs
                       if base == "" or rel_dir == base or rel_dir.startswith(base + "/")]

    def ignored(self, rel: str, is_dir: bool) -> bool:
        name = rel + "/" if is_dir else rel
        if self._excludes is not None and self._excludes.match_file(name):
            return True
        verdict = False
        for base, prefix, spec in self._specs:
            if base and not rel.startswith(base + "/"):
                continue
            sub = name[len(base) + 1:] if base else name
            result = spec.check_file(prefix + sub)
            if result.include is not None:
                verdict = result.include
        return verdict


def walk(
    root: str,
    excludes: Sequence[str],
    use_gitignore: bool,
    stats: WalkStats,
    on_skip: Callable[[str], None] = lambda _: None,
) -> Iterator[FileItem]:
    """Every file to scan under `root` (a directory), in a stable order."""
    real_root = os.path.realpath(root)
    seen: set[tuple[int, int]] = set()
    ignores = _Ignores(excludes)
    if use_gitignore:
        ignores.add_parents(real_root, stats)
    yield from _walk_dir(root, "", real_root, ignores, use_gitignore, seen, stats, on_skip)


def _walk_dir(
    path: str, rel: str, real_root: str, ignores: _Ignores, use_gitignore: bool,
    seen: set[tuple[int, int]], stats: WalkStats, on_skip: Callable[[str], None],
) -> Iterator[FileItem]:
    try:
        st = os.stat(path)
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as exc:
        stats.errors.append(f"{display_path(path)}: cannot list directory: {exc.strerror or exc}")
        return
    ignores.drop_below(rel)
    if use_gitignore and any(e.name == GITIGNORE for e in entries):
        ignores.add_gitignore(rel, os.path.join(path, GITIGNORE), stats)
    for entry in entries:
        child_rel = f"{rel}/{entry.name}" if rel else entry.name
        try:
            is_link = entry.is_symlink()
            if is_link and not _inside(os.path.realpath(entry.path), real_root):
                stats.symlinks_outside += 1
                on_skip(f"{display_path(child_rel)}: symlink out of the scan root, not followed")
                continue
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:
            stats.errors.append(f"{display_path(child_rel)}: cannot stat: {exc.strerror or exc}")
            continue
        if stat.S_ISDIR(st.st_mode):
            if entry.name in _ALWAYS_SKIPPED_DIRS or ignores.ignored(child_rel, True):
                stats.ignored += 1
                continue
            yield from _walk_dir(entry.path, child_rel, real_root, ignores, use_gitignore,
                                 seen, stats, on_skip)
            ignores.drop_below(rel)
        elif stat.S_ISREG(st.st_mode):
            if ignores.ignored(child_rel, False):
                stats.ignored += 1
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            yield FileItem(entry.path, display_path(child_rel), st.st_size)
        else:
            stats.special += 1
            on_skip(f"{display_path(child_rel)}: not a regular file, skipped")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
