"""Which repositories have not changed since their last complete scan: asked all at once.

One `git ls-remote` per URL (or one `git rev-parse` per local path) compared with the tips the
store remembers. The question is network latency, not work, so it is asked from many threads in
the coordinator; only the repositories that changed become tasks for the workers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from akscan import git
from akscan.errors import AkscanError
from akscan.fleet.repos import RepoSpec
from akscan.fleet.store import Previous

THREADS = 16


def unchanged(specs: Sequence[RepoSpec], previous: Mapping[str, Previous], cache: Path,
              timeout: float) -> set[str]:
    """The keys of the repositories exactly as last scanned (never scanned: not unchanged)."""
    asked = [spec for spec in specs if previous[spec.key].tips]
    if not asked:
        return set()
    cache.mkdir(parents=True, exist_ok=True)

    def same(spec: RepoSpec) -> bool:
        try:
            if spec.remote:
                return _remote_same(spec, previous[spec.key], cache, timeout)
            return _local_same(spec, previous[spec.key])
        except (AkscanError, OSError, UnicodeDecodeError):
            return False  # the task will say what is wrong

    with ThreadPoolExecutor(min(THREADS, len(asked)), "akscan-ls-remote") as pool:
        return {spec.key for spec, yes in zip(asked, pool.map(same, asked)) if yes}


def _remote_same(spec: RepoSpec, previous: Previous, cache: Path, timeout: float) -> bool:
    out = git.run_remote(str(cache), ["ls-remote", "--", spec.location],
                         timeout).decode("utf-8", "replace")
    # A peeled tag (`ref^{}`) is left out: the tag object itself is listed too.
    shas = {line.partition("\t")[0] for line in out.splitlines() if not line.endswith("^{}")}
    return shas == set(previous.tips)


def _local_same(spec: RepoSpec, previous: Previous) -> bool:
    out = git.run(spec.location, ["rev-parse", "HEAD", "--all"], env=_isolated())
    head, *refs = out.decode("ascii").split()
    return head == previous.head and {head, *refs} == set(previous.tips)


def _isolated() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
