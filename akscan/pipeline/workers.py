"""Worker processes that scan batches of files, and what happens when a scan or a worker ends
early (issues 12 and 15).

- SIGINT, SIGTERM and SIGHUP to akscan stop every worker at once: the parent turns them into
  KeyboardInterrupt and kills its workers; workers ignore SIGINT (a terminal's Ctrl-C reaches
  the whole process group, and only the parent should act on it) and, on Linux, ask the kernel
  to kill them when their parent dies, so even a parent killed with SIGKILL leaves no worker.
- A worker that dies (the kernel's OOM killer, `kill -9`) is replaced, and the batch it held
  is given once more to a fresh worker; a batch whose worker dies again is reported as not
  scanned. Each worker has its own pipe, so the parent knows which batch a dead worker held
  (concurrent.futures only says that the whole pool broke, and its shutdown could hang).
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from types import FrameType
from typing import Any, TypeVar

from akscan.errors import AkscanError, Terminated

T = TypeVar("T")
R = TypeVar("R")

_STOPPING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                          if hasattr(signal, name))
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Seconds to wait for a worker to exit once told to, or killed.
_SETTLE_SECONDS = 5.0


def retried_note(count: int, what: str) -> str:
    """What a run says of a batch run again because its worker died (`what`: "file(s)")."""
    return (f"a worker process died (killed by the system or a signal); its {count} {what} "
            "were scanned again in a new one")


def lost_error(label: str) -> str:
    """What a run says of each item whose worker died again, with its batch run alone."""
    return (f"{label}: not scanned: the worker process scanning it died, also when retried "
            "alone (out of memory?)")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run_batches(
    work: Callable[[list[T]], R], batches: Iterable[list[T]], jobs: int,
    initializer: Callable[..., None], initargs: tuple[Any, ...],
    handle: Callable[[R], None], lost: Callable[[list[T]], None],
    retried: Callable[[list[T]], None] = lambda _: None, ahead: int = 2,
    finish: Callable[[], None] | None = None,
) -> None:
    """Run `work` on each batch in `jobs` processes (each set up by `initializer(*initargs)`),
    giving every batch's results to `handle` in the batches' order; `retried` hears of each
    batch that is run again because its worker died, `lost` of each one whose worker died
    again. Every worker is gone when this returns or raises; one told to stop runs `finish`
    first (to end what it started: its git). A worker is given up to `ahead` batches at once,
    so it never waits for the parent (1 where batches are large: what is in flight is held in
    memory)."""
    _libc()  # here, once, rather than in each worker
    pool = _Pool(work, jobs, initializer, initargs, ahead, finish)
    with _stop_on_signals():
        try:
            pool.run(iter(enumerate(batches)), handle, lost, retried)
        finally:
            pool.close()


Job = tuple[int, list[Any], int]  # (index, batch, attempt)


class _Worker:
    """One worker process and the batches given to it, oldest (the one it works on) first: a
    pipe each way, so the parent always knows which batch a dead worker had."""

    def __init__(self, work: Callable[[list[T]], R], initializer: Callable[..., None],
                 initargs: tuple[Any, ...], finish: Callable[[], None] | None) -> None:
        context = multiprocessing.get_context()
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, os.getpid(), work, initializer, initargs, finish),
            daemon=True)
        self.process.start()
        child.close()
        self.jobs: deque[Job] = deque()

    def wants(self, retry: bool, ahead: int) -> bool:
        """Whether to give it a batch: a retried batch runs alone in its worker."""
        if retry:
            return not self.jobs
        return len(self.jobs) < ahead and not any(job[2] > 1 for job in self.jobs)

    def give(self, job: Job) -> None:
        self.jobs.append(job)
        with contextlib.suppress(OSError, ValueError):  # dead already: its sentinel says so
            self.conn.send(job[1])

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.process.kill()
        self.process.join(_SETTLE_SECONDS)
        self.conn.close()


class _Pool:
    def __init__(self, work: Callable[[list[T]], R], jobs: int,
                 initializer: Callable[..., None], initargs: tuple[Any, ...],
                 ahead: int = 2, finish: Callable[[], None] | None = None) -> None:
        self._start = functools.partial(_Worker, work, initializer, initargs, finish)
        self._jobs, self._ahead = jobs, ahead
        self._workers: list[_Worker] = []

    def run(self, batches: Iterator[tuple[int, list[T]]], handle: Callable[[R], None],
            lost: Callable[[list[T]], None], retried: Callable[[list[T]], None]) -> None:
        done: dict[int, R | None] = {}  # finished out of order, by index
        waiting: deque[Job] = deque()  # batches to give again after a worker died
        more = True
        next_out = 0
        self._workers = [self._start() for _ in range(self._jobs)]
        while True:
            for worker in self._workers:
                while True:
                    if waiting:
                        if not worker.wants(waiting[0][2] > 1, self._ahead):
                            break
                        worker.give(waiting.popleft())
                    elif more and worker.wants(False, self._ahead):
                        numbered = next(batches, None)
                        if numbered is None:
                            more = False
                            break
                        worker.give((numbered[0], numbered[1], 1))
                    else:
                        break
            busy = [w for w in self._workers if w.jobs]
            if not busy:
                return
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn in ready:
                    try:
                        ok, payload = worker.conn.recv()
                    except (EOFError, OSError):
                        ok, payload = None, None
                    if ok is not None:
                        if not ok:
                            raise AkscanError(f"a scan worker failed: {payload}")
                        done[worker.jobs.popleft()[0]] = payload
                        continue
                elif worker.process.sentinel not in ready:
                    continue
                # The worker died with its first batch (the kernel's OOM killer, kill -9);
                # those behind it had not started.
                worker.kill()
                self._workers[self._workers.index(worker)] = self._start()
                index, batch, attempt = worker.jobs.popleft()
                waiting.extendleft(reversed(worker.jobs))
                if attempt == 1:
                    retried(batch)
                    waiting.appendleft((index, batch, 2))
                else:
                    lost(batch)
                    done[index] = None
            while next_out in done:
                results = done.pop(next_out)
                if results is not None:
                    handle(results)
                next_out += 1

    def close(self) -> None:
        """Stop every worker: politely when all is done, by SIGKILL when interrupted."""
        for worker in self._workers:
            if not worker.jobs:
                with contextlib.suppress(OSError, ValueError):
                    worker.conn.send(None)
            else:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    worker.process.kill()
        for worker in self._workers:
            worker.process.join(_SETTLE_SECONDS)
            if worker.process.exitcode is None:
                worker.kill()
            worker.conn.close()
        self._workers = []


def _serve(conn: Connection, parent: int, work: Callable[[list[T]], R],
           initializer: Callable[..., None], initargs: tuple[Any, ...],
           finish: Callable[[], None] | None = None) -> None:
    """A worker's life: set up, then one batch after another until told to stop.

    A thread takes the batches off the pipe as they come, so the parent's send of the next
    batch never waits on this worker's send of the last result: with both larger than a pipe
    holds, each side would be blocked writing while the other does not read."""
    _start_worker(parent, initializer, initargs)
    given: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def take() -> None:
        while True:
            try:
                batch = conn.recv()
            except (EOFError, OSError):
                batch = None  # the parent is gone
            given.put(batch)
            if batch is None:
                return

    threading.Thread(target=take, daemon=True).start()
    while True:
        batch = given.get()
        if batch is None:
            if finish is not None:
                finish()
            return
        try:
            reply: tuple[bool, Any] = (True, work(batch))
        except Exception as exc:  # the parent raises it, with the worker's one line
            reply = (False, f"{type(exc).__name__}: {exc}")
        conn.send(reply)


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
    libc = _libc()
    if libc is not None and hasattr(libc, "prctl"):
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@functools.cache
def _libc() -> Any:
    """The C library's functions, through ctypes: loaded by the parent before it starts its
    workers, which then have it at once (importing ctypes in each cost 10 ms); None where
    there is none to load."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# glibc's mallopt parameters (malloc.h) and what a worker sets them to: freed memory kept for
# reuse up to this much, and allocations under this size made from the heap.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT_FREE = 64 * 1024 * 1024
_MMAP_FROM = 32 * 1024 * 1024  # glibc's largest


def reuse_freed_memory() -> None:
    """Have this worker keep the memory it frees for its next batches rather than hand it back
    to the system at once. A history worker makes and drops megabytes per batch (the contents
    and the joined copy its keyword search reads), and with glibc's defaults the kernel mapped
    and zeroed fresh pages for each: 30% fewer page faults and 5-8% less CPU on flask's history
    with this (issue 14). The memory kept is at most what the worker's largest batch needed.
    Only glibc has these settings; elsewhere nothing changes."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_TRIM_THRESHOLD, _KEPT_FREE)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise Terminated(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, stop) for signum in _STOPPING_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

