"""The error boundary: whatever goes wrong, exit 2 with one line, never 1, never a traceback
(issue 12). Closed, full and vanishing standard output included."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import RunCli, subprocess_env, write
from keys import random_id

import akscan.commands.scan
from hostile.harness import BUSY_LINE, SLOW_RULE


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def key_tree(root: Path, count: int = 1) -> Path:
    for n in range(count):
        write(root / f"k{n}.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    return root


def akscan_shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m akscan` under sh, for redirections such as >&- that Python cannot express."""
    return subprocess.run(["sh", "-c", f'"{sys.executable}" -m akscan {command}'], cwd=cwd,
                          capture_output=True, text=True, env=subprocess_env(), timeout=120)


@pytest.mark.parametrize("exception", [RuntimeError("boom"), ValueError("odd"), KeyError("k"),
                                       AttributeError("x")])
def test_unexpected_exception_is_exit_2_with_one_line_and_a_hint(
    exception: Exception, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise exception

    monkeypatch.setattr(akscan.commands.scan, "collect", broken)
    code, _, err = run_cli(["scan", str(key_tree(tmp_path))])
    assert code == 2
    line = one_line(err)
    assert f"unexpected {type(exception).__name__}" in line
    assert "rerun with -v for the traceback" in line


def test_unexpected_exception_with_v_shows_the_traceback_then_the_line(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(akscan.commands.scan, "collect", broken)
    code, _, err = run_cli(["scan", "-v", str(key_tree(tmp_path))])
    assert code == 2
    assert "Traceback" in err
    assert err.strip().splitlines()[-1] == "akscan: error: unexpected RuntimeError: boom"


@pytest.mark.parametrize(("exception", "words"), [
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    (MemoryError(), "out of memory"),
])
def test_resource_exhaustion_is_exit_2_with_a_plain_reason(
    exception: BaseException, words: str, tmp_path: Path, run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> None:
        raise exception

    monkeypatch.setattr(akscan.commands.scan, "collect", broken)
    code, _, err = run_cli(["scan", str(tmp_path)])
    assert code == 2
    assert words in one_line(err)


def test_an_error_message_is_escaped_and_redacted(
    tmp_path: Path, run_cli: RunCli
) -> None:
    key = random_id()
    code, _, err = run_cli(["scan", str(tmp_path / f"gone\x1b[2J\r{key}")])
    assert code == 2
    line = one_line(err)
    assert "\x1b" not in err and "\r" not in err
    assert key not in err and "(redacted)" in line


def test_closed_standard_output_is_exit_2_not_a_report(tmp_path: Path) -> None:
    key_tree(tmp_path / "tree")
    result = akscan_shell("scan tree >&-", tmp_path)
    assert result.returncode == 2
    assert "standard output is closed" in one_line(result.stderr)


def test_closed_standard_output_is_fine_when_the_report_goes_to_a_file(tmp_path: Path) -> None:
    key_tree(tmp_path / "tree")
    result = akscan_shell("scan -q -f json -o out.json tree >&-", tmp_path)
    assert result.returncode == 1, result.stderr
    assert '"findings"' in (tmp_path / "out.json").read_text()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_full_standard_output_is_exit_2_not_findings(fmt: str, tmp_path: Path) -> None:
    key_tree(tmp_path / "tree")
    result = akscan_shell(f"scan -f {fmt} tree > /dev/full", tmp_path)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "cannot write the report to standard output" in line
    assert "No space left on device" in line


def test_a_reader_that_goes_away_is_exit_2_not_findings(tmp_path: Path) -> None:
    key_tree(tmp_path / "tree", count=400)  # a report far larger than a pipe's buffer
    proc = subprocess.Popen([sys.executable, "-m", "akscan", "scan", "-f", "json", "tree"],
                            cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 2
    assert "standard output" in one_line(err)


def test_closed_standard_error_still_gives_the_exit_code(tmp_path: Path) -> None:
    key_tree(tmp_path / "tree")
    result = akscan_shell("scan tree 2>&-", tmp_path)
    assert result.returncode == 1
    assert "alibaba-access-key-id" in result.stdout


def test_every_command_accepts_the_v_the_error_hint_names() -> None:
    from akscan.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands
    for name, command in commands.items():
        assert "-v" in command._option_string_actions, name


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_run_leaves_no_report_and_no_partial_file(
    signum: int, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    # Keeps the scan at work for the rule's 5 s timeout. With -j 1 the match runs in the main
    # thread, and Python acts on a signal only when it returns (README, "Signals").
    write(tree / "busy.txt", BUSY_LINE)
    (tmp_path / "slow.toml").write_text(SLOW_RULE)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "akscan", "scan", "-j", "1", "-f", "json",
                             "--rules", str(tmp_path / "slow.toml"), "--regex-timeout", "5",
                             "-o", str(out / "report.json"), str(tree)],
                            cwd=tmp_path, env=subprocess_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(out.glob("*.partial")) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the scan ended before it could be interrupted"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in one_line(err)
    assert list(out.iterdir()) == []
