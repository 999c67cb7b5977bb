"""Report files appear whole or not at all, `-o -` is standard output, and an unwritable `-o`
fails before the scan (issues 11 and 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import RunCli, write
from keys import random_id

import akscan.commands.scan
from akscan.report.output import ReportFile


def key_tree(root: Path) -> Path:
    write(root / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    return root


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


def test_dash_output_means_standard_output(tmp_path: Path, run_cli: RunCli) -> None:
    code, out, _ = run_cli(["scan", "-f", "json", "-o", "-", str(key_tree(tmp_path / "t"))])
    assert code == 1
    assert len(json.loads(out)["findings"]) == 1
    assert not (Path.cwd() / "-").exists()


def test_report_file_is_complete_and_no_temporary_file_remains(
    tmp_path: Path, run_cli: RunCli
) -> None:
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    code, stdout, _ = run_cli(["scan", "-f", "json", "-o", str(out), str(key_tree(tmp_path / "t"))])
    assert (code, stdout) == (1, "")
    assert len(json.loads(out.read_text())["findings"]) == 1
    assert leftovers(out.parent) == []


def test_unwritable_output_fails_before_the_scan(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = []
    monkeypatch.setattr(akscan.commands.scan, "collect", lambda *a: scanned.append(a))
    code, _, err = run_cli(["scan", "-o", str(tmp_path / "missing" / "r.json"), str(tmp_path)])
    assert code == 2
    assert "cannot write report" in err and "No such file or directory" in err
    assert scanned == []


def test_output_that_is_a_directory_fails_before_the_scan(
    tmp_path: Path, run_cli: RunCli
) -> None:
    code, _, err = run_cli(["scan", "-o", str(tmp_path), str(tmp_path)])
    assert code == 2
    assert "is a directory" in err and "credential" not in err


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), RuntimeError("boom")])
def test_failed_or_interrupted_run_leaves_the_old_report_and_no_partial_file(
    failure: BaseException, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = write(tmp_path / "out" / "report.sarif", "previous report\n")

    def broken(*_: object) -> None:
        raise failure

    monkeypatch.setattr(akscan.commands.scan, "collect", broken)
    code, _, _ = run_cli(["scan", "-f", "sarif", "-o", str(out), str(key_tree(tmp_path / "t"))])
    assert code in (2, 130)
    assert out.read_text() == "previous report\n"
    assert leftovers(out.parent) == []


def test_a_reporter_failing_midway_leaves_no_partial_report(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    report = ReportFile(str(target))

    def half(stream: object) -> None:
        stream.write("half a report")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    with pytest.raises(Exception, match="No space left on device"):
        report.commit(half)
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_report_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    ReportFile(str(target)).commit(lambda stream: stream.write("ok\n"))
    assert target.read_text() == "ok\n"
    assert target.stat().st_mode & 0o644 == 0o644


def test_output_to_a_device_is_written_in_place(tmp_path: Path, run_cli: RunCli) -> None:
    code, _, _ = run_cli(["scan", "-o", "/dev/null", str(key_tree(tmp_path / "t"))])
    assert code == 1


def test_baseline_dash_output_is_standard_output(tmp_path: Path, run_cli: RunCli) -> None:
    code, out, _ = run_cli(["baseline", "-o", "-", str(key_tree(tmp_path / "t"))])
    assert code == 0
    assert len(json.loads(out)["findings"]) == 1
