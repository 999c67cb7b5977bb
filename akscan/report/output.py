"""Where a report goes: standard output, or a file that appears only when it is complete.

A CI job that finds `akscan.sarif` must be able to trust it is a whole report: a file is written
under a temporary name in the target's folder and renamed over the target on success (an atomic
step on POSIX), so an interrupted or failed run leaves no partial report (issue 12). The
temporary file is created before the scan starts, so an unwritable `-o` fails at once rather than
after a long scan (issue 11).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Callable
from typing import TextIO

from akscan.errors import AkscanError
from akscan.terminal import escape

STDOUT = "-"
_pending: set[ReportFile] = set()


class ReportFile:
    """A report file being prepared; `commit` writes it and puts it in place."""

    def __init__(self, target: str, what: str = "report") -> None:
        self.target = target
        self._what = what
        self._temp: str | None = None
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise self._error(exc) from None
        if mode is not None and stat.S_ISDIR(mode):
            raise AkscanError(f"cannot write {what} to {escape(target)}: it is a directory")
        if mode is not None and not stat.S_ISREG(mode):
            # /dev/stdout, a FIFO, a terminal: nothing to rename over; written in place.
            self._check_writable()
            return
        folder = os.path.dirname(os.path.abspath(target))
        while True:
            # Named and registered before it exists: a signal at any moment (they end the run
            # from the middle of this code) finds it in `_pending`, so no .partial file stays.
            self._temp = os.path.join(
                folder, f".{os.path.basename(target)}.{os.urandom(4).hex()}.partial")
            _pending.add(self)
            try:
                os.close(os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                break
            except FileExistsError:
                continue  # another run's name: draw again
            except OSError as exc:
                _pending.discard(self)
                self._temp = None
                raise self._error(exc) from None

    def commit(self, produce: Callable[[TextIO], object]) -> None:
        """Write the report with `produce(stream)` and put it at the target."""
        path = self._temp or self.target
        try:
            with open(path, "w", encoding="utf-8", newline="\n") as stream:
                produce(stream)
                stream.flush()
                if self._temp is not None:
                    os.fsync(stream.fileno())
            if self._temp is not None:
                os.chmod(self._temp, 0o666 & ~_umask())
                os.replace(self._temp, self.target)
                _pending.discard(self)
                self._temp = None
        except OSError as exc:
            self.discard()
            raise self._error(exc) from None

    def discard(self) -> None:
        """Remove the temporary file, if any; the target is left as it was."""
        _pending.discard(self)
        if self._temp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp)
            self._temp = None

    def _check_writable(self) -> None:
        if not os.access(self.target, os.W_OK):
            raise AkscanError(f"cannot write {self._what} to {escape(self.target)}: "
                              "permission denied")

    def _error(self, exc: OSError) -> AkscanError:
        return AkscanError(f"cannot write {self._what} to {escape(self.target)}: "
                           f"{exc.strerror or exc}")


def open_report(output: str | None, what: str = "report") -> ReportFile | None:
    """The file `-o` names, prepared now; None for standard output (no `-o`, or `-o -`)."""
    if output is None or output == STDOUT:
        return None
    return ReportFile(output, what)


def write_stdout(produce: Callable[[TextIO], object]) -> None:
    """Write the report to standard output; a closed or full output is an error, never a pass."""
    stream = sys.stdout
    try:
        if hasattr(stream, "reconfigure"):
            # A path with odd bytes must never crash the report on a narrow terminal encoding.
            stream.reconfigure(errors="backslashreplace")
        produce(stream)
        stream.flush()
    except OSError as exc:
        raise stdout_error(exc) from None


def stdout_error(exc: OSError) -> AkscanError:
    """The error for a report that standard output did not take (and stdout silenced, so the
    interpreter's final flush does not fail again)."""
    silence_stdout()
    reason = ("the reader closed it" if isinstance(exc, BrokenPipeError)
              else exc.strerror or str(exc))
    return AkscanError(f"cannot write the report to standard output: {reason}; the report is "
                       "incomplete")


def silence_stdout() -> None:
    """Point standard output at /dev/null, dropping what is buffered for it."""
    if sys.stdout is not sys.__stdout__:
        return  # a replaced stream (a test's capture): nothing to protect at exit
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass


def discard_pending() -> None:
    """Remove every report file not committed: the run failed or was interrupted."""
    for report in list(_pending):
        report.discard()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
