"""`akscan history [REPO] [A..B...]`: every commit of a git repository, or a range of them."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from akscan.commands.common import (
    Outcome,
    add_common_options,
    build_engine,
    finish,
    jobs_setting,
    load_baseline,
    settings,
    size_option,
)
from akscan.errors import AkscanError

if TYPE_CHECKING:
    from akscan.config import Config
    from akscan.git import Repo
    from akscan.pipeline.history import HistoryStats
    from akscan.sources.git_log import Start

_PUSH_ADVICE = """\
akscan: push blocked: the commits being pushed contain credentials (listed above).
  - rewrite those commits without the key (git rebase -i, or git commit --amend for the last
    one); deleting it in a new commit is not enough, the old commit would still be pushed;
  - load credentials at run time instead: environment variables, a credentials file, or on ECS
    an instance RAM role;
  - if the key was ever pushed or shared anywhere, disable and rotate it in the RAM console now;
  - if it is not a real credential: an 'akscan:allow' comment cannot change a commit already
    made, so accept it in the baseline instead ('akscan baseline --history' at the repository
    root, then commit .akscan-baseline.json), or list its secret_sha256 under
    [allowlist] fingerprints in .akscan.toml.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "history", help="scan every commit of a git repository for credentials",
        description="Scan git history: by default everything reachable from any ref "
                    "(branches, tags, remote-tracking refs, the stash list), commit and tag "
                    "messages included. Each finding names the commit that introduced it. "
                    "REPO defaults to the current directory; revisions select commits as "
                    "for git log (main, v1.0, main..feature, ^old).",
    )
    parser.add_argument("targets", nargs="*", metavar="REPO | REV",
                        help="the repository (default: .) and/or revisions as for git log: a "
                             "branch, tag or commit, or a range such as main..feature")
    add_history_options(parser)
    add_common_options(parser)
    parser.set_defaults(run=run)


def add_history_options(parser: argparse.ArgumentParser, selection_only: bool = False) -> None:
    """Which commits to scan and how; `selection_only` leaves out --pre-push and the sizing
    options (for a command that has them already)."""
    group = parser.add_argument_group("history")
    group.add_argument("--since", "--after", metavar="DATE",
                       help="only commits more recent than DATE, as git log --since "
                            "(2024-01-31, '2 weeks ago'); for commits not reachable from a "
                            "commit C, give the range C..")
    group.add_argument("--until", "--before", metavar="DATE",
                       help="only commits older than DATE, as git log --until")
    group.add_argument("--branch", metavar="REV", action="append", default=[],
                       help="only commits reachable from this branch, tag or commit "
                            "(repeatable; default: all refs)")
    if selection_only:
        return
    group.add_argument("--exclude", metavar="GLOB", action="append", default=[],
                       help="skip paths matching this gitignore-style pattern, from the "
                            "repository root (repeatable; added to the exclude setting)")
    group.add_argument("--pre-push", action="store_true",
                       help="scan only the commits being pushed (pre-commit's "
                            "PRE_COMMIT_FROM_REF/TO_REF, or git's pre-push input on stdin)")
    group.add_argument("--max-file-size", metavar="SIZE", type=size_option,
                       help="report larger blobs as not scanned (default: 50MB)")
    group.add_argument("-j", "--jobs", metavar="N", type=int,
                       help="blobs to scan in parallel (default: number of CPUs)")


def run(args: argparse.Namespace) -> int:
    repo, ranges = open_target(args.targets)
    revisions = pre_push_revisions(repo) if args.pre_push else revisions_for(args, ranges, repo)
    places = places_for(repo)
    config = settings(args, places)
    known = load_baseline(args, places)
    outcome = collect(args, config, repo, revisions)
    code = finish(args, config, outcome.findings, outcome.errors, outcome.notes, outcome.summary,
                  known, rules=outcome.rules, base_dir=outcome.base_dir)
    if code == 1 and args.pre_push:
        print(_PUSH_ADVICE, end="", file=sys.stderr)
    return code


def open_target(targets: Sequence[str]) -> tuple[Repo, list[str]]:
    """The repository named among the positional arguments, and the revisions."""
    from akscan import git

    repo_path, revisions = split_targets(targets)
    if _is_url(repo_path):  # cloned as a mirror into the cache, as the fleet scan does
        from akscan.fleet import repos

        return repos.open_spec(repos.spec_for(repo_path), repos.default_cache()), revisions
    try:
        return git.open_repo(repo_path, explicit=repo_path != "."), revisions
    except AkscanError:
        if repo_path == "." and revisions:  # `akscan history some/dir` outside a repository
            raise AkscanError(f"{revisions[0]}: no such directory, and no git repository here "
                              "to look it up in as a revision") from None
        raise


def places_for(repo: Repo) -> list[Path]:
    """Where settings and a baseline are looked for: the repository's root (for a bare one, its
    folder), never the current directory, which may be another project (issue 11)."""
    return [Path(repo.toplevel or repo.cwd)]


def collect(args: argparse.Namespace, config: Config, repo: Repo,
            revisions: Sequence[str]) -> Outcome:
    """Scan the commits `revisions` selects, with the history options in `args`."""
    from akscan.sources.git_log import Start

    # git starts walking the history now, while the scanner below loads.
    begun = Start.begin(repo, revisions, args.max_file_size or config.max_file_size,
                        args.since, args.until)
    try:
        return _collect(args, config, repo, revisions, begun)
    finally:
        begun.stop()


def _collect(args: argparse.Namespace, config: Config, repo: Repo, revisions: Sequence[str],
             begun: Start) -> Outcome:
    from akscan.pipeline.history import HistoryOptions, scan_history

    jobs = jobs_setting(args, config)
    # Blobs are scanned in worker processes (one engine each), so the engine need not release
    # the GIL while matching, which costs CPU.
    engine = build_engine(args, config)
    options = HistoryOptions(max_file_size=args.max_file_size or config.max_file_size, jobs=jobs,
                             exclude=excluder([*config.exclude, *args.exclude]),
                             since=args.since, until=args.until, processes=True)
    if repo.shallow:
        print("akscan: warning: shallow clone: history is partial; commits before the shallow "
              "boundary are not scanned and files at the boundary are reported as introduced "
              "there (git fetch --unshallow to scan everything)", file=sys.stderr)
    if repo.partial:
        print("akscan: warning: partial clone (--filter): blobs that were not fetched cannot be "
              "scanned and are listed below; akscan does not fetch them", file=sys.stderr)
    progress = _Progress() if sys.stderr.isatty() and not args.quiet else None
    try:
        findings, stats = scan_history(repo, revisions, engine, options, progress, begun)
    finally:
        if progress is not None:
            progress.clear()
    summary = (f"{stats.commits} commits, {stats.blobs_scanned} unique blobs, "
               f"{stats.messages} messages, "
               f"{stats.bytes_scanned / 1e6:.1f} MB in {stats.seconds:.2f}s")
    if repo.shallow:
        summary += "; shallow clone"
    if stats.missing:
        summary += f"; {stats.missing} objects missing"
        summary += " (partial clone)" if repo.partial else ""
    if stats.excluded:
        summary += f"; {stats.excluded} paths excluded"
    if stats.binary_skipped:
        summary += f"; {stats.binary_skipped} binary (printable runs scanned)"
    if stats.too_large:
        summary += f"; {stats.too_large} over the size limit"
    if stats.gitlinks:
        summary += f"; {stats.gitlinks} submodule entries not entered (-v: why)"
    return Outcome(findings, stats.errors, stats.notes, summary, engine.rules,
                   repo.toplevel or repo.cwd)


def split_targets(targets: Sequence[str]) -> tuple[str, list[str]]:
    """The repository and the revisions among the positional arguments: the first one is the
    repository if it is a directory or a git URL, everything else is a revision (as for git log)."""
    if targets and (os.path.isdir(targets[0]) or _is_url(targets[0])):
        return targets[0], list(targets[1:])  # even '../project', which also looks like a range
    return ".", list(targets)


def _is_url(text: str) -> bool:
    """Whether `text` is a git URL, as the fleet scan tells them; its module (tempfile, shutil,
    hashlib...) is loaded only for a text with a colon, which every URL has (issue 14)."""
    if ":" not in text:
        return False
    from akscan.fleet.repos import is_url

    return is_url(text)


def revisions_for(args: argparse.Namespace, revisions: Sequence[str],
                  repo: Repo | None = None) -> list[str]:
    """git log revision arguments for the options given; each one is checked against `repo`,
    so a typo is an error rather than an empty scan."""
    for rev in [*revisions, *args.branch]:
        if rev.lstrip("^").startswith("-"):
            raise AkscanError(f"{rev}: not a revision")
    if repo is not None:
        for rev in [*revisions, *args.branch]:
            _check_revision(repo, rev)
        for option in ("since", "until"):
            _check_date(repo, option, getattr(args, option))
    return [*revisions, *args.branch] or ["--all"]


def _check_revision(repo: Repo, rev: str) -> None:
    from akscan import git

    ends = [rev.lstrip("^")]
    for dots in ("...", ".."):
        if dots in rev:
            ends = [end for end in rev.split(dots, 1) if end]  # A.. means A..HEAD
            break
    for end in ends:
        if git.resolve(repo, end) is None:
            raise AkscanError(f"{rev}: no such directory, and not a revision of the repository "
                              f"in {repo.toplevel or repo.cwd}")


def _check_date(repo: Repo, option: str, value: str | None) -> None:
    """git reads any text as a date (an unreadable one as 'now'): refuse what it cannot read,
    and a commit given where a date is expected (what --since meant before)."""
    from akscan import git

    if value is None:
        return
    if git.resolve(repo, value) is not None:
        raise AkscanError(f"--{option} {value}: takes a date, as git log does; for the commits "
                          f"not reachable from {value}, give the range {value}..")
    if not git.is_date(repo, value):
        raise AkscanError(f"--{option} {value}: not a date git can read (try 2024-01-31 or "
                          "'2 weeks ago')")


def excluder(patterns: Sequence[str]) -> Callable[[str], bool] | None:
    """A test for paths (from the repository root) that match gitignore-style `patterns`."""
    if not patterns:
        return None
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    return spec.match_file


def pre_push_revisions(repo: Repo) -> list[str]:
    """The commits being pushed, from pre-commit's variables or git's pre-push input.

    pre-commit sets PRE_COMMIT_FROM_REF and PRE_COMMIT_TO_REF, except when the push includes a
    root commit: then what is new is the local branch minus what the remote already has.
    """
    env = os.environ
    if env.get("PRE_COMMIT_FROM_REF") and env.get("PRE_COMMIT_TO_REF"):
        return [f"{env['PRE_COMMIT_FROM_REF']}..{env['PRE_COMMIT_TO_REF']}"]
    remote = env.get("PRE_COMMIT_REMOTE_NAME")
    remotes = f"--remotes={remote}" if remote else "--remotes"
    if env.get("PRE_COMMIT") == "1":
        return [env.get("PRE_COMMIT_LOCAL_BRANCH") or "HEAD", "--not", remotes]
    if sys.stdin.isatty():
        raise AkscanError("--pre-push needs PRE_COMMIT_FROM_REF and PRE_COMMIT_TO_REF (set by "
                          "pre-commit) or git's pre-push lines on standard input")
    return _from_push_lines(repo, sys.stdin.read(), remotes)


def _from_push_lines(repo: Repo, text: str, remotes: str) -> list[str]:
    """`<local ref> <local sha> <remote ref> <remote sha>` lines, as git gives a pre-push hook."""
    from akscan import git

    local: list[str] = []
    known: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4 or git.is_null(parts[1]):
            continue  # a deletion pushes no commits
        local.append(parts[1])
        if not git.is_null(parts[3]) and _exists(repo, parts[3]):
            known.append(parts[3])
    if not local:
        return []
    return [*local, "--not", *known, remotes]


def _exists(repo: Repo, sha: str) -> bool:
    from akscan import git

    try:
        git.run(repo.cwd, ["cat-file", "-e", f"{sha}^{{commit}}"], env=repo.env)
    except git.GitError:
        return False
    return True


class _Progress:
    """One self-overwriting line on a terminal's standard error, at most ten times a second."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, stats: HistoryStats) -> None:
        import time

        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        sys.stderr.write(f"\r\033[Kakscan: {stats.commits} commits, {stats.blobs_scanned} blobs,"
                         f" {stats.bytes_scanned / 1e6:.1f} MB")
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
