"""`akscan fleet [REPO...] [--repos FILE]`: the history of many repositories, incrementally;
`akscan fleet report`: the same report from the store, without scanning."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from akscan import __version__, baseline, validate
from akscan.allowlist import AllowlistFilter
from akscan.commands.common import (
    add_common_options,
    build_engine,
    exit_code,
    load_baseline,
    settings,
    size_option,
)
from akscan.errors import AkscanError
from akscan.fleet import repos
from akscan.fleet.report import PRESENT, RepoStatus, write_json, write_sarif_dir, write_text
from akscan.fleet.store import STORE_NAME, Store
from akscan.fleet.task import SCANNED, EngineSpec, Job, Result
from akscan.model import Finding
from akscan.report import ReportContext, output

DEFAULT_SPLIT = 256 << 20
Writer = Callable[[TextIO, Sequence[Finding], Sequence[RepoStatus], ReportContext], None]


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "fleet", help="scan the history of many repositories, incrementally",
        description="Scan every commit of many repositories (local paths, or git URLs cloned "
                    "as mirrors into the cache and fetched on later runs). Only commits not "
                    "scanned before are scanned; findings are kept in a SQLite store in the "
                    "cache, one credential with all its locations. 'akscan fleet report' "
                    "reports from the store without scanning.",
    )
    parser.add_argument("targets", nargs="*", metavar="REPO",
                        help="a local repository or a git URL (https://, ssh://, git@host:, "
                             "file://); 'report' first: report from the store only")
    group = parser.add_argument_group("fleet")
    group.add_argument("--repos", metavar="FILE",
                       help="a list of repositories, one a line, '#' comments")
    group.add_argument("--cache", metavar="DIR",
                       help="mirrors and the store (default: $XDG_CACHE_HOME/akscan, else "
                            "~/.cache/akscan)")
    group.add_argument("--full", action="store_true",
                       help="scan every commit again, not only what is new since the last run")
    group.add_argument("-j", "--jobs", metavar="N", type=int, default=os.cpu_count() or 1,
                       help="repositories scanned at once by local worker processes "
                            "(default: number of CPUs)")
    group.add_argument("--dask", metavar="ADDRESS",
                       default=os.environ.get("DASK_SCHEDULER_ADDRESS"),
                       help="run the scans on this Dask scheduler, e.g. tcp://host:8786 "
                            "(default: $DASK_SCHEDULER_ADDRESS; needs akscan[dask])")
    group.add_argument("--worker-cache", metavar="DIR",
                       help="where Dask workers keep their mirrors (default: each worker's "
                            "own per-user cache)")
    group.add_argument("--split-size", metavar="SIZE", type=size_option, default=DEFAULT_SPLIT,
                       help="a repository larger than this on disk is scanned as several tasks "
                            "on its first scan (default: 256MB)")
    group.add_argument("--git-timeout", metavar="SECONDS", type=float,
                       default=repos.DEFAULT_NETWORK_TIMEOUT,
                       help="give up on a clone or fetch after this long (default: 600)")
    group.add_argument("--max-file-size", metavar="SIZE", type=size_option,
                       help="report larger blobs as not scanned (default: 50MB)")
    add_common_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    report_only = bool(args.targets) and args.targets[0] == "report"
    targets = args.targets[1:] if report_only else args.targets
    specs = repos.specs(targets, args.repos)
    if not specs and not report_only:
        raise AkscanError("no repositories: name them, or give --repos FILE")
    if args.format == "sarif" and not args.output:
        raise AkscanError("--format sarif writes one file per repository: give -o FOLDER")
    cache = Path(args.cache) if args.cache else repos.default_cache()
    places = [Path.cwd()]  # never the scanned repositories' own settings: they are not trusted
    config = settings(args, places)
    known = load_baseline(args, places)
    store_path = cache / STORE_NAME
    keys = [s.key for s in specs] or None
    if report_only:
        with Store(store_path, writer=False) as store:
            return _finish(args, config, store, keys, "", known)
    with Store(store_path, writer=True) as store:
        summary = _scan(args, config, store, specs, cache)
        return _finish(args, config, store, keys, summary, known)


def _scan(args: argparse.Namespace, config: Any, store: Store, specs: Sequence[repos.RepoSpec],
          cache: Path) -> str:
    from akscan.fleet import runner
    from akscan.fleet.changes import unchanged
    from akscan.fleet.progress import Progress

    if args.jobs < 1:
        raise AkscanError("--jobs must be at least 1")
    names = {s.key: s.name for s in specs}
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    previous = {spec.key: store.previous(spec.key) for spec in specs}
    same = set() if args.full else unchanged(specs, previous, cache, args.git_timeout)
    for key in same:  # exactly as last scanned: nothing to do, nothing lost
        store.record(key, names[key], Result(key, SCANNED, tips=previous[key].tips,
                                             head=previous[key].head), now)
    todo = [spec for spec in specs if spec.key not in same]
    # The engine is built only when there is something to scan (a quiet night costs little).
    engine_spec = EngineSpec.of(build_engine(args, config)) if todo else None
    jobs = [Job(spec, engine_spec, cache=args.worker_cache if args.dask else str(cache),
                max_file_size=args.max_file_size or config.max_file_size,
                network_timeout=args.git_timeout,
                previous=() if args.full else previous[spec.key].tips,
                previous_head=previous[spec.key].head, known_paths=previous[spec.key].paths,
                split_bytes=args.split_size)
            for spec in todo if engine_spec is not None]
    progress = Progress(len(jobs)) if sys.stderr.isatty() and not args.quiet else None
    counts = {"added": 0, "commits": 0, "bytes": 0}
    try:
        backend = runner.make_backend(args.jobs, args.dask) if jobs else runner.Inline()
        for _job, result in runner.run(jobs, backend):
            added = store.record(result.key, names[result.key], result, now)
            counts["added"] += added
            counts["commits"] += result.commits
            counts["bytes"] += result.bytes
            if progress is not None:
                progress.update(result.bytes, added)
            _tell(result, names[result.key], args.verbose)
    finally:
        if progress is not None:
            progress.clear()
    return (f"{len(specs)} repositories ({len(same)} unchanged), "
            f"{counts['commits']} new commits, "
            f"{counts['bytes'] / 1e6:.1f} MB scanned, {counts['added']} new location(s)")


def _tell(result: Result, name: str, verbose: bool) -> None:
    if verbose:
        for message in result.errors:
            print(f"akscan: note: {repos.redact_url(name)}: {message}", file=sys.stderr)


def _finish(args: argparse.Namespace, config: Any, store: Store, keys: Sequence[str] | None,
            summary: str, known: baseline.Baseline | None) -> int:
    """Report every finding the store holds for these repositories; the exit code."""
    rows = store.repositories(keys)
    statuses = [RepoStatus(r.name, r.status, r.reason, r.commits, r.blobs) for r in rows]
    findings = [_with_place(loc.finding, loc.repository, loc.present)
                for loc in store.locations(keys)]
    findings = AllowlistFilter(config.allowlist).apply(findings)
    if known:
        findings = baseline.apply(findings, known)
    active = [f for f in findings if not f.suppressed]
    shown = findings if args.include_suppressed else active
    options = validate.from_args(args)
    if options is not None:
        # validate_findings tests each distinct pair once, however many places it was found.
        checked = dict(zip(map(id, active), validate.validate_findings(active, options)))
        active = [checked[id(f)] for f in active]
        shown = [checked.get(id(f), f) for f in shown]
    context = ReportContext(tool_version=__version__, show_secrets=args.show_secrets,
                            command="fleet", sarif_category=args.sarif_category)
    _write(args, shown, statuses, context)
    incomplete = [s for s in statuses if s.status != SCANNED]
    for s in incomplete:
        print(f"akscan: warning: {s.repository}: {s.status}: {s.reason}", file=sys.stderr)
    if not args.quiet:
        credentials = len({f.secret_sha256 for f in active})
        verdict = (f"{credentials} credential(s) at {len(active)} location(s)" if active
                   else "no credentials found")
        problems = (f", {len(incomplete)} of {len(statuses)} repositories not fully scanned"
                    if incomplete else "")
        print(f"akscan: {verdict}{problems}{f' ({summary})' if summary else ''}",
              file=sys.stderr)
    return exit_code(args, active, [s.reason for s in incomplete])


def _with_place(finding: Finding, repository: str, present: bool | None) -> Finding:
    flag = "unknown" if present is None else str(present).lower()
    return dataclasses.replace(
        finding, origin=(("repository", repository), *finding.origin, (PRESENT, flag)))


def _plain(name: str) -> Writer:
    """A report format that knows nothing of repositories (HTML): they are in each finding's
    origin, and the repositories not scanned are said on standard error."""
    from akscan.report import reporters

    write = reporters()[name]
    return lambda stream, findings, _statuses, context: write(stream, findings, context)


def _write(args: argparse.Namespace, findings: Sequence[Finding],
           statuses: Sequence[RepoStatus], context: ReportContext) -> None:
    if args.format == "sarif":
        written = write_sarif_dir(args.output, findings, statuses, context)
        if not args.quiet:
            print(f"akscan: wrote {len(written)} SARIF file(s) to {args.output}", file=sys.stderr)
        return
    writer = {"json": write_json, "text": write_text}.get(args.format, _plain(args.format))
    def produce(stream: TextIO) -> None:
        writer(stream, findings, statuses, context)

    # As every command: the file appears whole or not at all; a closed stdout is an error.
    report = output.open_report(args.output)
    if report is not None:
        report.commit(produce)
    else:
        output.write_stdout(produce)

