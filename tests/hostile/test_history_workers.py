"""Worker processes of a parallel history scan: signals stop everything (the workers and the
gits they read through), and a worker killed mid-scan costs a retry, not the scan.

Workers are kept busy by a custom rule that backtracks on a planted line until
--regex-timeout, as for the file scan's workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepo import Repo, credentials

from hostile.harness import BUSY_LINE, SLOW_RULE, Process, check, spawn, subprocess_env
from hostile.test_files_workers import children, wait_for_workers

BLOBS = 2100  # enough objects that -j 2 starts worker processes
# Blobs of a KiB: a batch (akscan.pipeline.history._BATCH_BYTES) holds about 1000 of them, so
# f0000 opens the first batch and f1100 the second.
BUSY = (0, 1100)


def busy_repo(root: Path, secrets: list[str] | None = None) -> Path:
    repo = Repo(root / "repo")
    for n in range(BLOBS):
        text = f"value_{n} = {n}\n".ljust(1000, "#") + "\n"
        if n in BUSY:
            text += BUSY_LINE
        if secrets is not None and n % 500 == 250:
            env, _, secret = credentials()
            secrets.append(secret)
            text += env
        repo.write(f"f{n:04}.txt", text)
    repo.git("add", "-A")
    repo.commit("many files")
    (root / "slow.toml").write_text(SLOW_RULE)
    return repo.path


def history(root: Path, repo: Path, timeout: int, *extra: str) -> Process:
    return spawn(["history", "-j", "2", "--rules", str(root / "slow.toml"), "--regex-timeout",
                  str(timeout), "--format", "json", *extra, str(repo)], cwd=root)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_a_parallel_history_scan_stops_it_its_workers_and_their_gits(
    tmp_path: Path, signum: int
) -> None:
    process = history(tmp_path, busy_repo(tmp_path), 600)
    workers = wait_for_workers(process, 2)
    process.signal(signum)
    result = process.wait(deadline=60)
    check(result, exit=130)  # the harness also fails the test on any process left running
    assert "interrupted" in result.stderr
    assert not (workers & children(1)), "a worker was left to init"


def test_a_history_worker_killed_mid_scan_has_its_objects_scanned_again(
    tmp_path: Path
) -> None:
    secrets: list[str] = []
    process = history(tmp_path, busy_repo(tmp_path, secrets), 3, "-v")
    victim = min(wait_for_workers(process, 2))
    os.kill(victim, signal.SIGKILL)  # as the kernel's OOM killer would
    result = process.wait()
    check(result, exit=1)
    found = json.loads(result.stdout)["findings"]
    shown = {f["path"] for f in found if f["rule_id"] == "alibaba-access-key-secret"}
    assert len(shown) == len(secrets), result.stderr
    assert "scanned again in a new one" in result.stderr


# Runs akscan as a child subreaper (Linux): a process that akscan or its workers leave to
# exit on its own after them is handed to this one rather than to init, and is counted.
_ADOPTING = """
import ctypes, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
code = subprocess.run([sys.executable, "-m", "akscan", *sys.argv[1:]],
                      stdout=subprocess.DEVNULL).returncode
adopted = []
while True:
    try:
        adopted.append(os.waitpid(-1, 0)[0])
    except ChildProcessError:
        break
print(code, len(adopted))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a Linux subreaper")
def test_a_parallel_history_scan_waits_for_every_git_its_workers_started(
    tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "repo")
    for n in range(BLOBS):
        repo.write(f"f{n:04}.txt", f"value_{n} = {n}\n")
    repo.git("add", "-A")
    repo.commit("many files")
    result = subprocess.run(
        [sys.executable, "-c", _ADOPTING, "history", "-j", "2", "--no-config", str(repo.path)],
        capture_output=True, text=True, env=subprocess_env(), cwd=tmp_path, timeout=120)
    assert result.stdout.split() == ["0", "0"], result.stderr  # exit 0, none left behind
