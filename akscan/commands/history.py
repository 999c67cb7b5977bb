"""`akscan history [REPO] [A..B...]`: every commit of a git repository, or a range of them."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
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

_PUSH_ADVICE = """\
akscan: push blocked: the commits being pushed contain credentials (listed above).
  - rewrite those commits without the key (git rebase -i, or git commit --amend for the last
    one); deleting it in a new commit is not enough, the old commit would still be pushed;
  - load credentials at run time instead: environment variables, a credentials file, or on ECS
    an instance RAM role;
  - if the key was ever pushed or shared anywhere, disable and rotate it in the RAM console now;
  - if it is not a real credential, mark the line with an 'akscan:allow' comment.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "history", help="scan every commit of a git repository for credentials",
        description="Scan git history: by default every commit reachable from any ref "
                    "(branches, tags, remote-tracking refs, stash). Each finding names the "
                    "commit that introduced it. REPO defaults to the current directory; A..B "
                    "ranges limit the commits scanned.",
    )
    parser.add_argument("targets", nargs="*", metavar="REPO | A..B",
                        help="the repository (default: .) and/or revision ranges such as "
                             "main..feature")
    add_history_options(parser)
    add_common_options(parser)
    parser.set_defaults(run=run)


def add_history_options(parser: argparse.ArgumentParser, selection_only: bool = False) -> None:
    """Which commits to scan and how; `selection_only` leaves out --pre-push and the sizing
    options (for a command that has them already)."""
    group = parser.add_argument_group("history")
    group.add_argument("--since", metavar="REV",
                       help="only commits not reachable from REV (e.g. the last scanned commit)")
    group.add_argument("--branch", metavar="REV", action="append", default=[],
                       help="only commits reachable from this branch, tag or commit "
                            "(repeatable; default: all refs)")
    if selection_only:
        return
    group.add_argument("--pre-push", action="store_true",
                       help="scan only the commits being pushed (pre-commit's "
                            "PRE_COMMIT_FROM_REF/TO_REF, or git's pre-push input on stdin)")
    group.add_argument("--max-file-size", metavar="SIZE", type=size_option,
                       help="report larger blobs as not scanned (default: 50MB)")
    group.add_argument("-j", "--jobs", metavar="N", type=int,
                       help="blobs to scan in parallel (default: number of CPUs)")


def run(args: argparse.Namespace) -> int:
    repo, ranges = open_target(args.targets)
    revisions = pre_push_revisions(repo) if args.pre_push else revisions_for(args, ranges)
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
    """The repository named among the positional arguments, and the ranges."""
    from akscan import git

    repo_path, ranges = split_targets(targets)
    from akscan.fleet import repos

    if repos.is_url(repo_path):  # cloned as a mirror into the cache, as the fleet scan does
        return repos.open_spec(repos.spec_for(repo_path), repos.default_cache()), ranges
    return git.open_repo(repo_path, explicit=repo_path != "."), ranges


def places_for(repo: Repo) -> list[Path]:
    """Where settings and a baseline are looked for: the repository's root, then `.`."""
    return [Path(repo.toplevel or repo.cwd), Path.cwd()]


def collect(args: argparse.Namespace, config: Config, repo: Repo,
            revisions: Sequence[str]) -> Outcome:
    """Scan the commits `revisions` selects, with the history options in `args`."""
    from akscan.pipeline.history import HistoryOptions, scan_history

    jobs = jobs_setting(args, config)
    # History scans blobs in threads, so the engine releases the GIL while matching.
    engine = build_engine(args, config, concurrent=jobs > 1)
    options = HistoryOptions(max_file_size=args.max_file_size or config.max_file_size,
                             jobs=jobs)
    if repo.shallow:
        print("akscan: warning: shallow clone: history is partial; commits before the shallow "
              "boundary are not scanned and files at the boundary are reported as introduced "
              "there (git fetch --unshallow to scan everything)", file=sys.stderr)
    if repo.partial:
        print("akscan: warning: partial clone (--filter): blobs that were not fetched cannot be "
              "scanned and are listed below; akscan does not fetch them", file=sys.stderr)
    progress = _Progress() if sys.stderr.isatty() and not args.quiet else None
    try:
        findings, stats = scan_history(repo, revisions, engine, options, progress)
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
        summary += f"; {stats.binary_skipped} binary skipped"
    if stats.too_large:
        summary += f"; {stats.too_large} over the size limit"
    if stats.gitlinks:
        summary += f"; {stats.gitlinks} submodule entries not entered (-v: why)"
    return Outcome(findings, stats.errors, stats.notes, summary, engine.rules,
                   repo.toplevel or repo.cwd)


def split_targets(targets: Sequence[str]) -> tuple[str, list[str]]:
    """The repository and the revision ranges among the positional arguments."""
    repo: str | None = None
    ranges: list[str] = []
    for target in targets:
        if repo is None and not ranges and os.path.isdir(target):
            repo = target  # even '../project', which also looks like a range
        elif ".." in target or target.startswith("^"):
            ranges.append(target)
        elif repo is None:
            repo = target
        else:
            raise AkscanError(f"{target}: expected a range such as A..B after the repository "
                              "(use --branch for a single branch)")
    return repo or ".", ranges


def revisions_for(args: argparse.Namespace, ranges: Sequence[str]) -> list[str]:
    """git log revision arguments for the options given."""
    for rev in [*ranges, *args.branch, *([args.since] if args.since else [])]:
        if rev.lstrip("^").startswith("-"):
            raise AkscanError(f"{rev}: not a revision")
    revisions = [*ranges, *args.branch] or ["--all"]
    if args.since:
        revisions += ["--not", args.since]
    return revisions


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
