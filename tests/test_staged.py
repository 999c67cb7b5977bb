"""`akscan staged`: the index is what gets committed, so the index is what is scanned."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from gitrepo import Repo, credentials

from akscan.cli import main


def staged(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]],
                                                                     str]:
    code = main(["staged", *args, "--format", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out)["findings"] if out.strip() else [], err


@pytest.fixture
def work(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Repo:
    repo.commit("base", {"README.md": "hello\n", "app.cfg": "region = cn-hangzhou\n"})
    monkeypatch.chdir(repo.path)
    return repo


def test_a_staged_key_blocks_with_advice(work: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    text, key, _ = credentials()
    work.write("deploy/.env", text)
    work.git("add", "deploy/.env")

    code, findings, err = staged(capsys)

    assert code == 1
    assert {f["path"] for f in findings} == {"deploy/.env"}
    assert key not in err
    for advice in ("remove the key", "environment variables", "credentials file",
                   "RAM role", "rotate it", "akscan:allow"):
        assert advice in err


def test_a_key_only_in_the_working_tree_does_not_block(
    work: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    work.write("app.cfg", "region = cn-hangzhou\n# retry = 3\n")
    work.git("add", "app.cfg")
    work.write("app.cfg", "region = cn-hangzhou\n" + credentials()[0])  # not staged

    assert staged(capsys)[:2] == (0, [])
    assert staged(capsys, "app.cfg")[:2] == (0, [])


def test_a_key_staged_then_removed_from_the_working_tree_still_blocks(
    work: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, _ = credentials()
    work.write("app.cfg", "region = cn-hangzhou\n" + text)
    work.git("add", "app.cfg")
    work.write("app.cfg", "region = cn-hangzhou\n")  # what would be committed still has it

    code, findings, _ = staged(capsys, "app.cfg")

    assert code == 1 and {f["path"] for f in findings} == {"app.cfg"}


def test_named_files_limit_the_scan_and_paths_are_from_the_root(
    work: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work.write("svc/a.env", credentials()[0])
    work.write("svc/b.env", credentials()[0])
    work.git("add", "svc")
    monkeypatch.chdir(work.path / "svc")  # a plain git hook may run from anywhere

    code, findings, _ = staged(capsys, "a.env")

    assert code == 1 and {f["path"] for f in findings} == {"svc/a.env"}
    assert {f["path"] for f in staged(capsys)[1]} == {"svc/a.env", "svc/b.env"}


def test_a_staged_deletion_and_an_unstaged_file_are_not_scanned(
    work: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    work.commit("key", {"old.env": credentials()[0]})
    work.git("rm", "-q", "old.env")
    work.write("untracked.env", credentials()[0])

    assert staged(capsys)[:2] == (0, [])
    assert staged(capsys, "old.env", "untracked.env")[:2] == (0, [])


def test_first_commit_and_odd_file_names(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write(b"caf\xe9 [prod].env", credentials()[0])
    repo.git("add", "-A")
    monkeypatch.chdir(repo.path)

    code, findings, _ = staged(capsys)
    named, _, _ = staged(capsys, "caf\udce9 [prod].env")

    assert code == 1 and named == 1
    assert {f["path"] for f in findings} == {"caf\\xe9 [prod].env"}


def test_inline_allow_comment_lets_the_commit_through(
    work: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    key = credentials()[1]
    work.write("docs.md", f"key_id = {key}  # akscan:allow test fixture\n")
    work.git("add", "docs.md")

    assert staged(capsys)[:2] == (0, [])


def test_same_content_staged_at_two_paths_is_reported_at_both(
    work: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text = credentials()[0]
    work.write("a.env", text)
    work.write("b.env", text)
    work.git("add", "a.env", "b.env")

    _, findings, _ = staged(capsys)

    assert sorted(f["path"] for f in findings) == ["a.env", "a.env", "b.env", "b.env"]
    assert all(p["path"] == f["path"] for f in findings for p in f["paired_with"])


def test_bare_repository_is_refused(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = Repo(tmp_path / "bare.git", bare=True)
    monkeypatch.chdir(bare.path)

    assert main(["staged"]) == 2
    assert "needs a work tree" in capsys.readouterr().err


def test_a_file_over_the_size_limit_is_named_and_the_files_after_it_still_scanned(
    work: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    # One git reads every staged blob; the large one is read past, not kept, and the next
    # blob in the same stream is read whole.
    work.write("a-big.env", credentials()[0] + "x" * 300_000 + "\n")
    work.write("b.env", credentials()[0])
    work.git("add", "a-big.env", "b.env")

    code, findings, err = staged(capsys, "--max-file-size", "100KB")

    assert code == 1
    assert {f["path"] for f in findings} == {"b.env"}
    assert "a-big.env: 300117 bytes is over the size limit of 102400 bytes" in err


def test_a_missing_blob_is_named_and_the_other_staged_files_still_scanned(
    work: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    work.write("a.env", credentials()[0])
    work.write("b.env", credentials()[0])
    work.git("add", "a.env", "b.env")
    blob = work.git("rev-parse", ":a.env")
    (work.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()

    code, findings, err = staged(capsys)

    assert code == 1
    assert {f["path"] for f in findings} == {"b.env"}
    assert f"a.env: staged blob {blob} is missing from the repository" in err


def test_a_partial_clone_scans_the_staged_files_and_fetches_nothing(
    repo: Repo, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("old", {"old.env": credentials()[0]})
    repo.git("rm", "-q", "old.env")
    repo.commit("remove", {"README.md": "hello\n"})
    repo.git("config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "partial"
    subprocess.run(["git", "clone", "-q", "--filter=blob:none", f"file://{repo.path}",
                    str(clone)], check=True, env=repo.env())
    text = credentials()[0]
    (clone / "app.env").write_text(text)
    subprocess.run(["git", "add", "app.env"], cwd=clone, check=True, env=repo.env())
    monkeypatch.chdir(clone)

    code, findings, _ = staged(capsys)

    assert code == 1 and {f["path"] for f in findings} == {"app.env"}
    missing = subprocess.run(["git", "rev-list", "--objects", "--missing=print", "--all"],
                             cwd=clone, capture_output=True, text=True, check=True).stdout
    assert sum(line.startswith("?") for line in missing.splitlines()) == 1  # old.env's
