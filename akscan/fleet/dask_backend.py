"""Fleet tasks on an existing Dask distributed cluster (`--dask ADDRESS`, akscan[dask]).

Imported only when asked for, so a plain install never imports dask. Each task is submitted with
retries: a worker that dies mid-task has its task run again elsewhere. Workers need akscan
installed, and read local-path repositories at the same path (a shared file system); URLs they
clone into their own cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from akscan.errors import AkscanError
from akscan.fleet.task import FAILED, Job, Result, scan_repository

CONNECT_TIMEOUT = "30s"


class DaskBackend:
    def __init__(self, address: str) -> None:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise AkscanError("--dask needs the Dask distributed package: "
                              "pip install 'akscan[dask]'") from None
        try:
            self._client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise AkscanError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        # every submitted task, handed back as it finishes
        self._completed = as_completed([], loop=self._client.loop)

    def submit(self, job: Job) -> Any:
        from akscan.fleet.runner import RETRIES

        # pure=False: the same repository scanned twice must run twice (it may have changed).
        future = self._client.submit(scan_repository, job, retries=RETRIES, pure=False)
        self._completed.add(future)
        return future

    def wait(self, pending: set[Any]) -> Iterable[Any]:
        first = next(self._completed)
        return [first, *self._completed.next_batch(block=False)]

    def result(self, handle: Any, job: Job) -> Result:
        try:
            return handle.result()
        except Exception as exc:  # retries exhausted (e.g. a worker died each time)
            return Result(job.spec.key, FAILED,
                          reason=f"Dask task failed: {type(exc).__name__}: {exc}",
                          shard=job.shard)
        finally:
            handle.release()

    def close(self) -> None:
        self._client.close()
