"""The harness itself: it must notice each kind of misbehaviour it claims to check."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from hostile.harness import check, raw_controls, run_akscan, spawn


def _python(code: str, tmp_path: Path, deadline: float = 30.0):  # type: ignore[no-untyped-def]
    return spawn([], cwd=tmp_path, program=[sys.executable, "-c", code]).wait(deadline)


def test_a_clean_usage_error_passes(tmp_path: Path) -> None:
    result = run_akscan(["scan", "--no-such-option"], cwd=tmp_path)
    check(result, exit=2, error="unrecognized arguments")


def test_a_missing_trail_input_is_said_and_exits_2(tmp_path: Path) -> None:
    result = run_akscan(["trail", str(tmp_path / "absent.jsonl")], cwd=tmp_path)
    check(result, exit=2)
    assert "absent.jsonl: cannot read" in result.stderr


def test_a_traceback_is_caught(tmp_path: Path) -> None:
    result = _python("raise ValueError('boom')", tmp_path)
    with pytest.raises(AssertionError, match="exit 1"):
        check(result, exit=2)
    with pytest.raises(AssertionError, match=r"^(?!hung)"):
        check(result, exit=1)


def test_raw_escape_and_bidi_override_are_caught(tmp_path: Path) -> None:
    assert raw_controls("ok\tline\n") == []
    assert raw_controls("a\x1b[2Jb\u202e\r\x85") == ["U+000D", "U+001B", "U+0085", "U+202E"]
    result = _python("print('found 1 key\\x1b[1A\\x1b[2Kno credentials found')", tmp_path)
    with pytest.raises(AssertionError, match="raw control characters"):
        check(result, exit=0)


def test_a_child_left_running_is_an_orphan_and_is_killed(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    code = ("import subprocess, sys; p = subprocess.Popen(['sleep', '60']);"
            f"open({str(marker)!r}, 'w').write(str(p.pid))")
    result = _python(code, tmp_path)
    assert result.orphans and "sleep 60" in result.orphans[0]
    with pytest.raises(AssertionError, match="processes left behind"):
        check(result, exit=0)
    stat = Path(f"/proc/{marker.read_text()}/stat")
    for _ in range(100):  # SIGKILL is sent; give the kernel a moment to end it
        if not stat.exists() or ") Z" in stat.read_text():
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the orphan was not killed")


def test_a_hang_is_stopped_at_the_deadline(tmp_path: Path) -> None:
    result = _python("import time; time.sleep(60)", tmp_path, deadline=1.0)
    assert result.timed_out and result.returncode == -signal.SIGKILL
    with pytest.raises(AssertionError, match="hung past the deadline"):
        check(result, exit=0)


def test_two_error_lines_are_caught(tmp_path: Path) -> None:
    code = ("import sys; print('akscan: error: one', file=sys.stderr);"
            "print('akscan: error: two', file=sys.stderr); sys.exit(2)")
    with pytest.raises(AssertionError, match="more than one error line"):
        check(_python(code, tmp_path), exit=2)


def test_peak_memory_is_measured(tmp_path: Path) -> None:
    result = _python("import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]);"
                     "time.sleep(0.5)", tmp_path)
    assert result.peak_rss_mib > 150
    with pytest.raises(AssertionError, match="peak RSS"):
        check(result, exit=0, max_rss_mib=100)
    check(result, exit=0, max_rss_mib=1000)


def test_stdout_can_be_a_full_device(tmp_path: Path) -> None:
    result = spawn([], cwd=tmp_path, stdout=Path("/dev/full"),
                   program=[sys.executable, "-c", "print('x' * 10)"]).wait(30)
    assert result.returncode != 0 and "No space left" in result.stderr
