"""The one place akscan runs git: a thin subprocess wrapper with typed errors.

Output that carries paths is always requested NUL-terminated (`-z`), so odd file names need no
unquoting. Long-running plumbing (`git log`, `git cat-file --batch`) is streamed: ids are written
from a thread while the caller reads, so neither side can fill a pipe and wait for the other.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import weakref
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, NamedTuple

from akscan.errors import AkscanError

# Variables that point git at a repository. A hook exports them (GIT_DIR=.git, GIT_INDEX_FILE),
# so they are dropped when the user names another repository explicitly.
_LOCATING_VARIABLES = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX",
)
# Settings that would change the output akscan parses. `--no-replace-objects`: what `git replace`
# hides is read as it is stored, so a replacement cannot mask a committed key (the replacement
# objects are reached through their refs/replace/ refs and scanned too).
_FIXED_CONFIG = ("--no-replace-objects", "-c", "log.showSignature=false",
                 "-c", "core.quotePath=false")
# Never fetch: in a partial clone git would otherwise fetch each missing blob from the promisor
# remote, one round trip per object. Missing objects are reported instead.
_OFFLINE = {"GIT_NO_LAZY_FETCH": "1"}
_READ_SIZE = 1 << 20
# A feed is handed to git at least every this many bytes (about a hundred object ids): `cat-file
# --batch-check` can then size the first blobs while `git log` still lists the rest.
_FEED_FLUSH = 4096
# Seconds a git whose input and output are closed has to exit before it is killed.
_END_SECONDS = 5.0


class GitError(AkscanError):
    """git failed; carries the command, its exit code and its standard error."""

    def __init__(
        self, command: Sequence[str], returncode: int, stderr: str, message: str | None = None
    ) -> None:
        self.command = tuple(command)
        self.returncode = returncode
        self.stderr = stderr
        if message is None:
            message = f"git {_subcommand(command)} failed (exit {returncode}): {_reason(stderr)}"
        super().__init__(message)


def _subcommand(command: Sequence[str]) -> str:
    args = iter(command[1:])
    for arg in args:
        if arg == "-c":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return ""


def _reason(stderr: str) -> str:
    """The line of git's standard error that says what went wrong (its last `fatal:`)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("fatal:")]
    return (fatal or lines or ["no message"])[-1]


def is_null(oid: str) -> bool:
    """The all-zero id git uses for 'no object' (sha1 or sha256)."""
    return not oid.strip("0")


class Repo(NamedTuple):  # not a dataclass: ten times cheaper to define (issue 14)
    """Where to run git, and what kind of repository it found there."""

    cwd: str
    toplevel: str | None  # the work tree's root; None for a bare repository
    shallow: bool
    env: Mapping[str, str] | None = None  # None: inherit ours
    partial: bool = False  # a partial clone (--filter): objects may be missing by design

    @property
    def bare(self) -> bool:
        return self.toplevel is None


def open_repo(path: str, explicit: bool = False) -> Repo:
    """The repository at `path`; AkscanError (one line) when there is none."""
    if not os.path.isdir(path):
        raise AkscanError(f"{path}: no such directory")
    env = _isolated_env() if explicit else None
    args = ["rev-parse", "--is-bare-repository", "--is-shallow-repository"]
    # A work tree, the usual case, in one git (a commit hook runs this every time), while a
    # second git says whether it is a partial clone: the two run at once (issue 14). A bare
    # repository, .git or no repository (where --show-toplevel fails) is asked as below.
    partial = _PartialQuery(path, env)
    try:
        lines = run(path, [*args, "--show-toplevel"], env=env).decode().split("\n", 2)
    except GitError:
        lines = []
    finally:
        is_partial = partial.answer()
    if len(lines) == 3 and lines[0] == "false" and lines[1] in ("true", "false") \
            and lines[2].endswith("\n"):
        return Repo(path, lines[2].rstrip("\n"), lines[1] == "true", env, is_partial)
    try:
        bare, shallow = run(path, args, env=env).decode().split()
    except GitError as exc:
        if "not a git repository" in exc.stderr:
            raise AkscanError(f"{path}: not a git repository") from None
        raise
    toplevel = None
    if bare != "true":
        try:
            toplevel = run(path, ["rev-parse", "--show-toplevel"], env=env).decode().rstrip("\n")
        except GitError:
            toplevel = None  # inside .git: a repository without a work tree from here
    return Repo(path, toplevel, shallow == "true", env, is_partial)


_PARTIAL_SETTINGS = ["config", "--get-regexp", r"^(remote\..*\.promisor|extensions\.partialclone)$"]


class _PartialQuery:
    """Whether a promisor remote is configured, as `git clone --filter` does: asked now,
    answered by answer(), so that another git can run meanwhile."""

    def __init__(self, path: str, env: Mapping[str, str] | None) -> None:
        try:
            self._proc = subprocess.Popen(_command(_PARTIAL_SETTINGS), cwd=path,
                                          env=_environment(env), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            raise AkscanError(f"cannot run git: {exc.strerror or exc}") from None

    def answer(self) -> bool:
        return self._proc.wait() == 0  # exit 1: no such setting


def _isolated_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _LOCATING_VARIABLES}


def _command(args: Sequence[str]) -> list[str]:
    return ["git", *_FIXED_CONFIG, *args]


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    return {**(os.environ if env is None else env), **_OFFLINE}


def run(cwd: str, args: Sequence[str], env: Mapping[str, str] | None = None,
        stdin: bytes | None = None) -> bytes:
    """Run git to completion; its standard output, or GitError."""
    command = _command(args)
    try:
        done = subprocess.run(command, cwd=cwd, env=_environment(env), input=stdin,
                              capture_output=True, check=False)
    except OSError as exc:
        raise AkscanError(f"cannot run git: {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise GitError(command, done.returncode, done.stderr.decode("utf-8", "replace"))
    return done.stdout


def run_remote(cwd: str, args: Sequence[str], timeout: float) -> bytes:
    """Run a git command that talks to a remote (clone, fetch), with a deadline.

    git never prompts: GIT_TERMINAL_PROMPT=0, no standard input, and a session of its own so
    ssh has no terminal to ask on; credentials come from git's helpers and ssh's config only.
    At the deadline git and its helpers (ssh, git-remote-https) are ended together.
    """
    command = _command(args)
    env = _isolated_env()
    env["GIT_TERMINAL_PROMPT"] = "0"
    try:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as exc:
        raise AkscanError(f"cannot run git: {exc.strerror or exc}") from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise GitError(command, -signal.SIGKILL, "",
                           f"git {_subcommand(command)} gave no answer within {timeout:g}s; "
                           "stopped") from None
        raise
    if proc.returncode != 0:
        raise GitError(command, proc.returncode, err.decode("utf-8", "replace"))
    return out


class Process:
    """A running git whose output is read as it comes; optionally fed lines from a thread."""

    def __init__(self, repo: Repo, args: Sequence[str],
                 feed: Iterable[bytes] | None = None, sends: bool = False) -> None:
        """`feed`: lines a thread writes to git's input; `sends`: the caller writes it, with
        `send` (no thread: for a few kilobytes at a time, each answered before the next)."""
        self.command = _command(args)
        # A file, so git can never block on a full stderr pipe; closed by close() or kill().
        self._stderr = _scratch_file()
        self._feed_error: BaseException | None = None
        self._sends = sends
        fed = feed is not None or sends
        try:
            self._proc = subprocess.Popen(
                self.command, cwd=repo.cwd, env=_environment(repo.env), stdout=subprocess.PIPE,
                stderr=self._stderr, stdin=subprocess.PIPE if fed else subprocess.DEVNULL,
                bufsize=_READ_SIZE,
            )
        except OSError as exc:
            self._stderr.close()
            raise AkscanError(f"cannot run git: {exc.strerror or exc}") from None
        assert self._proc.stdout is not None
        self.stdout: IO[bytes] = self._proc.stdout
        _widen_pipe(self.stdout)
        self._feeder = None
        if fed:
            _fed.add(self)
        if feed is not None:
            self._feeder = threading.Thread(target=self._write, args=(feed,), daemon=True)
            self._feeder.start()

    def send(self, data: bytes) -> None:
        """Write to git's input (a Process made with `sends`); if git stopped reading, its
        output ends and `close` says why."""
        stdin = self._proc.stdin
        assert self._sends and stdin is not None
        with contextlib.suppress(BrokenPipeError, ValueError):  # (ValueError: input ended)
            stdin.write(data)
            stdin.flush()

    def _end_input(self) -> None:
        if self._sends and self._proc.stdin is not None:
            with contextlib.suppress(OSError):  # flushing into a pipe git already closed
                self._proc.stdin.close()

    def _write(self, lines: Iterable[bytes]) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        pending = 0  # bytes written since the last flush
        try:
            for line in lines:
                stdin.write(line)
                pending += len(line)
                if pending >= _FEED_FLUSH:
                    # git gets the ids a few kilobytes at a time as they are made (by a
                    # streamed `git log`), not only when the megabyte buffer fills or the feed
                    # ends.
                    stdin.flush()
                    pending = 0
        except BrokenPipeError:
            pass  # git stopped reading; its exit status says why
        except BaseException as exc:  # re-raised in the reading thread by close()
            self._feed_error = exc
            self._proc.kill()
        finally:
            with contextlib.suppress(OSError):  # flushing into a pipe git already closed
                stdin.close()

    def close(self) -> None:
        """Wait for git; raise what went wrong in the feeding thread, or GitError."""
        self._end_input()
        returncode = self._proc.wait()
        if self._feeder is not None:
            self._feeder.join()
        self.stdout.close()
        self._stderr.seek(0)
        stderr = self._stderr.read().decode("utf-8", "replace")
        self._stderr.close()
        if self._feed_error is not None:
            raise self._feed_error
        if returncode != 0:
            raise GitError(self.command, returncode, stderr)

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._end_input()
        self.stdout.close()
        self._stderr.close()

    def end(self) -> None:
        """Stop git without asking why: its input and output closed (a git blocked writing
        what nobody will read then stops too), waited for, and killed past `_END_SECONDS`."""
        self._end_input()
        self.stdout.close()
        try:
            self._proc.wait(_END_SECONDS)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stderr.close()

    def __enter__(self) -> Process:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.kill()


def _scratch_file() -> IO[bytes]:
    """An anonymous file: in memory where the system offers one (Linux), so a commit hook
    needs neither `tempfile` (which imports shutil, bz2, lzma, random) nor a probe of the
    temporary directory (issue 14)."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("akscan-git", os.MFD_CLOEXEC), "w+b")
    import tempfile

    return tempfile.TemporaryFile()


# Running gits fed from this process. A process forked from this one (a scan worker) would
# hold the write end of their standard input open, and git would never see it end: the child
# points its copies at /dev/null instead.
_fed: weakref.WeakSet[Process] = weakref.WeakSet()


def _release_inherited_feeds() -> None:
    stdins = [proc._proc.stdin for proc in list(_fed)]
    if not stdins:
        return
    null = os.open(os.devnull, os.O_WRONLY)
    for stdin in stdins:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(null, stdin.fileno())  # type: ignore[union-attr]
    os.close(null)
    _fed.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_release_inherited_feeds)


# Ids sent to an ObjectReader's git at once: 512 sha256 ids are 33 KB, half of what a pipe
# holds before a writer waits.
_IDS_SENT = 512


class ObjectReader:
    """One long-lived `git cat-file --batch` that reads the objects asked for, a list at a
    time (a scan worker reads its own share of a history through one)."""

    def __init__(self, repo: Repo) -> None:
        # Written to from here, not by a thread: the hand-overs to one cost 5-8% of the CPU
        # of reading flask's history (issue 14).
        self._process = Process(repo, ["cat-file", "--batch"], sends=True)

    def read(self, oids: Sequence[str]) -> list[tuple[str, bytes]]:
        """(id, content) of each object, in order; GitError if one cannot be read."""
        proc = self._process
        out = []
        # A part's ids fit in the pipe to git whatever git is doing, and its objects are all
        # read before the next part is sent: neither side can wait on the other for ever.
        for start in range(0, len(oids), _IDS_SENT):
            part = oids[start:start + _IDS_SENT]
            proc.send("".join(f"{oid}\n" for oid in part).encode("ascii"))
            for _ in part:
                item = _read_object(proc)
                if item is None:
                    self.close()  # raises GitError with git's reason
                    raise GitError(proc.command, 0, "", "git cat-file stopped early")
                out.append(item)
        return out

    def close(self) -> None:
        self._process.close()

    def end(self) -> None:
        """`Process.end`: for a reader done with, whatever state it was left in."""
        self._process.end()


def _read_object(proc: Process) -> tuple[str, bytes] | None:
    """The next object of a `cat-file --batch`: (id, content), None at its end; GitError names
    an object that cannot be read."""
    header = proc.stdout.readline()
    if not header:
        return None
    parts = header.decode("ascii", "replace").split()
    if len(parts) != 3:
        raise GitError(proc.command, 0, "", f"git object {parts[0] if parts else '?'} is "
                       "missing: the repository is corrupt (see 'git fsck')")
    size = int(parts[2])
    data = proc.stdout.read(size)
    if len(data) != size or proc.stdout.read(1) != b"\n":
        return None  # git died mid-object; close() reports why
    return parts[0], data


def _widen_pipe(stream: IO[bytes]) -> None:
    """Let git write up to a megabyte ahead of the reader (Linux; the default is 64 KiB).

    While akscan works through one batch of blobs, git can go on producing the next instead of
    blocking on a full pipe, so the two overlap rather than take turns.
    """
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), _READ_SIZE)
    except (ImportError, OSError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default still works


def nul_fields(stream: IO[bytes]) -> Iterator[bytes]:
    """The NUL-terminated fields of a `-z` output, as they arrive."""
    rest = b""
    while True:
        chunk = stream.read1(_READ_SIZE) if hasattr(stream, "read1") else stream.read(_READ_SIZE)
        if not chunk:
            break
        fields = (rest + chunk).split(b"\0")
        rest = fields.pop()
        yield from fields
    if rest:
        yield rest


def object_sizes(repo: Repo, oids: Iterable[str]) -> Iterator[tuple[str, str, int]]:
    """(id, type, size) for each id, in order; type 'missing' (size -1) for absent objects."""
    feed = (f"{oid}\n".encode("ascii") for oid in oids)
    with Process(repo, ["cat-file", "--batch-check", "--buffer"], feed) as proc:
        for line in proc.stdout:
            parts = line.decode("ascii", "replace").split()
            if len(parts) == 3:
                yield parts[0], parts[1], int(parts[2])
            elif parts:
                yield parts[0], "missing", -1


def object_contents(repo: Repo, oids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """(id, content) for each id, in order; GitError names an object that cannot be read."""
    feed = (f"{oid}\n".encode("ascii") for oid in oids)
    with Process(repo, ["cat-file", "--batch", "--buffer"], feed) as proc:
        while (item := _read_object(proc)) is not None:
            yield item


def object_contents_within(
    repo: Repo, oids: Iterable[str], max_size: int
) -> Iterator[tuple[str, str, int, bytes | None]]:
    """(id, type, size, content) for each id, in order, from one `cat-file --batch`; content is
    None for an object larger than `max_size`, whose bytes are read past and never kept, and
    for a missing one (type 'missing', size -1).

    One git where object_sizes then object_contents take two: for the few objects of a commit
    hook, whose start-up is its cost (issue 14); a large object still passes through the pipe.
    """
    feed = (f"{oid}\n".encode("ascii") for oid in oids)
    with Process(repo, ["cat-file", "--batch", "--buffer"], feed) as proc:
        while header := proc.stdout.readline():
            parts = header.decode("ascii", "replace").split()
            if len(parts) == 2 and parts[1] == "missing":
                yield parts[0], "missing", -1, None
                continue
            if len(parts) != 3:
                raise GitError(proc.command, 0, "", f"unexpected answer from git cat-file: "
                               f"{header[:100]!r}")
            oid, kind, size = parts[0], parts[1], int(parts[2])
            if size > max_size:
                data = None
                left = size + 1  # and the newline after the content
                while left and (chunk := proc.stdout.read(min(left, _READ_SIZE))):
                    left -= len(chunk)
            else:
                data = proc.stdout.read(size)
                left = size - len(data) + (proc.stdout.read(1) != b"\n")
            if left:
                return  # git died mid-object; close() says why
            yield oid, kind, size, data


def local_objects(repo: Repo, kind: str) -> set[str]:
    """The ids of every object of type `kind` stored locally (loose, packed or alternate), read
    without fetching: a partial clone's missing objects are simply not listed."""
    out: set[str] = set()
    args = ["cat-file", "--batch-all-objects", "--unordered",
            "--batch-check=%(objecttype) %(objectname)"]
    with Process(repo, args) as proc:
        for line in proc.stdout:
            found, _, oid = line.decode("ascii", "replace").rstrip("\n").partition(" ")
            if found == kind:
                out.add(oid)
    return out


class Ref(NamedTuple):
    name: str
    kind: str  # the type of the object the ref points at: commit, tag, tree or blob
    oid: str


def refs(repo: Repo) -> list[Ref]:
    """Every ref, with the type of the object it points at (not peeled)."""
    out = run(repo.cwd, ["for-each-ref", "--format=%(objecttype) %(objectname) %(refname)"],
              env=repo.env)
    found = []
    for line in out.decode("utf-8", "backslashreplace").splitlines():
        kind, oid, name = line.split(" ", 2)
        found.append(Ref(name, kind, oid))
    return found


def reflog(repo: Repo, ref: str) -> list[str]:
    """`ref@{0}`, `ref@{1}`, ... for each entry of the ref's reflog (the stash list)."""
    out = run(repo.cwd, ["log", "--walk-reflogs", "--format=%gd", ref, "--"], env=repo.env)
    return out.decode("utf-8", "backslashreplace").splitlines()


# More paths than this, or longer ones in all, are looked up by listing the whole tree: the
# command line stays far below the system's limit (ARG_MAX), whatever the paths are.
_PATHS_NAMED = 1000
_PATH_BYTES_NAMED = 64 * 1024


def tree_entries(repo: Repo, tree: str, paths: Collection[bytes] | None = None
                 ) -> Iterator[tuple[str, str, bytes]]:
    """(mode, id, path) of every blob and gitlink under `tree`, recursively; with `paths`,
    at least those at these paths (from the tree's top): git then reads only the trees on
    the way to them, not the whole tree (a tip of 18k files: 20 ms of git and 20 of Python)."""
    args = ["ls-tree", "-r", "-z", "--full-tree", tree]
    if paths is not None and len(paths) <= _PATHS_NAMED \
            and sum(map(len, paths)) <= _PATH_BYTES_NAMED:
        args += ["--", *(f":(top,literal){os.fsdecode(path)}" for path in paths)]
    with Process(repo, args) as proc:
        for record in nul_fields(proc.stdout):
            info, _, path = record.partition(b"\t")
            mode, _kind, oid = info.decode("ascii").split(" ")
            yield mode, oid, path


def resolve(repo: Repo, rev: str) -> str | None:
    """The commit `rev` names (a branch, tag, sha, HEAD~2, stash@{1}), or None."""
    try:
        out = run(repo.cwd, ["rev-parse", "--verify", "--quiet", "--end-of-options",
                             f"{rev}^{{commit}}"], env=repo.env)
    except GitError:
        return None
    return out.decode("ascii", "replace").strip() or None


def is_date(repo: Repo, text: str) -> bool:
    """Whether git reads `text` as a date. git takes any text, and what it cannot read means
    'now': so a text that gives 'now' must say so ('now', 'today', ...)."""
    def stamp(value: str) -> int:
        out = run(repo.cwd, ["rev-parse", f"--since={value}"], env=repo.env).decode()
        return int(out.strip().partition("=")[2] or 0)

    if not text.strip():
        return False
    got, now = stamp(text), stamp("now")
    return abs(got - now) > 2 or text.strip().lower() in ("now", "today", "0 seconds ago")


def rev_list(repo: Repo, rev: str, started: Process | None = None) -> Iterator[str]:
    """The ids of every commit reachable from `rev`, as they stream; `started` is the
    `rev_list_process` of `rev` when it was started already."""
    with started or rev_list_process(repo, rev) as proc:
        for line in proc.stdout:
            yield line.decode("ascii", "replace").strip()


def rev_list_process(repo: Repo, rev: str) -> Process:
    """The git that `rev_list` reads, started (so that it works while the caller does)."""
    return Process(repo, ["rev-list", "--end-of-options", rev, "--"])


def tracked_paths(directory: str) -> frozenset[str] | None:
    """The files git tracks under `directory` (`git ls-files`), relative to it and
    '/'-separated as file names decode on this system; None when `directory` is in no git
    work tree or git cannot say. A directory scan uses it so that a tracked file matching
    .gitignore is still scanned, as git itself treats it (issue 15)."""
    try:
        listing = run(directory, ["ls-files", "-z", "--cached"], env=_isolated_env())
    except AkscanError:
        return None
    return frozenset(os.fsdecode(path) for path in listing.split(b"\0") if path)
