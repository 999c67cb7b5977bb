"""The fleet scan on a real Dask cluster: two worker processes on loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster, WorkerPlugin
from fleetgen import build, locations, parse
from helpers import RunCli, subprocess_env


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as running:
        yield running


def test_two_workers_find_exactly_what_the_local_run_finds(
    cluster: LocalCluster, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = build(tmp_path / "fleet")
    local_code, local_out, _ = run_cli(["fleet", "--cache", str(tmp_path / "local"), "-j", "1",
                                        "--format", "json", *fleet.names])
    # The DASK_SCHEDULER_ADDRESS convention; one repository split in shares across workers.
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)

    code, out, err = run_cli(["fleet", "--cache", str(tmp_path / "coordinator"),
                              "--worker-cache", str(tmp_path / "workers"), "--format", "json",
                              "--split-size", "4k", *fleet.names])

    assert "Traceback" not in err, err
    local, dask = parse(local_out), parse(out)
    assert code == local_code == 1
    assert locations(dask) == locations(local)
    assert dask["repositories"] == local["repositories"]
    assert dask["credentials"] == local["credentials"]
    assert (tmp_path / "workers" / "mirrors").is_dir()  # the workers cloned the URLs
    assert not (tmp_path / "coordinator" / "mirrors").exists()  # the coordinator did not


def test_incremental_run_on_the_cluster_scans_only_what_is_new(
    cluster: LocalCluster, run_cli: RunCli, tmp_path: Path
) -> None:
    fleet = build(tmp_path / "fleet")
    args = ["fleet", "--cache", str(tmp_path / "c"), "--worker-cache", str(tmp_path / "w"),
            "--dask", cluster.scheduler_address, "--format", "json", *fleet.names]
    first = parse(run_cli(args)[1])

    code, out, err = run_cli(args)

    again = parse(out)
    assert code == 1 and locations(again) == locations(first)
    assert "0 new location(s)" in err
    assert {r["commits"] for r in again["repositories"] if r["status"] == "scanned"} == {0}


def test_unreachable_scheduler_is_a_clear_error(run_cli: RunCli, tmp_path: Path) -> None:
    code, _, err = run_cli(["fleet", "--cache", str(tmp_path / "c"), "--dask",
                            "tcp://127.0.0.1:9", str(tmp_path)])

    assert code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err


def test_a_plain_run_never_imports_dask(tmp_path: Path) -> None:
    fleet = build(tmp_path / "fleet")
    code = ("import sys; from akscan.cli import main; "
            f"rc = main(['fleet', '-q', '--cache', {str(tmp_path / 'c')!r}, '-j', '2', "
            f"{fleet.names[3]!r}]); "
            "assert not {'dask', 'distributed'} & set(sys.modules), 'dask imported'; "
            "sys.exit(rc)")

    done = subprocess.run([sys.executable, "-c", code], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr


class _DieOnce(WorkerPlugin):
    """A worker plugin that ends its worker's process the first time a fleet task starts there,
    as a machine lost mid-task would (a marker file makes it happen once in the cluster)."""

    name = "akscan-die-once"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        # Workers cannot import this test module: send the class by value.
        import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        return (_DieOnce, (self.marker,))

    def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
        import os

        if finish == "executing" and "scan_repository" in str(key):
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            os._exit(1)


def test_a_worker_dying_mid_task_costs_a_retry_not_a_finding(
    cluster: LocalCluster, run_cli: RunCli, tmp_path: Path
) -> None:
    from distributed import Client

    fleet = build(tmp_path / "fleet")
    _, local_out, _ = run_cli(["fleet", "--cache", str(tmp_path / "local"), "-j", "1",
                               "--format", "json", *fleet.names])
    marker = tmp_path / "died"
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        client.register_plugin(_DieOnce(str(marker)))
        try:
            code, out, err = run_cli(["fleet", "--cache", str(tmp_path / "c"),
                                      "--worker-cache", str(tmp_path / "w"),
                                      "--dask", cluster.scheduler_address, "--format", "json",
                                      *fleet.names])
        finally:
            client.unregister_worker_plugin(_DieOnce.name)

    assert marker.exists()  # a worker did die
    assert code == 1, err
    assert locations(parse(out)) == locations(parse(local_out))
    assert parse(out)["repositories"] == parse(local_out)["repositories"]
