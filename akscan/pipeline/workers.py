"""Worker processes that scan batches of files, and what happens when a scan or a worker ends
early (issues 12 and 15).

- SIGINT, SIGTERM and SIGHUP to akscan stop every worker at once: the parent turns them into
  KeyboardInterrupt and kills its workers; workers ignore SIGINT (a terminal's Ctrl-C reaches
  the whole process group, and only the parent should act on it) and, on Linux, ask the kernel
  to kill them when their parent dies, so even a parent killed with SIGKILL leaves no worker.
- A worker that dies (the kernel's OOM killer, `kill -9`) breaks the pool: the batches that
  were in flight are retried, each alone in a fresh worker; a batch whose worker dies again is
  reported as not scanned, and the rest of the scan goes on in a new pool.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_STOPPING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                          if hasattr(signal, name))
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Seconds to wait for the futures of a broken pool to learn that it broke, and for killed
# workers to be reaped.
_SETTLE_SECONDS = 5.0


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run_batches(
    work: Callable[[list[T]], list[R]], batches: Iterator[list[T]], jobs: int,
    initializer: Callable[..., None], initargs: tuple[Any, ...],
    handle: Callable[[list[R]], None], lost: Callable[[list[T]], None],
    retried: Callable[[list[T]], None] = lambda _: None,
) -> None:
    """Run `work` on each batch in `jobs` processes (each set up by `initializer(*initargs)`),
    giving every batch's results to `handle`, in order while the pool holds; `retried` hears
    of each batch that was run again after its worker died, `lost` of each one whose worker
    died again."""
    with _stop_on_signals():
        while True:
            failed = _run_pool(work, batches, jobs, initializer, initargs, handle)
            if not failed:
                return
            for batch in failed:
                retried(batch)
                if _run_pool(work, iter([batch]), 1, initializer, initargs, handle):
                    lost(batch)


def _run_pool(
    work: Callable[[list[T]], list[R]], batches: Iterator[list[T]], jobs: int,
    initializer: Callable[..., None], initargs: tuple[Any, ...],
    handle: Callable[[list[R]], None],
) -> list[list[T]]:
    """Run batches until there are no more ([]) or a worker dies (the batches that were in
    flight and did not finish)."""
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker,
                               initargs=(os.getpid(), initializer, initargs))
    finished = False
    try:
        inflight: deque[tuple[list[T], Future[list[R]]]] = deque()
        while True:
            # A few batches per worker in flight: workers never wait, memory stays bounded.
            while len(inflight) < 2 * jobs:
                batch = next(batches, None)
                if batch is None:
                    break
                inflight.append((batch, pool.submit(work, batch)))
            if not inflight:
                finished = True
                return []
            batch, future = inflight[0]
            try:
                results = future.result()
            except BrokenProcessPool:
                return _after_break(inflight, handle)
            inflight.popleft()
            handle(results)
    finally:
        _shut(pool, kill=not finished)


def _after_break(inflight: deque[tuple[list[T], Future[list[R]]]],
                 handle: Callable[[list[R]], None]) -> list[list[T]]:
    wait([future for _, future in inflight], timeout=_SETTLE_SECONDS)
    failed = []
    for batch, future in inflight:
        if future.done() and not future.cancelled() and future.exception() is None:
            handle(future.result())
        else:
            failed.append(batch)
    return failed


def _shut(pool: ProcessPoolExecutor, kill: bool) -> None:
    """Shut the pool down; with `kill`, kill its workers first (interrupted, or broken)."""
    if not kill:
        pool.shutdown(wait=True)
        return
    # The executor has no public way to reach its workers before Python 3.14.
    processes = list(getattr(pool, "_processes", None) or {})
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for pid in processes:
        with contextlib.suppress(OSError):
            os.waitpid(pid, os.WNOHANG)


def _start_worker(parent: int, initializer: Callable[..., None],
                  initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in _STOPPING_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    initializer(*initargs)


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (elsewhere: nothing to do)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class _Stop(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop as for Ctrl-C."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, stop) for signum in _STOPPING_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

