"""Control characters and bidi overrides from file names, commits and rules never reach the
terminal raw, in any command (issue 12); every command names a file the same way (issue 11)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from gitrepo import Repo, credentials
from helpers import RunCli, write
from keys import random_id

RAW = ("\x1b", "\r", "\x9b", "\u202e", "\x07")
FAKE = "x\r\x1b[2K\x1b[1Aakscan: no credentials found\n.env"


def assert_no_raw_controls(text: str) -> None:
    for char in RAW:
        assert char not in text, (char, text)
    for line in text.splitlines():
        assert "\x1b" not in line


def test_a_file_name_cannot_erase_its_finding_or_fake_a_clean_result(
    tmp_path: Path, run_cli: RunCli
) -> None:
    write(tmp_path / FAKE, f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    code, out, err = run_cli(["scan", "--color", "never", str(tmp_path)])
    assert code == 1
    assert_no_raw_controls(out + err)
    assert "x\\x0d\\x1b[2K\\x1b[1Aakscan: no credentials found\\x0a.env:1:" in out
    assert "1 credential(s) found" in err


def test_colour_codes_stay_but_names_are_escaped_with_colour_on(
    tmp_path: Path, run_cli: RunCli
) -> None:
    write(tmp_path / "a\u202etxt.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    code, out, _ = run_cli(["scan", "--color", "always", str(tmp_path)])
    assert code == 1
    assert "\u202e" not in out and "a\\u202etxt.env" in out
    assert "\x1b[1m" in out  # akscan's own colour is still there


def test_notes_and_warnings_about_odd_names_are_escaped(tmp_path: Path, run_cli: RunCli) -> None:
    os.mkfifo(tmp_path / "pipe\x1b[2J\r.env")
    write(tmp_path / "big\x1b]0;title\x07.env", "x" * 2048)
    code, _, err = run_cli(["scan", "-v", "--max-file-size", "1k", str(tmp_path)])
    assert code == 2
    assert_no_raw_controls(err)
    assert "pipe\\x1b[2J\\x0d.env" in err


def test_rule_descriptions_with_control_characters_are_escaped(
    tmp_path: Path, run_cli: RunCli
) -> None:
    rules = write(tmp_path / "rules.toml", """
[[rules]]
id = "corp-token"
description = "Corp token\\u001b[2J\\r"
kind = "access-key-secret"
severity = "high"
precision = "high"
keywords = ["corptok"]
pattern = 'corptok_(?P<secret>[A-Za-z0-9]{24})'
remediation = "Rotate\\u001b]0;x\\u0007 it"

[rules.examples]
positive = ["corptok_Q3x9Lm2Zp7Rt4Vw8Yb6Nc1K"]
negative = ["corptok_short"]
""")
    write(tmp_path / "src" / "a.txt", "corptok_H7b2Kq9Lx4Mz8Np3Rt6Vw1Yc\n")
    for extra in ([], ["--quiet"], ["-f", "json"], ["-f", "sarif"]):
        code, out, err = run_cli(["scan", *extra, "--rules", str(rules), str(tmp_path / "src")])
        assert code == 1, err
        assert "corp-token" in out
        assert_no_raw_controls(out + err)


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_machine_reports_hold_no_raw_c1_or_bidi_characters(
    fmt: str, tmp_path: Path, run_cli: RunCli
) -> None:
    write(tmp_path / "a\u202e\u0085b.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    code, out, _ = run_cli(["scan", "-f", fmt, str(tmp_path)])
    assert code == 1
    assert "\u202e" not in out and "\x85" not in out
    json.loads(out)


def test_scan_history_and_staged_name_a_file_alike_so_one_baseline_serves_all(
    repo: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, _, _ = credentials()
    repo.write(b"new\nline.env", text)
    repo.git("add", "--", "new\nline.env")
    monkeypatch.chdir(repo.path)
    paths = {}
    for command in (["scan", "."], ["staged"]):
        code, out, _ = run_cli([*command, "-f", "json"])
        assert code == 1
        paths[command[0]] = {f["path"] for f in json.loads(out)["findings"]}
    repo.commit("add")
    code, out, _ = run_cli(["history", "-f", "json"])
    paths["history"] = {f["path"] for f in json.loads(out)["findings"]}
    assert paths["scan"] == paths["staged"] == paths["history"] == {"new\\x0aline.env"}
    code, _, _ = run_cli(["baseline", "."])
    assert code == 0
    for command in (["scan", "."], ["staged", "new\nline.env"], ["history"]):
        code, _, err = run_cli([*command, "-f", "json"])
        assert code == 0, (command, err)


def test_a_newline_in_a_name_and_a_literal_backslash_x0a_are_told_apart(
    tmp_path: Path, run_cli: RunCli
) -> None:
    write(tmp_path / "a\nb", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    write(tmp_path / "a\\x0ab", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    code, out, _ = run_cli(["scan", "-f", "json", str(tmp_path)])
    assert code == 1
    assert sorted(f["path"] for f in json.loads(out)["findings"]) == ["a\\\\x0ab", "a\\x0ab"]
