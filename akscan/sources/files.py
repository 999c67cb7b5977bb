"""Files and directories: which files to scan, honouring .gitignore and excludes.

Symbolic links are followed only when they resolve inside the scan root, and every real file or
directory is visited once, so links can neither leak the scan outside the root nor loop. The walk
keeps its own stack, so a tree of any depth is walked. Inside a git work tree, what git tracks
is scanned whatever .gitignore says, as git itself does (issue 15).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pathspec

from akscan.errors import AkscanError
from akscan.terminal import path_from_bytes

GITIGNORE = ".gitignore"
_ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class FileItem:
    fs_path: str  # what to open (may hold surrogate escapes for non-UTF-8 names)
    display: str  # what reports show: relative to the root, '/'-separated, printable
    size: int
    # The real path of the scan root the file must stay inside when opened (a link swapped in
    # after the listing must not lead out); None for files named on the command line.
    root: str | None = None
    link: bool = False  # listed as a symbolic link (inside the root); others are not followed
    stream: bool = False  # standard input, a FIFO or a device named by the user: read as it comes
    # The inode and device the listing gave (0: unknown): an open file with these is the very
    # file listed, so it is inside the root however its path's directories changed since.
    ino: int = 0
    dev: int = 0


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
    if path.isascii() and path.isprintable() and "\\" not in path and os.sep == "/":
        return path  # nothing to escape: most paths, and this is per file
    # One convention for every command (akscan.terminal), so a baseline made by `scan` matches
    # `staged` and `history` (issue 11).
    return path_from_bytes(os.fsencode(path).replace(os.sep.encode(), b"/"))


def compile_patterns(lines: Sequence[str], source: str) -> pathspec.GitIgnoreSpec:
    """The user's gitignore-style patterns (`--exclude`, `exclude` in the settings); a pattern
    that cannot be used is a one-line AkscanError naming it."""
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except (ValueError, re.error):
        for line in lines:
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
            except (ValueError, re.error) as exc:
                raise AkscanError(f"{source}: invalid pattern {line!r}: {_first_line(exc)}"
                                  ) from None
        raise


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _parents(paths: frozenset[str]) -> frozenset[str]:
    """Every directory that holds one of `paths` ('/'-separated), each found once."""
    found: set[str] = set()
    for path in paths:
        cut = path.rfind("/")
        while cut > 0:
            parent = path[:cut]
            if parent in found:
                break  # and so are its own parents
            found.add(parent)
            cut = path.rfind("/", 0, cut)
    return frozenset(found)


class _Ignores:
    """The user's excludes, and the .gitignore files that apply: those met on the way down, and
    those of the scan root's parents up to the root of the git work tree holding it. Paths git
    tracks (`tracked`, relative to the scan root) are never ignored by a .gitignore."""

    def __init__(self, excludes: Sequence[str], tracked: frozenset[str] = frozenset()) -> None:
        self._excludes = compile_patterns(excludes, "exclude") if excludes else None
        self._tracked = tracked
        self._tracked_dirs = _parents(tracked)
        # (directory relative to the scan root, path of the scan root relative to the
        # .gitignore's directory for parents' files, the patterns), outermost first.
        self._specs: list[tuple[str, str, pathspec.GitIgnoreSpec]] = []

    def add_parents(self, real_root: str, stats: WalkStats,
                    on_skip: Callable[[str], None]) -> None:
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
                self._add("", prefix, path, stats, on_skip)

    def add_gitignore(self, rel_dir: str, path: str, stats: WalkStats,
                      on_skip: Callable[[str], None]) -> None:
        self._add(rel_dir, "", path, stats, on_skip)

    def _add(self, base: str, prefix: str, path: str, stats: WalkStats,
             on_skip: Callable[[str], None]) -> None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError as exc:
            stats.errors.append(f"{display_path(path)}: cannot read .gitignore: "
                                f"{exc.strerror or exc}")
            return
        try:
            spec = pathspec.GitIgnoreSpec.from_lines(lines)
        except (ValueError, re.error):
            spec = self._usable(lines, path, stats, on_skip)
        self._specs.append((base, prefix, spec))

    @staticmethod
    def _usable(lines: list[str], path: str, stats: WalkStats,
                on_skip: Callable[[str], None]) -> pathspec.GitIgnoreSpec:
        """The patterns of a .gitignore that can be used. Git accepts patterns the translation
        to regular expressions rejects (`[9-0]` matches nothing there): dropping one that
        ignores means scanning more, which is safe; dropping a `!` one could hide files git
        would keep, so that makes the scan incomplete."""
        usable = []
        for number, line in enumerate(lines, 1):
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
            except (ValueError, re.error) as exc:
                where = f"{display_path(path)}:{number}: pattern {line!r} cannot be used " \
                        f"({_first_line(exc)})"
                if line.lstrip().startswith("!"):
                    stats.errors.append(f"{where}; files it re-includes may be skipped")
                else:
                    on_skip(f"{where}; ignored, so what it matches is scanned")
                continue
            usable.append(line)
        return pathspec.GitIgnoreSpec.from_lines(usable)

    @property
    def active(self) -> bool:
        """Whether anything can be ignored at all (most trees: no, and then no path is
        matched against anything)."""
        return self._excludes is not None or bool(self._specs)

    def drop_below(self, rel_dir: str) -> None:
        """Forget the .gitignore files of directories the walk has left."""
        self._specs = [(base, prefix, spec) for base, prefix, spec in self._specs
                       if base == "" or rel_dir == base or rel_dir.startswith(base + "/")]

    def ignored(self, rel: str, is_dir: bool) -> bool:
        name = rel + "/" if is_dir else rel
        if self._excludes is not None and self._excludes.match_file(name):
            return True
        if rel in (self._tracked_dirs if is_dir else self._tracked):
            return False  # git tracks it (or something in it): .gitignore does not apply
        verdict = False
        for base, prefix, spec in self._specs:
            if base and not rel.startswith(base + "/"):
                continue
            sub = name[len(base) + 1:] if base else name
            result = spec.check_file(prefix + sub)
            if result.include is not None:
                verdict = result.include
        return verdict


# A file the walk lists: its path relative to the scan root (as the OS spells it), whether it
# was listed as a symbolic link, and its inode as the directory listing gave it (0: unknown, or
# on another device than the scan root's).
Listed = tuple[str, bool, int]


def walk_names(
    root: str,
    excludes: Sequence[str],
    use_gitignore: bool,
    stats: WalkStats,
    on_skip: Callable[[str], None] = lambda _: None,
    tracked: frozenset[str] = frozenset(),
) -> Iterator[Listed]:
    """Every file to scan under `root` (a directory), in a stable order (depth first, by name),
    as light tuples (see `Listed`). `tracked`: the paths under `root` that git tracks, scanned
    even if .gitignore names them. No object per file beyond one tuple, no system
    call per file beyond the directory listings, and nothing kept per file, so memory does
    not grow with the number of files.

    Each file is listed once. A directory reached again (a link to it) is not entered again.
    Links to files are listed last, and only those whose file the walk did not list itself
    (ignored, or outside every directory walked); hard links (`st_nlink` over 1) are left to
    the caller, which sees that count when it opens the file (see `open_checked`)."""
    real_root = os.path.realpath(root)
    # Directories entered, by (device, inode), with the path they were entered at.
    entered_at: dict[tuple[int, int], str] = {}
    # Links to files, listed once the walk is done: (path, the file's (device, inode), its
    # real path, its link count).
    links: list[tuple[str, tuple[int, int], str, int]] = []
    ignores = _Ignores(excludes, tracked)
    if use_gitignore:
        ignores.add_parents(real_root, stats, on_skip)
    # The directories being walked, outermost first, each with its device and the entries
    # still to visit.
    stack: list[tuple[str, int, Iterator[os.DirEntry[str]]]] = []
    entered = _enter(root, "", ignores, use_gitignore, entered_at, stats, on_skip)
    if entered is None:
        return
    root_dev = entered[0]
    stack.append(("", *entered))
    while stack:
        rel, dev, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            if stack:
                ignores.drop_below(stack[-1][0])
            continue
        child_rel = f"{rel}/{entry.name}" if rel else entry.name
        try:
            # The listing's file types (d_type) answer without a system call for most entries.
            is_link = entry.is_symlink()
            if not is_link and entry.is_file(follow_symlinks=False):
                if ignores.active and ignores.ignored(child_rel, False):
                    stats.ignored += 1
                    continue
                # The inode, for the opener's check, only where the device is known to be
                # the root's (a mount point below has its own).
                yield child_rel, False, entry.inode() if dev == root_dev else 0
                continue
            real = os.path.realpath(entry.path) if is_link else ""
            if is_link and not inside(real, real_root):
                stats.symlinks_outside += 1
                on_skip(f"{display_path(child_rel)}: symlink out of the scan root, not "
                        "followed")
                continue
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:
            stats.errors.append(f"{display_path(child_rel)}: cannot stat: {exc.strerror or exc}")
            continue
        if stat.S_ISDIR(st.st_mode):
            if entry.name in _ALWAYS_SKIPPED_DIRS or (
                    ignores.active and ignores.ignored(child_rel, True)):
                stats.ignored += 1
                continue
            entered = _enter(entry.path, child_rel, ignores, use_gitignore, entered_at, stats,
                             on_skip)
            if entered is not None:
                stack.append((child_rel, *entered))
        elif not stat.S_ISREG(st.st_mode):
            stats.special += 1
            on_skip(f"{display_path(child_rel)}: not a regular file, skipped")
        elif ignores.active and ignores.ignored(child_rel, False):
            stats.ignored += 1
        elif is_link:
            links.append((child_rel, (st.st_dev, st.st_ino), real, st.st_nlink))
        else:
            yield child_rel, False, st.st_ino if st.st_dev == root_dev else 0
    if links:
        yield from _links_to_list(links, root, real_root, excludes, use_gitignore, tracked,
                                  entered_at)


def _links_to_list(
    links: Sequence[tuple[str, tuple[int, int], str, int]], root: str, real_root: str,
    excludes: Sequence[str], use_gitignore: bool, tracked: frozenset[str],
    entered_at: dict[tuple[int, int], str],
) -> Iterator[Listed]:
    """The links to files whose file the walk did not list at its own path: that path's
    directory was not entered, or the file was ignored there. Each file once."""
    listed: set[tuple[int, int]] = set()
    for rel, key, real, nlink in links:
        if key in listed:
            continue
        listed.add(key)
        if nlink == 1 and _walked_to(real, root, real_root, excludes, use_gitignore, tracked,
                                     entered_at):
            continue
        # A file with more names than one may have been listed under another: the caller
        # keeps the first it opens (see walk_names).
        yield rel, True, 0


def _walked_to(real: str, root: str, real_root: str, excludes: Sequence[str],
               use_gitignore: bool, tracked: frozenset[str],
               entered_at: dict[tuple[int, int], str]) -> bool:
    """Whether the walk listed the file at real path `real` (one name only) in its own
    directory: that directory was entered, and the file's name there not ignored."""
    try:
        folder = os.stat(os.path.dirname(real))
    except OSError:
        return False
    at = entered_at.get((folder.st_dev, folder.st_ino))
    if at is None:
        return False
    rel = f"{at}/{os.path.basename(real)}" if at else os.path.basename(real)
    if not excludes and not use_gitignore:
        return True
    # Asked again from the top: the walk has dropped the .gitignore files it used there.
    quiet = WalkStats()
    ignores = _Ignores(excludes, tracked)
    if use_gitignore:
        ignores.add_parents(real_root, quiet, lambda _: None)
        parts = rel.split("/")[:-1]
        for depth in range(len(parts) + 1):
            folder_rel = "/".join(parts[:depth])
            path = os.path.join(root, folder_rel, GITIGNORE) if folder_rel \
                else os.path.join(root, GITIGNORE)
            if os.path.isfile(path):
                ignores.add_gitignore(folder_rel, path, quiet, lambda _: None)
    return not (ignores.active and ignores.ignored(rel, False))


def _enter(
    path: str, rel: str, ignores: _Ignores, use_gitignore: bool,
    seen: dict[tuple[int, int], str], stats: WalkStats, on_skip: Callable[[str], None],
) -> tuple[int, Iterator[os.DirEntry[str]]] | None:
    """The device and sorted entries of a directory the walk enters, its .gitignore taken into
    account; None when it was seen before or cannot be listed."""
    try:
        st = os.stat(path)
        if (st.st_dev, st.st_ino) in seen:
            return None
        seen[(st.st_dev, st.st_ino)] = rel
        with os.scandir(path) as scanner:
            entries = sorted(scanner, key=lambda e: e.name)
    except OSError as exc:
        stats.errors.append(f"{display_path(path)}: cannot list directory: {exc.strerror or exc}")
        return None
    ignores.drop_below(rel)
    if use_gitignore and any(e.name == GITIGNORE for e in entries):
        ignores.add_gitignore(rel, os.path.join(path, GITIGNORE), stats, on_skip)
    return st.st_dev, iter(entries)


def inside(path: str, root: str) -> bool:
    """Whether the real path `path` is `root` or below it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
