"""`akscan baseline [PATH... | --history [REPO] [A..B]]`: record today's findings as accepted.

Adopting akscan on an old repository is one command: the baseline is written where every later
command looks for it, so from then on only new credentials are reported.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from akscan.commands.common import add_detection_options, home, settings, settings_note


def add_parser(commands: Any) -> None:
    from akscan.baseline import DEFAULT_NAME

    parser = commands.add_parser(
        "baseline", help="record current findings so that later scans report only new ones",
        description="Scan like 'akscan scan' (or 'akscan history' with --history) and write "
                    "the findings as fingerprints (rule id, path, sha256 of the secret; never "
                    f"the secret) to {DEFAULT_NAME}. Every scanning command reads that file "
                    "from the repository root (or the scanned directory) and reports only what "
                    "is not in it.",
    )
    parser.add_argument("targets", nargs="*", metavar="PATH | REPO A..B",
                        help="files or directories (default: .); with --history, the repository "
                             "and revision ranges")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help=f"where to write the baseline (default: {DEFAULT_NAME} at the "
                             "root of the scanned repository; - for standard output)")
    parser.add_argument("--history", action="store_true",
                        help="record what is in the git history instead of the files")
    parser.add_argument("--import", metavar="FILE", dest="import_file",
                        help="record only the findings that FILE had accepted: a gitleaks JSON "
                             "report or .gitleaksignore, or a detect-secrets .secrets.baseline "
                             "(see README for how each is matched)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary on standard error")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also explain every skipped file on standard error")
    from akscan.commands.history import add_history_options
    from akscan.commands.scan import add_file_options

    add_file_options(parser)
    add_history_options(parser, selection_only=True)
    add_detection_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from akscan import baseline, baseline_import
    from akscan.allowlist import AllowlistFilter
    from akscan.commands import history, scan
    from akscan.report import output
    from akscan.terminal import escape_path, say

    accepted = baseline_import.load(args.import_file) if args.import_file else None
    if args.history:
        repo, ranges = history.open_target(args.targets)
        places = history.places_for(repo)
    else:
        args.paths = args.targets or ["."]
        places = scan.places_for(args.paths)
    # Written where every command looks for it (the repository root), its paths relative to
    # that root, so it matches whichever folder a later scan starts from (issue 11).
    destination = args.output or str(home(places) / baseline.DEFAULT_NAME)
    anchor = home([Path(destination).parent], places) if destination != output.STDOUT \
        else home(places)
    # Prepared first, so an unwritable destination fails before the scan, and a failed scan
    # leaves the old baseline in place.
    target = output.open_report(destination, "baseline")
    config = settings(args, places)
    if args.history:
        outcome = history.collect(args, config, repo, history.revisions_for(args, ranges, repo))
    else:
        outcome = scan.collect(args, config)
    findings = AllowlistFilter(config.allowlist, config.anchor,
                               outcome.base_dir).apply(outcome.findings)
    kept = [f for f in findings if not f.suppressed]
    found = len(kept)
    if accepted is not None:
        kept = accepted.matched(
            kept, lambda path: baseline.anchored(path, outcome.base_dir, str(anchor)))
    text = baseline.render(kept, outcome.base_dir, str(anchor))
    if target is None:
        output.write_stdout(lambda stream: stream.write(text))
    else:
        target.commit(lambda stream: stream.write(text))
    for message in outcome.errors:
        say(message, "warning")
    if args.verbose:
        for message in outcome.notes:
            say(message, "note")
    if not args.quiet:
        count = len({baseline.fingerprint(f) for f in kept})
        where = "standard output" if target is None else destination
        say(f"wrote {count} fingerprint(s) of {len(kept)} finding(s) to {where} "
            f"({outcome.summary}; {settings_note(args, config)})")
        if accepted is not None:
            say(f"imported from {accepted.kind} {escape_path(args.import_file)}: "
                f"{len(kept)} of {found} finding(s) matched its {accepted.entries} entr(ies); "
                f"the other {found - len(kept)} will be reported")
    return 0
