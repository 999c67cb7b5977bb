"""Worker processes of `akscan trail -j 2`: a signal stops them with akscan, a worker killed
mid-read costs a retry, not events, and batches whose calls are all distinct (results larger
than a pipe holds) do not block them.

The trail comes through a FIFO: past 32 MiB of lines akscan has started its workers, and while
the test holds the rest back they wait, alive, for the next batch.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from hostile.harness import Process, check, run_akscan, spawn
from hostile.test_files_workers import children, wait_for_workers

SIGINT_IGNORED = 1 << (signal.SIGINT - 1)  # in /proc/PID/status SigIgn

LINE = (json.dumps({
    "__time__": 1714557600, "__topic__": "actiontrail_event",
    "event": json.dumps({"eventId": "E1", "eventName": "DescribeInstances", "serviceName": "Ecs",
                         "eventTime": "2024-05-01T10:00:00Z", "sourceIpAddress": "10.0.0.9",
                         "vpcId": "vpc-a", "requestParameters": {"pad": "x" * 600},
                         "userIdentity": {"accessKeyId": "LTAI5tSyntheticKeyAbcdef",
                                          "userName": "app"}}),
}) + "\n").encode()
FIRST = (40 << 20) // len(LINE)  # lines before the test holds back: past 32 MiB


class Feeder:
    """Writes lines into a FIFO akscan reads: `FIRST` of them, then, on `finish`, the rest."""

    def __init__(self, fifo: Path, rest: int) -> None:
        self.written = threading.Event()  # the first lines are all in the FIFO or read
        self._go_on = threading.Event()
        self._thread = threading.Thread(target=self._feed, args=(fifo, rest), daemon=True)
        self._thread.start()

    def _feed(self, fifo: Path, rest: int) -> None:
        with contextlib.suppress(BrokenPipeError), open(fifo, "wb") as pipe:
            pipe.write(LINE * FIRST)
            pipe.flush()
            self.written.set()
            self._go_on.wait(120)
            pipe.write(LINE * rest)

    def finish(self) -> None:
        self._go_on.set()
        self._thread.join(60)


def set_up_workers(process: Process, feeder: Feeder, count: int) -> set[int]:
    """The workers once `count` are set up (SIGINT ignored, as each does first), and akscan
    blocked reading the FIFO, which the test has stopped filling. A signal that comes between
    two reads of a pipe still being filled is handled only when the next bytes come (CPython
    checks for signals when a read is interrupted, not between reads), as with any pipe input."""
    assert feeder.written.wait(60), "the test could not write the trail"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = wait_for_workers(process, count)
        ready = set()
        for pid in found:
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                ignored = int(status.split("SigIgn:")[1].split()[0], 16)
                if ignored & SIGINT_IGNORED:
                    ready.add(pid)
        waiting = False
        with contextlib.suppress(OSError):
            waiting = "pipe" in Path(f"/proc/{process.pid}/wchan").read_text()
        if len(ready) >= count and waiting:
            return ready
    raise AssertionError("akscan did not set up its workers and wait for more lines")


def trail(tmp_path: Path, rest: int = 0) -> tuple[Process, Feeder]:
    fifo = tmp_path / "trail.jsonl"
    os.mkfifo(fifo)
    process = spawn(["trail", "-j", "2", "--format", "json", str(fifo)], cwd=tmp_path)
    return process, Feeder(fifo, rest)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_akscan_trail_stops_it_and_its_workers(tmp_path: Path, signum: int) -> None:
    process, feeder = trail(tmp_path)
    workers = set_up_workers(process, feeder, 2)
    process.signal(signum)
    result = process.wait(deadline=60)
    feeder.finish()
    check(result, exit=130)  # the harness also fails the test on any process left running
    assert not (workers & children(1)), "a worker was left to init"


def test_a_trail_worker_killed_mid_read_has_its_lines_read_again(tmp_path: Path) -> None:
    process, feeder = trail(tmp_path, rest=20_000)
    victim = min(set_up_workers(process, feeder, 2))
    os.kill(victim, signal.SIGKILL)  # as the kernel's OOM killer would
    feeder.finish()
    result = process.wait(deadline=120)
    check(result, exit=0)
    summary = json.loads(result.stdout)["summary"]
    assert summary["events"] == FIRST + 20_000, result.stderr


def test_batches_of_distinct_calls_do_not_block_the_workers(tmp_path: Path) -> None:
    # Every line a source of its own: a batch's calls pickle to more than a pipe holds.
    path = tmp_path / "distinct.jsonl"
    with open(path, "w") as out:
        for n in range(160_000):
            out.write(json.dumps({
                "eventName": "GetObject", "eventTime": "2024-05-01T10:00:00Z",
                "sourceIpAddress": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                "requestParameters": {"pad": "x" * 200},
                "userIdentity": {"accessKeyId": f"LTAI5tSyntheticKey{n % 97:04d}xy"}}) + "\n")
    result = run_akscan(["trail", "-j", "2", "--format", "json", str(path)], cwd=tmp_path,
                        deadline=120)
    check(result, exit=1)  # unknown Internet IPs
    assert json.loads(result.stdout)["summary"]["events"] == 160_000
