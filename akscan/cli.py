"""Command line entry point: parse arguments, run one command, map errors to exit codes.

Exit codes: 0 nothing found, 1 credentials found, 2 usage or runtime error (including a scan
that could not read everything and found nothing), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from akscan import __version__
from akscan.errors import AkscanError, Terminated
from akscan.report import output

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

Any failure is exit 2 with one line on standard error (-v adds the traceback of an unexpected
one), never 1.

Settings are read from .akscan.toml, or [tool.akscan] in pyproject.toml, from the scanned
directory up to its repository root (the summary names the file); --no-config ignores the
scanned repository's own settings and baseline (for untrusted code). Secrets are never printed
in full unless --show-secrets is given.
"""


def _help_width() -> int:
    """The width argparse formats help for, found as it finds it (shutil.get_terminal_size:
    $COLUMNS, else the terminal's, else 80; less 2) but without importing shutil, with bz2 and
    lzma, which argparse does each time it makes a formatter: for every option it adds, at
    every start, for help that is rarely printed (2% of a commit hook's instructions: issue
    14)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _help_width() if width is None else width)


class _RawDescriptionHelpFormatter(_HelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on usage errors already; keep its message to one line plus a hint.
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# The commands, in the order `--help` lists them; each is the module akscan.commands.NAME.
COMMANDS = ("scan", "history", "staged", "baseline", "trail", "fleet", "completion")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """akscan's parser. With `only` (a command named first on the command line), only that
    command's module is imported and its options set up; the others are there by name only,
    which is all argparse consults once the first argument has chosen the command. A commit
    hook's run is mostly start-up, and most of that was importing every command (issue 14)."""
    parser = _Parser(
        prog="akscan", description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=_RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"akscan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        if only is None or name == only:
            importlib.import_module(f"akscan.commands.{name}").add_parser(commands)
            command = commands.choices[name]
            # The error boundary's hint ("rerun with -v") must work in every command.
            if "-v" not in command._option_string_actions:
                command.add_argument("-v", "--verbose", action="store_true",
                                     help="show the traceback of an unexpected error")
        else:
            # A name only, never used to parse: nothing more to set up (half the cost).
            commands.add_parser(name, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    closed = _guard_standard_streams()
    argv = sys.argv[1:] if argv is None else list(argv)
    # The top level takes no option with a value, so a command name first is the command.
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    previous = _stop_on_signals()
    try:
        if 1 in closed and _report_to_stdout(args):
            raise AkscanError("standard output is closed, so the report would be lost; "
                              "give -o FILE")
        code = int(args.run(args))
        _flush_stdout()
        return code
    except AkscanError as exc:
        _error(str(exc))
    except KeyboardInterrupt as exc:
        why = f" ({exc.args[0]})" if isinstance(exc, Terminated) and exc.args else ""
        _error(f"interrupted{why}", prefix="akscan: ")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Not the report's writer (that one says so itself): a reader or child went away early.
        _unexpected(args, "a pipe closed early (BrokenPipeError); any report on standard output "
                          "is incomplete")
    except RecursionError:
        _unexpected(args, "input nested too deeply to handle (RecursionError)")
    except MemoryError:
        _unexpected(args, "out of memory (MemoryError)")
    except Exception as exc:  # the boundary: anything else is a bug, never "credentials found"
        _unexpected(args, f"unexpected {type(exc).__name__}: {exc}")
    finally:
        output.discard_pending()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_ERROR


def _stop_on_signals() -> dict[int, Any]:
    """Turn SIGTERM and SIGHUP into an interruption for the whole run; the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise Terminated(signal.Signals(signum).name)

    return {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGHUP)}


def _guard_standard_streams() -> set[int]:
    """Occupy closed standard descriptors with /dev/null, so no file akscan opens lands on them
    and no message meant for standard error ends up in a report; the closed ones."""
    closed = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
    for fd in sorted(closed):
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    if 1 in closed or sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives to exit
    if 2 in closed or sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives to exit
    return closed


def _report_to_stdout(args: argparse.Namespace) -> bool:
    return hasattr(args, "format") and getattr(args, "output", None) in (None, output.STDOUT)


def _flush_stdout() -> None:
    """Flush now, so a full disk or a closed pipe is an error here and not at interpreter exit."""
    try:
        sys.stdout.flush()
    except OSError as exc:
        raise output.stdout_error(exc) from None


def _error(message: str, prefix: str = "akscan: error: ") -> None:
    """One line on standard error, safe to print: no control characters, no credentials."""
    from akscan.redaction import redact_credentials
    from akscan.terminal import escape

    line = escape(redact_credentials(" ".join(message.split("\n"))))
    try:
        print(f"{prefix}{line}", file=sys.stderr)
        sys.stderr.flush()
    except OSError:
        pass  # standard error is gone too; the exit code still tells


def _unexpected(args: argparse.Namespace, message: str) -> None:
    # What is still buffered for standard output belongs to a failed run; dropping it also keeps
    # the interpreter's last flush from failing with a second traceback.
    output.silence_stdout()
    if getattr(args, "verbose", False):
        import traceback

        with contextlib.suppress(OSError):
            traceback.print_exc(file=sys.stderr)
        _error(message)
    else:
        _error(f"{message} (rerun with -v for the traceback)")
