"""Baselines: accept what a repository already has, report only what is new."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, credentials

from akscan.cli import main


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]],
                                                                     str]:
    code = main([*args, "--format", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out)["findings"] if out.strip() else [], err


def test_baseline_file_is_sorted_fingerprints_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text_b, key_b, secret_b = credentials()
    text_a, key_a, secret_a = credentials()
    (tmp_path / "b.env").write_text(text_b)
    (tmp_path / "a.env").write_text(text_a + text_a)  # twice in one file: one entry each
    monkeypatch.chdir(tmp_path)

    assert main(["baseline", "-o", "base.json"]) == 0

    raw = (tmp_path / "base.json").read_text()
    assert not any(s in raw for s in (key_a, key_b, secret_a, secret_b))
    document = json.loads(raw)
    assert list(document) == ["version", "findings"] and document["version"] == 1
    entries = document["findings"]
    assert entries == sorted(entries, key=lambda e: (e["path"], e["rule_id"], e["secret_sha256"]))
    assert {(e["path"], e["secret_sha256"]) for e in entries} == {
        ("a.env", sha(key_a)), ("a.env", sha(secret_a)),
        ("b.env", sha(key_b)), ("b.env", sha(secret_b)),
    }
    assert raw.startswith('{\n  "version": 1,\n') and raw.endswith("}\n")
    assert "wrote 4 fingerprint(s) of 6 finding(s) to base.json" in capsys.readouterr().err


def test_only_new_findings_are_reported_with_a_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = credentials()
    (tmp_path / "old.env").write_text(old[0])
    monkeypatch.chdir(tmp_path)
    main(["baseline", "-o", "accepted.json"])
    new = credentials()
    (tmp_path / "new.env").write_text(new[0])
    (tmp_path / "moved.env").write_text(old[0])  # the old key in a new place is new

    code, findings, _ = report(capsys, "scan", ".", "--baseline", "accepted.json")
    _, everything, _ = report(capsys, "scan", ".", "--baseline", "accepted.json",
                              "--include-suppressed")

    assert code == 1
    assert {f["path"] for f in findings} == {"new.env", "moved.env"}
    assert {f["path"] for f in everything if f["suppressed"] == "baseline"} == {"old.env"}


def test_everything_in_the_baseline_means_exit_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "old.env").write_text(credentials()[0])
    monkeypatch.chdir(tmp_path)
    main(["baseline", "-o", "accepted.json"])

    code, findings, err = report(capsys, "scan", "--baseline", "accepted.json")

    assert (code, findings) == (0, [])
    assert "no credentials found, 2 suppressed" in err


def test_adopting_on_an_old_repository_is_one_command(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = credentials()
    repo.commit("old key", {"legacy/settings.env": old[0]})
    repo.git("rm", "-q", "legacy/settings.env")
    repo.commit("removed, but still in history")
    monkeypatch.chdir(repo.path)

    assert main(["baseline", "--history"]) == 0  # writes .akscan-baseline.json at the root
    capsys.readouterr()
    assert report(capsys, "history")[:2] == (0, [])

    text = credentials()[0]
    repo.commit("new key", {"svc/new.env": text})
    code, findings, _ = report(capsys, "history")
    assert code == 1 and {f["path"] for f in findings} == {"svc/new.env"}
    repo.write("svc/staged.env", credentials()[0])
    repo.git("add", "svc/staged.env")
    monkeypatch.chdir(repo.path / "svc")  # found at the root from a subdirectory too
    assert {f["path"] for f in report(capsys, "staged")[1]} == {"svc/staged.env"}


def test_unknown_baseline_version_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "future.json"
    base.write_text('{"version": 2, "findings": []}\n')

    code = main(["scan", str(tmp_path), "--baseline", str(base)])

    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "baseline version 2 is not supported" in err


@pytest.mark.parametrize("content, problem", [
    ("not json", "invalid JSON"),
    ("[]", "no 'version'"),
    ('{"version": 1, "findings": [{"path": "a"}]}', "findings[0]"),
])
def test_malformed_baseline_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    base = tmp_path / "base.json"
    base.write_text(content)

    assert main(["scan", str(tmp_path), "--baseline", str(base)]) == 2
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1


# --- paths anchored at the repository root, wherever the scan starts (issue 11) -----------


def project_with_keys(root: Path) -> dict[str, str]:
    """A git work tree with a key in app/config.env and one in app/sub/deep.env."""
    (root / ".git").mkdir(parents=True)
    texts = {}
    for name in ("app/config.env", "app/sub/deep.env"):
        text, key, _ = credentials()
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
        texts[name] = key
    return texts


@pytest.mark.parametrize(("cwd", "target"), [
    (".", "app"), (".", "app/sub"), ("app", "."), ("app/sub", "."), (".", "app/config.env"),
    ("app", "sub/deep.env"), (".", "."),
])
def test_a_baseline_made_at_the_root_matches_wherever_the_scan_starts(
    cwd: str, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project_with_keys(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["baseline"]) == 0
    assert (tmp_path / ".akscan-baseline.json").is_file()
    monkeypatch.chdir(tmp_path / cwd)
    code, findings, err = report(capsys, "scan", target)
    assert (code, findings) == (0, []), err
    assert "suppressed" in err


def test_a_baseline_made_from_a_subfolder_is_written_at_the_root_with_root_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project_with_keys(tmp_path)
    monkeypatch.chdir(tmp_path / "app")
    assert main(["baseline", "sub"]) == 0
    document = json.loads((tmp_path / ".akscan-baseline.json").read_text())
    assert [e["path"] for e in document["findings"]] == ["app/sub/deep.env"] * 2
    monkeypatch.chdir(tmp_path)
    code, findings, _ = report(capsys, "scan", ".")
    assert code == 1
    assert {f["path"] for f in findings} == {"app/config.env"}


def test_a_root_baseline_also_serves_history_of_the_same_repository(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, _ = credentials()
    repo.commit("add", {"app/config.env": text})
    monkeypatch.chdir(repo.path / "app")
    assert main(["baseline", "."]) == 0
    assert (repo.path / ".akscan-baseline.json").is_file()
    code, findings, err = report(capsys, "history")
    assert (code, findings) == (0, []), err
