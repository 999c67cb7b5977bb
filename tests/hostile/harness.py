"""Run akscan as a real process on hostile input and check that it behaves.

Every case checks the same things (issue 12): the exit code, at most one one-line error, no
traceback, no raw control characters in what reaches a terminal, no process left behind, and
optionally a memory ceiling. A deadline stops a hung run; it is a hang detector, not a timing
assertion: the time per MB is measured in benchmarks/bench_hostile.py.

Two ways to use it from a `tests/hostile/test_*.py` module:

- call `run_akscan([...], cwd=tmp_path)` (or `spawn(...)` to signal the process), then
  `check(result, exit=2, error=r"...")`;
- register a generator with `@case(...)` and parametrise one test over `cases_in(__name__)`:
  the benchmark then runs the same generator at full size (`large=True`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]

# Generous: a run this long on CI-sized input is a hang, whatever the machine's load.
DEFAULT_DEADLINE = 120.0
# A process of the run still alive this long after akscan exited is an orphan.
ORPHAN_GRACE = 2.0

# What may appear raw in output: newline and tab. Everything else in Unicode's Cc (C0, DEL, C1)
# and the bidi controls that reorder a line on screen must arrive escaped.
# A custom rule that backtracks on BUSY_LINE until --regex-timeout: a scan given it and a file
# holding that line is known to be mid-work when a test acts, whatever the machine's speed.
SLOW_RULE = """
[[rules]]
id = "test-slow-rule"
description = "backtracks for ever on a long run of x (tests only)"
kind = "access-key-secret"
severity = "low"
precision = "low"
keywords = ["slowpoke"]
pattern = '''slowpoke(?P<secret>(?:x|xx)+y)'''
remediation = "none"

[rules.examples]
positive = ["slowpokexxy"]
negative = ["slowpoke"]
"""
BUSY_LINE = "slowpoke" + "x" * 80 + "\n"

_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ALLOWED = {"\n", "\t"}
_ERROR_LINE = re.compile(r"^akscan(?: [\w-]+)?: error: ")

Stdout = str | Path  # "pipe", "closed", or a file to write to (e.g. /dev/full)


@dataclass
class Result:
    """What one akscan process did."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_kib: int  # high-water RSS of akscan, or of the largest process it started
    timed_out: bool = False
    orphans: list[str] = field(default_factory=list)  # "pid cmdline" of processes left behind

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_kib / 1024

    def describe(self) -> str:
        return (f"akscan {' '.join(self.args)[:200]}\n  exit {self.returncode} in "
                f"{self.seconds:.1f}s, peak RSS {self.peak_rss_mib:.0f} MiB"
                f"{', TIMED OUT' if self.timed_out else ''}"
                f"{', orphans: ' + '; '.join(self.orphans) if self.orphans else ''}\n"
                f"  stdout: {self.stdout[-1500:]!r}\n  stderr: {self.stderr[-3000:]!r}")


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This checkout first on the path, no colour, a fixed locale, no inherited git location."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS"}
           and not k.startswith(("GIT_", "PRE_COMMIT"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("LC_ALL", "C.UTF-8")
    env.update(extra or {})
    return env


class Process:
    """One `python -m akscan` in its own session, so everything it starts can be found."""

    def __init__(self, args: Sequence[str], *, cwd: Path, stdin: bytes | None = None,
                 stdout: Stdout = "pipe", env: dict[str, str] | None = None,
                 program: Sequence[str] | None = None) -> None:
        self.args = [str(a) for a in args]
        # `program` replaces `python -m akscan`: only the harness's own tests use it.
        command = [*(program or [sys.executable, "-m", "akscan"]), *self.args]
        self._out_file: IO[bytes] | None = None
        out: int | IO[bytes]
        preexec: Callable[[], None] | None = None
        if stdout == "pipe":
            out = subprocess.PIPE
        elif stdout == "closed":
            out = subprocess.DEVNULL
            preexec = _close_stdout
        else:
            self._out_file = open(stdout, "wb")  # noqa: SIM115 - closed in wait()
            out = self._out_file
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            command, cwd=cwd, env=subprocess_env(env),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=preexec,
        )
        self.pid = self.popen.pid
        self._chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self._readers = [self._reader(name, pipe) for name, pipe in
                         (("stdout", self.popen.stdout), ("stderr", self.popen.stderr)) if pipe]
        if stdin is not None:
            threading.Thread(target=_feed, args=(self.popen.stdin, stdin), daemon=True).start()

    def _reader(self, name: str, pipe: IO[bytes]) -> threading.Thread:
        def drain() -> None:
            for chunk in iter(lambda: pipe.read(65536), b""):
                self._chunks[name].append(chunk)
        thread = threading.Thread(target=drain, daemon=True)
        thread.start()
        return thread

    def signal(self, signum: int) -> None:
        """Send a signal to akscan itself (not its group: akscan must pass it on)."""
        os.kill(self.pid, signum)

    def wait(self, deadline: float = DEFAULT_DEADLINE) -> Result:
        """Wait for akscan to exit (killing its whole session past the deadline), then check
        that nothing it started is still running."""
        timed_out, status, usage = False, 0, None
        peak, polls = 0, 0
        while True:
            # VmHWM, not ru_maxrss: a forked child's ru_maxrss starts at its parent's RSS (a
            # test process that built a big input), exec or not; VmHWM starts fresh at exec.
            peak = max(peak, _high_water(self.pid))
            if polls % 25 == 0:  # the processes it started (workers), twice a second
                peak = max([peak, *map(_high_water, _session_pids(self.pid))])
            polls += 1
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - self.started > deadline:
                timed_out = True
                _kill_session(self.pid)
                _, status, usage = os.wait4(self.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.monotonic() - self.started
        self.popen.returncode = os.waitstatus_to_exitcode(status)
        orphans = _leftovers(self.pid, ORPHAN_GRACE)
        if orphans:
            _kill_session(self.pid)
        for reader in self._readers:
            reader.join(10)
        if self._out_file is not None:
            self._out_file.close()
        return Result(self.args, self.popen.returncode, _text(self._chunks["stdout"]),
                      _text(self._chunks["stderr"]), seconds, peak or usage.ru_maxrss,
                      timed_out, orphans)


def spawn(args: Sequence[str], *, cwd: Path, stdin: bytes | None = None,
          stdout: Stdout = "pipe", env: dict[str, str] | None = None,
          program: Sequence[str] | None = None) -> Process:
    """Start akscan; call `.signal(...)` and `.wait()` on what it returns."""
    return Process(args, cwd=cwd, stdin=stdin, stdout=stdout, env=env, program=program)


def run_akscan(args: Sequence[str], *, cwd: Path, stdin: bytes | None = None,
               stdout: Stdout = "pipe", env: dict[str, str] | None = None,
               deadline: float = DEFAULT_DEADLINE) -> Result:
    """Run akscan to completion as a real process and return what it did."""
    return spawn(args, cwd=cwd, stdin=stdin, stdout=stdout, env=env).wait(deadline)


def raw_controls(text: str) -> list[str]:
    """The control characters in text that a terminal would act on, as their code points."""
    return sorted({f"U+{ord(c):04X}" for c in text
                   if c not in _ALLOWED and (unicodedata.category(c) == "Cc" or c in _BIDI)})


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if _ERROR_LINE.match(line)]


def check(result: Result, *, exit: int | Collection[int], error: str | None = None,
          max_rss_mib: float | None = None, stdout_controls: bool = False) -> None:
    """Assert akscan behaved: finished, expected exit code, clean one-line error, nothing left.

    `error` is a regular expression the one error line must contain; it is required to exist
    when given, and any error line at all is then exactly one. `stdout_controls=True` skips the
    control-character check on stdout for formats that are not for a terminal.
    """
    why = result.describe()
    assert not result.timed_out, f"hung past the deadline\n{why}"
    assert not result.orphans, f"processes left behind\n{why}"
    expected = {exit} if isinstance(exit, int) else set(exit)
    assert result.returncode in expected, f"exit {result.returncode}, expected {expected}\n{why}"
    assert "Traceback (most recent call last)" not in result.stderr + result.stdout, why
    for name, text in (("stderr", result.stderr), ("stdout", result.stdout)):
        if name == "stdout" and stdout_controls:
            continue
        found = raw_controls(text)
        assert not found, f"raw control characters {found} in {name}\n{why}"
    errors = error_lines(result.stderr)
    assert len(errors) <= 1, f"more than one error line\n{why}"
    if error is not None:
        assert errors, f"no 'akscan: error:' line\n{why}"
        assert re.search(error, errors[0]), f"error line does not match {error!r}\n{why}"
    if result.returncode == 2 and error is not None:
        assert len(errors[0]) < 400, f"error line too long to be one line\n{why}"
    if max_rss_mib is not None:
        assert result.peak_rss_mib <= max_rss_mib, (
            f"peak RSS {result.peak_rss_mib:.0f} MiB over {max_rss_mib} MiB\n{why}")


# --- registered cases: the same generator at CI size in tests and at full size in the benchmark --

@dataclass
class Invocation:
    """What a case runs: akscan's arguments, the size of the hostile input, optional stdin."""

    args: list[str]
    input_bytes: int
    stdin: bytes | None = None
    env: dict[str, str] | None = None


Builder = Callable[[Path, bool], Invocation]  # (empty work directory, large) -> Invocation


@dataclass(frozen=True)
class Case:
    name: str
    module: str
    build: Builder
    exit: int | frozenset[int]
    error: str | None = None
    max_rss_mib: float | None = None
    stdout_controls: bool = False

    def run(self, workdir: Path, *, large: bool = False,
            deadline: float = DEFAULT_DEADLINE) -> tuple[Invocation, Result]:
        inv = self.build(workdir, large)
        result = run_akscan(inv.args, cwd=workdir, stdin=inv.stdin, env=inv.env,
                            deadline=deadline)
        return inv, result

    def check(self, result: Result) -> None:
        check(result, exit=self.exit, error=self.error, max_rss_mib=self.max_rss_mib,
              stdout_controls=self.stdout_controls)


CASES: dict[str, Case] = {}


def case(name: str, *, exit: int | Collection[int], error: str | None = None,
         max_rss_mib: float | None = None,
         stdout_controls: bool = False) -> Callable[[Builder], Builder]:
    """Register a hostile input generator under a unique name (used as the test id)."""
    def register(build: Builder) -> Builder:
        assert name not in CASES, f"hostile case {name!r} registered twice"
        codes = exit if isinstance(exit, int) else frozenset(exit)
        CASES[name] = Case(name, build.__module__, build, codes, error, max_rss_mib,
                           stdout_controls)
        return build
    return register


def cases_in(module: str) -> list[Case]:
    """The cases a test module registered, for `pytest.mark.parametrize`."""
    return [c for c in CASES.values() if c.module == module]


# --- process plumbing ---------------------------------------------------------------------------

def _close_stdout() -> None:
    os.close(1)


def _feed(pipe: IO[bytes] | None, data: bytes) -> None:
    if pipe is None:
        return
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError):
        pass  # akscan stopped reading; that is its right


def _text(chunks: list[bytes]) -> str:
    # Undecodable bytes become U+FFFD, which is not a control character: invalid UTF-8 in
    # output is ugly, not dangerous; raw ESC is what the check is for.
    return b"".join(chunks).decode("utf-8", "replace")


def _high_water(pid: int) -> int:
    """VmHWM of a process in KiB, or 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _session_pids(sid: int) -> list[int]:
    return [int(member.split(" ", 1)[0]) for member in _session_members(sid)]


def _session_members(sid: int) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == sid:
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            # Fields after the parenthesised command: state ppid pgrp session ...
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] == "Z" or (int(fields[2]) != sid and int(fields[3]) != sid):
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        found.append(f"{entry} {cmdline.decode('utf-8', 'replace').strip()[:120]}")
    return found


def _leftovers(sid: int, grace: float) -> list[str]:
    until = time.monotonic() + grace
    while True:
        members = _session_members(sid)
        if not members or time.monotonic() > until:
            return members
        time.sleep(0.05)


def _kill_session(sid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, signal.SIGKILL)
