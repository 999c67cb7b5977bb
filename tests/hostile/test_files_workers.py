"""Worker processes of a parallel file scan: signals stop everything, and a worker killed by
the kernel or `kill -9` costs a retry, not the scan (issues 12 and 15).

Workers are kept busy by a custom rule that backtracks on a planted line until
--regex-timeout: the scan is then known to be in the middle of its work when the test acts,
whatever the machine's speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest
from keys import random_id

from hostile.harness import BUSY_LINE, SLOW_RULE, Process, check, spawn

FILES = 2050  # enough that --jobs 2 starts worker processes (2000)
BATCH = 128  # files per batch (akscan.pipeline.files._BATCH)



def busy_tree(root: Path, keys: dict[str, str] | None = None) -> Path:
    """FILES small files; the first of each of the first two batches keeps a worker busy."""
    tree = root / "tree"
    tree.mkdir()
    for n in range(FILES):
        name = f"f{n:04}.txt"
        text = f"value_{n} = {n}\n" + (BUSY_LINE if n in (0, BATCH) else "")
        if keys is not None and n % 100 == 50:
            keys[name] = random_id()
            text += f"ALIBABA_CLOUD_ACCESS_KEY_ID={keys[name]}\n"
        (tree / name).write_text(text)
    (root / "slow.toml").write_text(SLOW_RULE)
    return tree


def children(pid: int) -> set[int]:
    """The live child processes of `pid`, from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(entry))
    return found


def running(process: Process) -> bool:
    """Whether akscan is still running (without reaping it: the harness waits for it)."""
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None


def wait_for_workers(process: Process, count: int) -> set[int]:
    """The scan's worker processes once `count` have started: its children that are not git
    (a history scan's own git log and cat-file --batch-check are its children too, and a
    directory scan asks git which files it tracks)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = set()
        for pid in children(process.pid):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() != "git":
                    found.add(pid)
            except OSError:
                continue  # gone meanwhile
        if len(found) >= count:
            return found
        if not running(process):
            break
        time.sleep(0.05)
    raise AssertionError(f"akscan did not start {count} workers")


def scan(tmp_path: Path, tree: Path, timeout: int, *extra: str) -> Process:
    return spawn(["scan", "-j", "2", "--rules", str(tmp_path / "slow.toml"), "--regex-timeout",
                  str(timeout), "--format", "json", *extra, str(tree)], cwd=tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_to_a_parallel_scan_stops_it_and_its_workers(
    tmp_path: Path, signum: int
) -> None:
    process = scan(tmp_path, busy_tree(tmp_path), 600)
    workers = wait_for_workers(process, 2)
    time.sleep(0.3)  # both workers are inside their first batch, for up to 600 s
    process.signal(signum)
    result = process.wait(deadline=60)
    check(result, exit=130)  # the harness also fails the test on any process left running
    said = "interrupted" if signum == signal.SIGINT else \
        f"interrupted ({signal.Signals(signum).name})"
    assert said in result.stderr
    assert not (workers & children(1)), "a worker was left to init"


def test_a_worker_killed_mid_scan_has_its_files_scanned_again(tmp_path: Path) -> None:
    keys: dict[str, str] = {}
    process = scan(tmp_path, busy_tree(tmp_path, keys), 3, "-v")
    victim = min(wait_for_workers(process, 2))
    os.kill(victim, signal.SIGKILL)  # as the kernel's OOM killer would
    result = process.wait()
    check(result, exit=1)
    found = {f["path"] for f in json.loads(result.stdout)["findings"]
             if f["rule_id"] != "test-slow-rule"}
    assert found == set(keys), result.stderr
    assert "scanned again in a new one" in result.stderr
    assert "also when retried" not in result.stderr


def test_files_whose_worker_dies_again_are_reported_not_scanned(tmp_path: Path) -> None:
    process = scan(tmp_path, busy_tree(tmp_path), 600)
    killed: set[int] = set()
    while running(process):  # kill every worker, the retries' ones too
        for pid in children(process.pid) - killed:
            # A worker listed a moment ago may already have gone (the scan ended it).
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.02)
    result = process.wait()
    check(result, exit=2)
    assert "f0000.txt: not scanned: the worker process scanning it died, also when retried" \
        in result.stderr
    assert "BrokenProcessPool" not in result.stderr
