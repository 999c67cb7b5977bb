"""Which repositories have not changed since their last complete scan: asked all at once.

One `git ls-remote` per URL (or one `git rev-parse` per local path) compared with the tips the
store remembers. The question is network latency, not work, so it is asked from many threads in
the coordinator; only the repositories that changed become tasks for the workers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from akscan import git
from akscan.errors import AkscanError
from akscan.fleet.task import Job

THREADS = 16


def unchanged(jobs: Sequence[Job], cache: Path) -> set[str]:
    """The keys of the jobs whose repository is exactly as last scanned (never scanned: no)."""
    asked = [job for job in jobs if job.previous]
    if not asked:
        return set()
    cache.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(min(THREADS, len(asked)), "akscan-ls-remote") as pool:
        same = pool.map(lambda job: _same(job, cache), asked)
        return {job.spec.key for job, yes in zip(asked, same) if yes}


def _same(job: Job, cache: Path) -> bool:
    try:
        return _remote_same(job, cache) if job.spec.remote else _local_same(job)
    except (AkscanError, OSError, UnicodeDecodeError):
        return False  # the task will say what is wrong


def _remote_same(job: Job, cache: Path) -> bool:
    out = git.run_remote(str(cache), ["ls-remote", "--", job.spec.location],
                         job.network_timeout).decode("utf-8", "replace")
    # A peeled tag (`ref^{}`) is left out: the tag object itself is listed too.
    shas = {line.partition("\t")[0] for line in out.splitlines() if not line.endswith("^{}")}
    return shas == set(job.previous)


def _local_same(job: Job) -> bool:
    out = git.run(job.spec.location, ["rev-parse", "HEAD", "--all"], env=_isolated())
    head, *refs = out.decode("ascii").split()
    return head == job.previous_head and {head, *refs} == set(job.previous)


def _isolated() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
