"""`akscan staged [FILE...]`: the staged version of files, for a pre-commit hook."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from akscan.commands.common import (
    add_common_options,
    build_engine,
    finish,
    load_baseline,
    settings,
    size_option,
)
from akscan.errors import AkscanError

if TYPE_CHECKING:
    from akscan.model import Finding

ADVICE = """\
akscan: commit blocked: the staged changes contain credentials (listed above). To fix it:
  - remove the key from the file and stage the change again (git add);
  - load it at run time instead: environment variables (ALIBABA_CLOUD_ACCESS_KEY_ID and
    ALIBABA_CLOUD_ACCESS_KEY_SECRET), a credentials file (~/.alibabacloud/credentials), or on
    ECS an instance RAM role;
  - if the key was ever pushed or shared, disable and rotate it in the RAM console now:
    removing it from the code does not take it back;
  - if it is not a real credential, add an 'akscan:allow' comment on that line.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "staged", help="scan the staged version of files (for a pre-commit hook)",
        description="Scan what 'git commit' would record: the staged (index) version of the "
                    "FILEs, or of every staged change when none are named. Changes not staged "
                    "are ignored.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="files to scan (default: every staged change)")
    parser.add_argument("--exclude", metavar="GLOB", action="append", default=[],
                        help="skip paths matching this gitignore-style pattern, from the "
                             "repository root (repeatable; added to the exclude setting)")
    parser.add_argument("--max-file-size", metavar="SIZE", type=size_option,
                        help="report larger files as not scanned (default: 50MB)")
    add_common_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from akscan import git
    from akscan.commands.history import excluder
    from akscan.pipeline.content import ContentResult, member_suffix, scan_stream
    from akscan.sources import archives
    from akscan.sources.blobs import read_blobs_at_once
    from akscan.sources.staged import staged_blobs
    from akscan.terminal import path_from_bytes as display  # as git_log.display, without it

    started = time.monotonic()
    repo = git.open_repo(".")
    if repo.toplevel is None:
        raise AkscanError("akscan staged needs a work tree (this is a bare repository)")
    places = [Path(repo.toplevel)]  # the repository's settings, wherever the hook runs from
    config = settings(args, places)
    known = load_baseline(args, places)
    engine = build_engine(args, config)
    max_size = args.max_file_size or config.max_file_size
    notes: list[str] = []
    entries = staged_blobs(repo, args.files, notes)
    excluded = excluder([*config.exclude, *args.exclude])
    skipped = 0
    paths: dict[str, list[str]] = {}
    for path, oid in entries:
        shown = display(path)
        if excluded is not None and excluded(shown):
            skipped += 1
            notes.append(f"{shown}: excluded by the exclude setting or --exclude")
            continue
        paths.setdefault(oid, []).append(shown)
    errors: list[str] = []
    findings: list[Finding] = []
    scanned = 0

    def too_large(oid: str, size: int) -> None:
        errors.extend(f"{p}: {size} bytes is over the size limit of {max_size} bytes; not "
                      "scanned (raise max_file_size)" for p in paths[oid])

    def handle(oid: str, result: ContentResult) -> None:
        nonlocal scanned
        scanned += len(paths[oid])
        errors.extend(result.errors)
        notes.extend(result.notes)
        for path in paths[oid]:  # the same content staged at several paths
            findings.extend(f.moved_to(path + member_suffix(f.path, paths[oid][0]))
                            for f in result.findings)

    def missing(oid: str) -> None:
        errors.extend(f"{p}: staged blob {oid} is missing from the repository; not scanned "
                      "(run 'git fsck')" for p in paths[oid])

    blobs = read_blobs_at_once(repo, list(paths), max_size, too_large, missing)
    scan_stream(blobs, engine, 1 if len(paths) < 8 else config.jobs, lambda oid: paths[oid][0],
                handle, archives.Limits(max_member=max_size))
    summary = f"{scanned} staged files in {time.monotonic() - started:.2f}s"
    if skipped:
        summary += f"; {skipped} excluded"
    code = finish(args, config, findings, errors, notes, summary, known, rules=engine.rules,
                  base_dir=repo.toplevel)
    if code == 1:
        print(ADVICE, end="", file=sys.stderr)
    return code

