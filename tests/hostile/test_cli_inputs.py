"""Hostile settings, rules, baselines and --findings reports: one clean line each, bounded reads
(issue 12), and secrets pasted in the wrong place never echoed (issue 15)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import RunCli, write
from keys import random_id, random_secret

DEEP = 100_000


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def tree(tmp_path: Path) -> Path:
    return write(tmp_path / "src" / "app.py", "print('hello')\n").parent


@pytest.mark.parametrize("text", [
    "exclude = " + "[" * DEEP + "]" * DEEP,
    "[allowlist]\npaths = " + "[" * DEEP + "]" * DEEP,
    "x = " + "{a = " * DEEP + "1" + "}" * DEEP,
])
def test_deeply_nested_settings_are_one_line(text: str, tmp_path: Path, run_cli: RunCli) -> None:
    write(tmp_path / "src" / ".akscan.toml", text)
    code, _, err = run_cli(["scan", str(tree(tmp_path))])
    assert code == 2
    assert "invalid TOML" in one_line(err)


def test_deeply_nested_rule_file_is_one_line(tmp_path: Path, run_cli: RunCli) -> None:
    rules = write(tmp_path / "deep.toml", "rules = " + "[" * DEEP + "]" * DEEP)
    code, _, err = run_cli(["scan", "--rules", str(rules), str(tree(tmp_path))])
    assert code == 2
    assert "deep.toml" in one_line(err)


@pytest.mark.parametrize("content", [
    ("[" * DEEP + "]" * DEEP).encode(),
    ('{"version": 1, "findings": ' + "[" * DEEP + "]" * DEEP + "}").encode(),
    os.urandom(4096),
    b"\x00" * 1024,
    b"",
    b'{"version": 1, "findings": [{"rule_id": 1, "path": [], "secret_sha256": null}]}',
])
def test_broken_baselines_are_one_line(content: bytes, tmp_path: Path, run_cli: RunCli) -> None:
    baseline = tmp_path / "base.json"
    baseline.write_bytes(content)
    code, _, err = run_cli(["scan", "--baseline", str(baseline), str(tree(tmp_path))])
    assert code == 2
    assert "base.json" in one_line(err)


def test_a_baseline_that_never_ends_is_refused_after_a_bounded_read(
    tmp_path: Path, run_cli: RunCli
) -> None:
    code, _, err = run_cli(["scan", "--baseline", "/dev/zero", str(tree(tmp_path))])
    assert code == 2
    assert "larger than" in one_line(err)


def test_a_settings_file_that_is_a_fifo_without_writer_is_an_error_not_a_hang(
    tmp_path: Path, run_cli: RunCli
) -> None:
    fifo = tmp_path / "settings.toml"
    os.mkfifo(fifo)
    code, _, err = run_cli(["scan", "--config", str(fifo), str(tree(tmp_path))])
    assert code == 2
    one_line(err)


def test_a_settings_file_that_is_not_utf8_is_one_line(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / ".akscan.toml").write_bytes(b"exclude = ['\xff\xfe']\n")
    code, _, err = run_cli(["scan", str(tree(tmp_path))])
    assert code == 2
    assert "not UTF-8" in one_line(err)


def test_a_secret_pasted_into_allowlist_fingerprints_is_not_echoed(
    tmp_path: Path, run_cli: RunCli
) -> None:
    secret = random_secret()
    write(tmp_path / "src" / ".akscan.toml", f'[allowlist]\nfingerprints = ["{secret}"]\n')
    code, _, err = run_cli(["scan", str(tree(tmp_path))])
    assert code == 2
    line = one_line(err)
    assert secret not in err
    assert "allowlist.fingerprints" in line and "(redacted)" in line


def events(tmp_path: Path) -> Path:
    event = {"eventTime": "2024-05-01T00:00:00Z", "eventName": "ListBuckets",
             "sourceIpAddress": "203.0.113.9",
             "userIdentity": {"type": "ram-user", "accessKeyId": random_id()}}
    return write(tmp_path / "events.jsonl", json.dumps(event) + "\n")


@pytest.mark.parametrize("document", [
    "[" * DEEP + "]" * DEEP,
    json.dumps({"version": 1, "findings": [
        {"kind": "access-key-id", "secret_sha256": "0" * 64, "path": "a", "line": "x"}]}),
    json.dumps({"version": 1, "findings": [
        {"kind": "access-key-id", "secret_sha256": "0" * 64, "path": "a", "line": {"n": 1}}]}),
    json.dumps({"version": 1, "findings": [
        {"kind": "access-key-id", "secret_sha256": ["0"], "path": "a", "line": 1}]}),
    json.dumps({"version": 1, "findings": [
        {"kind": "access-key-id", "secret_sha256": "0" * 64, "path": 7, "line": 1}]}),
])
def test_findings_reports_with_wrong_types_or_nesting_are_one_line(
    document: str, tmp_path: Path, run_cli: RunCli
) -> None:
    findings = write(tmp_path / "findings.json", document)
    code, _, err = run_cli(["trail", str(events(tmp_path)), "--findings", str(findings)])
    assert code == 2
    assert "findings.json" in one_line(err)


def test_trail_known_ips_quoting_a_key_line_does_not_echo_the_key(
    tmp_path: Path, run_cli: RunCli
) -> None:
    key, secret = random_id(), random_secret()
    env = write(tmp_path / ".env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={key}\n"
                                   f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n")
    code, out, err = run_cli(["trail", str(events(tmp_path)), "--known-ips", str(env)])
    assert code == 2
    line = one_line(err)
    assert key not in out + err and secret not in out + err
    assert ".env:1" in line and "(redacted)" in line
