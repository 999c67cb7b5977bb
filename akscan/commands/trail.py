"""`akscan trail FILE...`: which AccessKeys ActionTrail saw in use, and from where.

The compliance check of Alibaba's AccessKey guidance, offline: calls signed with a permanent
AccessKey from a VPC are ECS instances that should use a RAM role; calls from the Internet
should come from your own public IPs or EIPs; a key found leaked in code and in use is the most
urgent thing to fix.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

_EPILOG = """\
examples:
  akscan trail actiontrail.jsonl --known-ips eips.txt
  akscan trail oss/AliyunLogs/Actiontrail/*/2024/05/*/*.gz --keys ram-keys.csv -f json -o trail.json
  akscan scan -f json -o findings.json && akscan trail export.json --findings findings.json

exit codes:
  0  nothing urgent
  1  a key found leaked (--findings) is in use, or a key was used from an unknown Internet IP
  2  usage or runtime error: bad option, unreadable input, or an input with no events
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "trail", help="report which AccessKeys ActionTrail saw in use, from where",
        description="Read ActionTrail events (SLS exports as JSON lines, OSS delivery files, "
                    "JSON arrays; gzip or not) and report, per permanent AccessKey, the calls "
                    "from VPCs (ECS instances that should use a RAM role) and from the "
                    "Internet (your IPs or unknown ones), leaked keys in use, and unused keys.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="ActionTrail event files; - reads standard input")
    parser.add_argument("--known-ips", metavar="FILE",
                        help="your public IPs and EIPs, one IP or CIDR per line (# comments); "
                             "Internet calls from anywhere else are alerts")
    parser.add_argument("--keys", metavar="FILE",
                        help="your AccessKey IDs (one per line, or a RAM console CSV): keys "
                             "with no calls are listed as cleanup candidates")
    parser.add_argument("--findings", metavar="FILE",
                        help="an akscan JSON report: keys found leaked that are in use are "
                             "alerts (matched by sha256, never by the key itself)")
    bounds = parser.add_argument_group("limits (issue 12: a gzip bomb must not run for hours)")
    bounds.add_argument("--max-decompressed", metavar="SIZE", default="16GiB",
                        help="stop reading a gzip input past this much decompressed data "
                             "(default 16GiB; reaching it is a warning and exit 2)")
    bounds.add_argument("--max-ratio", metavar="N", type=_whole("ratio"), default=200,
                        help="stop reading a gzip input that inflates more than N times, past "
                             "its first 256 MiB (default 200; trails compress 10 to 30 times)")
    parser.add_argument("-j", "--jobs", metavar="N", type=_whole("jobs"),
                        help="worker processes reading a long input's JSON lines (default and "
                             "most: number of CPUs; 1: none; inputs under 32 MiB start none)")
    out = parser.add_argument_group("output")
    out.add_argument("-f", "--format", choices=("text", "json", "csv"), default="text",
                     help="report format (default: text)")
    out.add_argument("-o", "--output", metavar="FILE",
                     help="write the report to FILE instead of standard output")
    out.add_argument("--show-key-ids", action="store_true",
                     help="print AccessKey IDs in full (by default redacted, with sha256)")
    out.add_argument("-q", "--quiet", action="store_true", help="no summary on standard error")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from akscan import __version__
    from akscan.config import parse_size
    from akscan.model import sha256_hex
    from akscan.report import output
    from akscan.terminal import escape_path, say
    from akscan.trail import inputs
    from akscan.trail.aggregate import Trail
    from akscan.trail.reader import Limits
    from akscan.trail.report import Context, build

    started = time.monotonic()
    limits = Limits(max_decompressed=parse_size(args.max_decompressed), max_ratio=args.max_ratio)
    target = output.open_report(args.output)  # an unwritable -o fails now, not after reading
    known = inputs.load_known_ips(args.known_ips) if args.known_ips else None
    key_list = inputs.load_key_list(args.keys) if args.keys else None
    leaks = inputs.load_leaks(args.findings) if args.findings else {}
    trail = Trail(known.__contains__ if known is not None else _nobody,
                  is_leaked=lambda key_id: sha256_hex(key_id) in leaks)
    summaries, errors = _read_all(args.files, trail, limits, args.jobs or _cpus())
    document = build(trail, Context(
        tool_version=__version__, inputs=summaries, known_ips_given=known is not None,
        key_list=key_list, leaks=leaks, show_key_ids=args.show_key_ids,
    ))
    _write(args, document, target)
    malformed = [s for s in summaries if s.malformed]
    if malformed:
        first = malformed[0]
        say(f"{sum(s.malformed for s in summaries)} malformed record(s) skipped (first: "
            f"{escape_path(first.path)} line {first.first_malformed})", "warning")
    for message in errors:
        say(message, "warning")
    for note in document["summary"]["caps_reached"]:
        say(f"cap reached: {note}", "warning")
    alerts = document["alerts"]
    if not args.quiet:
        verdict = f"{len(alerts)} alert(s)" if alerts else "no alerts"
        say(f"{verdict}; {document['summary']['events']} events, "
            f"{document['summary']['permanent_keys']} permanent key(s) in use "
            f"({time.monotonic() - started:.1f}s)")
    if alerts:
        return 1
    return 2 if errors else 0


def _whole(what: str) -> Callable[[str], int]:
    """An option's type: a whole number, 1 or more (`what` names it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"invalid {what} {text!r}: a whole number, 1 or more")
        return value

    return parse


def _nobody(ip: str) -> bool:
    return False


def _cpus() -> int:
    import os

    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _read_all(files: list[str], trail: Any, limits: Any, jobs: int = 1
              ) -> tuple[list[Any], list[str]]:
    from akscan.terminal import escape_path
    from akscan.trail.reader import open_input
    from akscan.trail.report import InputSummary

    summaries: list[InputSummary] = []
    errors: list[str] = []
    for name in files:
        summary = InputSummary(name)
        summaries.append(summary)
        try:
            raw = open_input(name)
        except OSError as exc:
            summary.error = f"cannot read: {exc.strerror or exc}"
            errors.append(f"{escape_path(name)}: {summary.error}")
            continue
        try:
            events = _read(raw, summary, trail, limits, jobs)
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()
        if summary.error:
            errors.append(f"{escape_path(name)}: {summary.error}; read up to there")
        elif not events:  # an empty file is as likely a wrong path as an empty trail
            errors.append(f"{escape_path(name)}: no ActionTrail events ({summary.malformed} "
                          "malformed record(s))")
    return summaries, errors


def _read(raw: BinaryIO, summary: Any, trail: Any, limits: Any = None, jobs: int = 1,
          **folding: Any) -> int:
    """Fold the events of one input into `trail`; the number of events."""
    from akscan.trail.fast import Folder
    from akscan.trail.reader import DEFAULT_LIMITS, ReadStats, read_records

    stats = ReadStats()
    folder = Folder(trail, stats, jobs, **folding)
    add_record = folder.add_record
    try:
        for record, line in read_records(raw, stats, limits or DEFAULT_LIMITS, folder.take,
                                         folder.parallel()):
            add_record(record, line)
    except OSError as exc:  # a read error on a plain file
        stats.error = f"read error: {exc.strerror or exc}"
    folder.flush()
    events = folder.events
    summary.records = stats.records
    summary.malformed, summary.first_malformed = stats.malformed, stats.first_malformed
    summary.error = summary.error or stats.error
    return events


def _write(args: argparse.Namespace, document: dict[str, Any], target: Any) -> None:
    from akscan.report import output
    from akscan.trail.render import WRITERS

    write = WRITERS[args.format]
    if target is None:
        output.write_stdout(lambda stream: write(stream, document))
    else:
        target.commit(lambda stream: write(stream, document))
