"""The worker pool under the files, history and trail scans (akscan/pipeline/workers.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from helpers import subprocess_env

# Batches and results each far larger than a pipe holds (64 KiB), as a trail's 4 MiB batch of
# distinct calls, or a batch of files full of findings.
_LARGE_BOTH_WAYS = textwrap.dedent("""
    from akscan.pipeline import workers

    def echo(batch):
        return [b"r" * len(item) for item in batch]

    def nothing():
        pass

    got = []
    workers.run_batches(echo, ([b"x" * (1 << 20)] for _ in range(12)), 2, nothing, (),
                        lambda result: got.append(len(result[0])), lambda batch: None)
    print(len(got), sum(got))
""")


def test_batches_and_results_larger_than_a_pipe_do_not_deadlock_the_pool() -> None:
    # The parent sends a worker its next batch while that worker sends back its last result:
    # each must be read while the other is written.
    done = subprocess.run([sys.executable, "-c", _LARGE_BOTH_WAYS], capture_output=True,
                          text=True, timeout=120, env=subprocess_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["12", str(12 << 20)]
