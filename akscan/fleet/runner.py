"""Run fleet tasks on local worker processes or a Dask cluster, and merge split repositories.

Both backends run the same `task.scan_repository`; a repository too large for one task comes
back as SPLIT with its tips, and its shares are submitted as further tasks whose findings are
merged here exactly as one scan would have attributed them. Results are handed back as each
repository completes; only the caller (the coordinator) writes the store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from akscan.fleet.task import FAILED, PARTIAL, SPLIT, Job, Result, scan_repository

RETRIES = 2  # a Dask worker that dies mid-task costs a retry, not a finding


class Backend(Protocol):
    def submit(self, job: Job) -> Any: ...
    def wait(self, pending: set[Any]) -> Iterable[Any]: ...  # some finished handles
    def result(self, handle: Any, job: Job) -> Result: ...
    def close(self) -> None: ...


class Inline:
    """No pool: each task runs when submitted (-j 1)."""

    def submit(self, job: Job) -> Future[Result]:
        future: Future[Result] = Future()
        future.set_result(scan_repository(job))
        return future

    def wait(self, pending: set[Any]) -> Iterable[Any]:
        return list(pending)

    def result(self, handle: Any, job: Job) -> Result:
        return _result(handle, job)

    def close(self) -> None:
        pass


class LocalPool:
    """Worker processes on this machine."""

    def __init__(self, workers: int) -> None:
        self._pool = ProcessPoolExecutor(max_workers=workers)

    def submit(self, job: Job) -> Future[Result]:
        return self._pool.submit(scan_repository, job)

    def wait(self, pending: set[Any]) -> Iterable[Any]:
        return wait(pending, return_when=FIRST_COMPLETED).done

    def result(self, handle: Any, job: Job) -> Result:
        return _result(handle, job)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _result(handle: Any, job: Job) -> Result:
    try:
        return handle.result()
    except Exception as exc:  # a worker that crashed: this repository failed, the run goes on
        return Result(job.spec.key, FAILED, reason=f"worker failed: {type(exc).__name__}: {exc}",
                      shard=job.shard)


def run(jobs: Sequence[Job], backend: Backend) -> Iterator[tuple[Job, Result]]:
    """(job, result) for each repository as it completes; shares are merged first."""
    pending: dict[Any, Job] = {}
    shares: dict[str, list[Result]] = {}
    for job in jobs:
        pending[backend.submit(job)] = job
    try:
        while pending:
            for handle in backend.wait(set(pending)):
                job = pending.pop(handle)
                result = backend.result(handle, job)
                if result.status == SPLIT:
                    shares[result.key] = []
                    for k in range(result.shares):
                        share = dataclasses.replace(job, tips=result.tips,
                                                    shard=(k, result.shares))
                        pending[backend.submit(share)] = share
                    continue
                if job.shard[1] > 1:
                    shares[result.key].append(result)
                    if len(shares[result.key]) < job.shard[1]:
                        continue
                    result = merge(shares.pop(result.key))
                    job = dataclasses.replace(job, shard=(0, 1))
                yield job, result
    finally:
        backend.close()


def merge(results: Sequence[Result]) -> Result:
    """One result from a repository's shares, attributed as a single scan would: each secret at
    each path to the oldest commit (in the scan's order) that added it there."""
    ordered = sorted(results, key=lambda r: r.shard)
    failed = [r for r in ordered if r.status == FAILED]
    first = ordered[0]
    if failed:
        return dataclasses.replace(failed[0], shard=(0, 1), findings=[], shares=1)
    order: dict[str, int] = {}
    for r in ordered:
        order.update(r.order)
    position = _positions(ordered, order)
    seen: dict[tuple[str, str], str] = {}
    findings = []
    for _, finding in sorted(position, key=lambda item: item[0]):
        commit = dict(finding.origin).get("commit", "")
        place = (finding.path.partition("!")[0], finding.secret_sha256)
        if seen.setdefault(place, commit) == commit:
            findings.append(finding)
    errors = [e for r in ordered for e in r.errors]
    present: dict[str, list[str]] | None = None
    for r in ordered:
        if r.present is not None:
            present = present or {}
            for path, shas in r.present.items():
                present[path] = sorted({*present.get(path, ()), *shas})
    return Result(
        first.key, PARTIAL if errors else first.status,
        reason=next((r.reason for r in ordered if r.reason), ""), tips=first.tips,
        head=first.head, commits=max(r.commits for r in ordered),
        blobs=max(r.blobs for r in ordered), bytes=sum(r.bytes for r in ordered),
        findings=findings, errors=errors, present=present,
        seconds=sum(r.seconds for r in ordered))


def _positions(results: Sequence[Result], order: dict[str, int]) -> list[tuple[Any, Any]]:
    out = []
    for shard, r in enumerate(results):
        for index, finding in enumerate(r.findings):
            commit = dict(finding.origin).get("commit", "")
            out.append(((order.get(commit, -1), finding.path, shard, index), finding))
    return out


def dask_backend(address: str) -> Backend:
    """A client of the Dask scheduler at `address`; needs akscan[dask]."""
    from akscan.fleet.dask_backend import DaskBackend

    return DaskBackend(address)


def make_backend(workers: int, dask_address: str | None,
                 factory: Callable[[str], Backend] = dask_backend) -> Backend:
    if dask_address:
        return factory(dask_address)
    return Inline() if workers <= 1 else LocalPool(workers)
