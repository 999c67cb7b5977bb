"""Command line entry point: parse arguments, run one command, map errors to exit codes.

Exit codes: 0 nothing found, 1 credentials found, 2 usage or runtime error (including a scan
that could not read everything and found nothing), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from akscan import __version__
from akscan.errors import AkscanError

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

_DESCRIPTION = """\
akscan finds Alibaba Cloud credentials (AccessKey IDs and secrets, STS tokens) in files before
they leak, and tells you what to do about each one.

examples:
  akscan scan                      scan the current directory (honours .gitignore)
  akscan scan src/ config/app.yml  scan some directories and files
  akscan scan --format json -o findings.json
  akscan scan --format sarif -o akscan.sarif   for GitHub code scanning
  akscan history                   every commit of the repository here, all refs
  akscan staged                    what 'git commit' would record (a pre-commit hook)
  akscan baseline                  accept today's findings; later scans report only new ones
  akscan scan --validate           also ask Alibaba Cloud which found keys still work
  akscan fleet --repos repos.txt   every repository listed, only what is new since last run
  akscan trail events.jsonl --known-ips eips.txt
                                   which AccessKeys ActionTrail saw in use, from where
"""

_EPILOG = """\
exit codes:
  0  nothing found
  1  credentials found
  2  usage or runtime error, or files that could not be scanned (and nothing found)
With --validate --fail-on live: 1 only for a live key; 0 when none is live; 2 also when a key
could not be checked (no answer), since a live key cannot then be ruled out.

Settings are read from .akscan.toml, or [tool.akscan] in pyproject.toml, in the scanned directory
or the current one. Secrets are never printed in full unless --show-secrets is given.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on usage errors already; keep its message to one line plus a hint.
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from akscan.commands import baseline, fleet, history, scan, staged, trail

    parser = _Parser(
        prog="akscan", description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"akscan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    scan.add_parser(commands)
    history.add_parser(commands)
    staged.add_parser(commands)
    baseline.add_parser(commands)
    trail.add_parser(commands)
    fleet.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.run(args))
    except AkscanError as exc:
        print(f"akscan: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("akscan: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (say, `| head`) has gone; point stdout at /dev/null so the interpreter's
        # final flush stays quiet, and exit as the findings would have.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FINDINGS
