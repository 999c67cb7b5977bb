"""--validate against endpoints that misbehave (issue 12): a black hole, a flood, a redirect, a
drip, an answer without an ARN, control characters in what the server says. The real SDK runs
against the emulator or a raw socket on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import RunCli, write
from hostile.harness import raw_controls
from keys import env_file, new_key

from akscan.emulator import EmulatedKey, Emulator
from akscan.model import sha256_hex

pytest.importorskip("alibabacloud_sts20150401", reason="needs akscan[validate]")


class Listener:
    """A TCP port on 127.0.0.1 that accepts and then does what `serve(conn)` does."""

    def __init__(self, serve: Any = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.open: list[socket.socket] = []
        self._serve = serve
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.open.append(conn)  # held open, never answered (unless serve does)
            if self._serve is not None:
                threading.Thread(target=self._serve, args=(conn, self._stop),
                                 daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self.open:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def _plant(root: Path, count: int) -> list[tuple[str, str]]:
    pairs = [new_key() for _ in range(count)]
    for n, (key_id, secret) in enumerate(pairs):
        write(root / f"k{n}.env", env_file(key_id, secret))
    return pairs


def _scan(run_cli: RunCli, url: str, root: Path, *args: str) -> tuple[int, list[Any], str]:
    code, out, err = run_cli(["scan", "--validate", "--validate-endpoint", url, "--format",
                              "json", *args, str(root)])
    assert "Traceback" not in err, err
    return code, json.loads(out)["findings"] if out.strip() else [], err


def _reasons(findings: list[Any]) -> list[str]:
    return [f["validation"]["reason"] for f in findings if f["kind"] == "access-key-id"]


def test_a_black_holed_endpoint_stops_validation_early(
    run_cli: RunCli, tmp_path: Path, black_hole: Listener
) -> None:
    _plant(tmp_path / "repo", 40)

    code, findings, err = _scan(run_cli, black_hole.url, tmp_path / "repo",
                                "--validate-timeout", "1")

    assert code == 1
    reasons = _reasons(findings)
    assert len(reasons) == 40
    assert all(f["validation"]["status"] == "unknown" for f in findings)
    skipped = [r for r in reasons if r.startswith("not checked:")]
    assert len(skipped) >= 30  # 500 pairs once took 20 minutes, four at a time
    assert f"127.0.0.1:{black_hole.port} did not answer 4 checks in a row" in skipped[0]
    assert black_hole.accepted <= 8
    assert (f"validation stopped early: 127.0.0.1:{black_hole.port} did not answer 4 checks "
            f"in a row") in err and f"{len(skipped)} pair(s) not checked are unknown" in err


def test_pairs_left_at_the_deadline_are_unknown_and_said(run_cli: RunCli,
                                                         tmp_path: Path) -> None:
    pairs = _plant(tmp_path / "repo", 8)
    keys = [EmulatedKey(k, s, slow=1.5) for k, s in pairs]
    with Emulator(keys) as emulator:
        code, findings, err = _scan(run_cli, emulator.url, tmp_path / "repo",
                                    "--validate-deadline", "1", "--validate-timeout", "5")
        asked = sum(1 for _, action in emulator.service.calls
                    if action == "GetCallerIdentity")

    reasons = _reasons(findings)
    late = [r for r in reasons if "the validation deadline of 1 s passed" in r]
    assert late and asked < 8
    assert "validation stopped early: the validation deadline of 1 s passed" in err
    assert code == 1


@pytest.mark.parametrize("option", ["--validate-deadline", "--validate-timeout"])
@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan"])
def test_deadline_and_timeout_must_be_positive_and_finite(
    run_cli: RunCli, tmp_path: Path, option: str, value: str
) -> None:
    _plant(tmp_path / "repo", 1)
    code, _, err = run_cli(["scan", "--validate", option, value, str(tmp_path / "repo")])
    assert code == 2 and err.count("\n") == 1 and option in err


def test_a_flood_of_an_answer_is_not_read_whole(run_cli: RunCli, tmp_path: Path) -> None:
    [(key_id, secret)] = _plant(tmp_path / "repo", 1)
    size = 64 << 20
    with Emulator([EmulatedKey(key_id, secret, flood=size)]) as emulator:
        code, findings, _ = _scan(run_cli, emulator.url, tmp_path / "repo")
        sent = emulator.service.flood_sent

    assert code == 1
    assert {r for r in _reasons(findings)} == {
        f"127.0.0.1:{emulator.port} answered with an answer larger than 1024 KiB; not read"}
    assert sent < size // 4  # it stopped reading: the rest was never taken


def test_a_redirect_is_never_followed(run_cli: RunCli, tmp_path: Path) -> None:
    [(key_id, secret)] = _plant(tmp_path / "repo", 1)
    elsewhere = Listener()
    try:
        key = EmulatedKey(key_id, secret, redirect=f"{elsewhere.url}/collect?k=1")
        with Emulator([key]) as emulator:
            code, findings, _ = _scan(run_cli, emulator.url, tmp_path / "repo")
    finally:
        elsewhere.close()

    assert elsewhere.accepted == 0
    assert set(_reasons(findings)) == {
        f"127.0.0.1:{emulator.port}: redirected to {elsewhere.url}; redirects are never "
        "followed"}
    assert all(f["validation"]["status"] == "unknown" for f in findings) and code == 1


def _drip(conn: socket.socket, stop: threading.Event) -> None:
    try:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{")
        while not stop.wait(0.2):
            conn.sendall(b" ")
    except OSError:
        pass


def test_an_answer_dripped_byte_by_byte_is_given_up_on(run_cli: RunCli, tmp_path: Path) -> None:
    _plant(tmp_path / "repo", 1)
    drip = Listener(_drip)
    try:
        code, findings, _ = _scan(run_cli, drip.url, tmp_path / "repo", "--validate-timeout", "1")
    finally:
        drip.close()

    assert set(_reasons(findings)) == {
        f"127.0.0.1:{drip.port}: the answer did not arrive whole within 1 s"}
    assert code == 1


def test_an_answer_without_an_arn_is_unknown_not_live(run_cli: RunCli, tmp_path: Path) -> None:
    [(key_id, secret)] = _plant(tmp_path / "repo", 1)
    with Emulator([EmulatedKey(key_id, secret, no_arn=True)]) as emulator:
        _, findings, _ = _scan(run_cli, emulator.url, tmp_path / "repo")

    [verdict] = [f["validation"] for f in findings if f["kind"] == "access-key-id"]
    assert verdict["status"] == "unknown"
    assert verdict["reason"] == "the endpoint answered without the caller's ARN: no verdict"


@pytest.mark.parametrize("fmt", ["json", "text", "sarif"])
def test_control_characters_in_the_servers_answer_are_escaped(
    run_cli: RunCli, tmp_path: Path, fmt: str
) -> None:
    [(key_id, secret)] = _plant(tmp_path / "repo", 1)
    nasty = "ci\x1b[2J\x1b[1A\r\u202e\x9b"
    with Emulator([EmulatedKey(key_id, secret, user_name=nasty)]) as emulator:
        code, out, err = run_cli(["scan", "--validate", "--validate-endpoint", emulator.url,
                                  "--format", fmt, str(tmp_path / "repo")])

    assert code == 1
    assert raw_controls(out) == [] and raw_controls(err) == []
    if fmt == "json":
        [verdict] = [f["validation"] for f in json.loads(out)["findings"]
                     if f["secret_sha256"] == sha256_hex(key_id)]
        assert verdict["status"] == "live"
        assert verdict["arn"] == "acs:ram::1234567890123456:user/ci\\x1b[2J\\x1b[1A\\x0d" \
                                 "\\u202e\\u009b"
