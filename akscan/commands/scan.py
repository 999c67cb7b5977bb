"""`akscan scan [PATH...]`: files and directories in the working tree."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

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
from akscan.config import Config
from akscan.errors import AkscanError
from akscan.pipeline.files import STDIN, ScanOptions, report_base, scan_paths


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "scan", help="scan files and directories for Alibaba Cloud credentials",
        description="Scan files and directories (default: the current directory). Directories "
                    "are walked honouring .gitignore; encoded keys are decoded and archives "
                    "opened; other binary files have their printable runs scanned with the "
                    "high-precision rules. '-' reads standard input.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", default=["."],
                        help="files or directories to scan (default: .); '-' reads standard "
                             "input")
    add_file_options(parser)
    add_common_options(parser)
    parser.set_defaults(run=run)


def add_file_options(parser: argparse.ArgumentParser) -> None:
    files = parser.add_argument_group("files")
    files.add_argument("--exclude", metavar="GLOB", action="append", default=[],
                       help="skip paths matching this gitignore-style pattern (repeatable)")
    files.add_argument("--no-gitignore", action="store_true",
                       help="scan files that .gitignore would skip, such as local .env files")
    files.add_argument("--max-file-size", metavar="SIZE", type=size_option,
                       help="report larger files as not scanned (default: 50MB; e.g. 10MB, 512k)")
    files.add_argument("-j", "--jobs", metavar="N", type=int,
                       help="files to scan in parallel (default and most: number of CPUs)")
    files.add_argument("--stdin-name", metavar="NAME", default="stdin",
                       help="the path findings in standard input ('-') are reported at "
                            "(default: stdin)")


def run(args: argparse.Namespace) -> int:
    places = places_for(args.paths)
    config = settings(args, places)
    known = load_baseline(args, places)
    outcome = collect(args, config)
    return finish(args, config, outcome.findings, outcome.errors, outcome.notes, outcome.summary,
                  known, rules=outcome.rules, base_dir=outcome.base_dir)


def places_for(paths: list[str]) -> list[Path]:
    """Where settings and a baseline are looked for: from the first path's directory up to its
    repository root; never the current directory as such (issue 11)."""
    for path in paths:
        if path != STDIN and not os.path.lexists(path):
            raise AkscanError(f"{path}: no such file or directory")
    first = Path(next((p for p in paths if p != STDIN), "."))
    return [first if first.is_dir() else first.parent]


def collect(args: argparse.Namespace, config: Config) -> Outcome:
    """Scan `args.paths` with the file options in `args`."""
    engine = build_engine(args, config)
    options = ScanOptions(
        excludes=[*config.exclude, *args.exclude],
        gitignore=config.gitignore and not args.no_gitignore,
        max_file_size=args.max_file_size or config.max_file_size,
        jobs=jobs_setting(args, config),
        stdin_name=getattr(args, "stdin_name", "stdin"),
    )
    findings, stats = scan_paths(args.paths, engine, options)
    megabytes = stats.bytes_scanned / 1e6
    summary = f"{stats.files_scanned} files, {megabytes:.1f} MB in {stats.seconds:.2f}s"
    if stats.binary:
        summary += f"; {stats.binary} binary (printable runs scanned)"
    if stats.jobs_capped:
        summary += f"; -j {stats.jobs_capped[0]} capped at {stats.jobs_capped[1]} CPUs"
    if stats.ignored:
        summary += f"; {stats.ignored} ignored"
    if stats.symlinks_outside:
        summary += f"; {stats.symlinks_outside} symlinks out of the root not followed"
    if stats.special:
        summary += f"; {stats.special} FIFOs, sockets or devices not opened"
    return Outcome(findings, stats.errors, stats.notes, summary, engine.rules,
                   report_base(args.paths))
