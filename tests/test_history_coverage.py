"""`akscan history` sees everything a ref reaches (issue 11): messages, tags that point at trees
or blobs, older stash entries, objects hidden by `git replace`; and a repository with missing
objects is scanned as far as it can be read, saying what was not."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, credentials
from keys import random_id, random_secret
from test_history import by_secret, history

from akscan.cli import main

Validate = Callable[[Any], None]


def test_key_only_in_commit_message_is_found(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("readme", {"README.md": "hello\n"})
    secret = random_secret()
    commit = repo.commit(f"deploy fix\n\nused ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret} to test\n",
                         author="Bob Dev")

    code, findings, err = history(capsys, str(repo.path))

    assert code == 1
    (found,) = by_secret(findings, secret)
    assert (found["path"], found["line"]) == ("<commit message>", 3)
    assert (found["commit"], found["author"]) == (commit, "Bob Dev")
    assert found["ref"] == "refs/heads/main"
    assert "2 messages" in err


def test_annotated_tag_message_is_found_with_its_tagger(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("readme", {"README.md": "hello\n"})
    key = random_id()
    repo.git("tag", "-a", "v1.0", "-m", f"release\n\nAccessKeyId: {key}\n", author="Tag Ger")
    tag = repo.git("rev-parse", "v1.0")

    code, findings, _ = history(capsys, str(repo.path))

    assert code == 1
    (found,) = by_secret(findings, key)
    assert (found["path"], found["line"]) == ("<tag message>", 3)
    assert (found["ref"], found["tag"], found["author"]) == ("refs/tags/v1.0", tag, "Tag Ger")
    assert "commit" not in found


def test_tag_pointing_straight_at_a_blob_or_a_tree_is_scanned(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("readme", {"README.md": "hello\n"})
    blob_text, _, blob_secret = credentials()
    blob = repo.git("hash-object", "-w", "--stdin", stdin=blob_text.encode())
    repo.git("tag", "loose-blob", blob)
    tree_text, _, tree_secret = credentials()
    repo.write("conf/prod.env", tree_text)
    repo.git("add", "conf/prod.env")
    tree = repo.git("write-tree")
    repo.git("reset", "-q")
    repo.git("tag", "-a", "-m", "a tree", "loose-tree", tree)
    tag = repo.git("rev-parse", "loose-tree")

    code, findings, _ = history(capsys, str(repo.path))

    assert code == 1
    (in_blob,) = by_secret(findings, blob_secret)
    assert (in_blob["path"], in_blob["ref"]) == ("<refs/tags/loose-blob>", "refs/tags/loose-blob")
    (in_tree,) = by_secret(findings, tree_secret)
    assert (in_tree["path"], in_tree["ref"], in_tree["tag"]) == (
        "conf/prod.env", "refs/tags/loose-tree", tag)


def test_older_stash_entry_is_scanned(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.commit("base", {"app.env": "DEBUG=1\n"})
    old_text, _, old_secret = credentials()
    repo.write("app.env", old_text)
    repo.git("stash", "-q")
    repo.write("app.env", "DEBUG=2\n")
    repo.git("stash", "-q")  # the key is now only in stash@{1}

    code, findings, _ = history(capsys, str(repo.path))

    assert code == 1
    (found,) = by_secret(findings, old_secret)
    assert found["path"] == "app.env"
    assert found["ref"] == "stash@{1}"


def test_commit_hidden_by_git_replace_is_scanned(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, secret = credentials()
    leaky = repo.commit("add config", {"app.env": text})
    clean_tree = repo.git("mktree", stdin=b"")
    clean = repo.git("commit-tree", clean_tree, "-m", "add config")
    repo.git("replace", leaky, clean)  # git log now shows the clean commit in its place
    assert "app.env" not in repo.git("log", "--stat", "main")

    code, findings, _ = history(capsys, str(repo.path))

    assert code == 1
    assert by_secret(findings, secret)[0]["commit"] == leaky


def test_ordinary_finding_names_the_ref_that_reaches_it(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", {"README.md": "hello\n"})
    repo.git("checkout", "-q", "-b", "topic")
    text, _, secret = credentials()
    repo.commit("add", {"a.env": text})
    repo.git("checkout", "-q", "main")

    _, findings, _ = history(capsys, str(repo.path))

    assert by_secret(findings, secret)[0]["ref"] == "refs/heads/topic"


def test_message_finding_in_text_and_sarif_reports_names_its_commit(
    repo: Repo, tmp_path: Path, validate: Validate, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = random_secret()
    commit = repo.commit(f"oops ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}")

    code = main(["history", str(repo.path), "--color", "never"])
    out = capsys.readouterr().out
    assert code == 1
    assert "  <commit message>:1:" in out
    assert f"commit {commit}" in out and secret not in out

    sarif = tmp_path / "out.sarif"
    code = main(["history", str(repo.path), "-f", "sarif", "-o", str(sarif), "-q"])
    log = json.loads(sarif.read_text())
    validate(log)
    (result,) = log["runs"][0]["results"]
    assert code == 1
    assert f"in commit {commit}" in result["message"]["text"]
    assert secret not in sarif.read_text()


# Missing objects: a partial clone, a damaged repository.

def _partial_clone(repo: Repo, tmp_path: Path, key_at_head: bool) -> tuple[Path, str, str]:
    """A --filter=blob:none clone whose history holds a key that was never fetched, and whose
    checkout holds another one or none; (clone, the old secret, the secret at HEAD)."""
    old_text, _, old_secret = credentials()
    repo.commit("old", {"old.env": old_text})
    repo.git("rm", "-q", "old.env")
    repo.commit("remove")
    new_text, _, new_secret = credentials()
    repo.commit("new", {"new.env": new_text if key_at_head else "DEBUG=1\n"})
    repo.git("config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "partial"
    subprocess.run(["git", "clone", "-q", "--filter=blob:none", f"file://{repo.path}",
                    str(clone)], check=True, env=repo.env())
    return clone, old_secret, new_secret


def _missing_blobs(path: Path) -> int:
    out = subprocess.run(["git", "rev-list", "--objects", "--missing=print", "--all"], cwd=path,
                         capture_output=True, text=True, check=True).stdout
    return sum(line.startswith("?") for line in out.splitlines())


def test_partial_clone_scans_what_it_has_and_names_what_it_lacks(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clone, old_secret, new_secret = _partial_clone(repo, tmp_path, key_at_head=True)
    assert _missing_blobs(clone) == 1

    code, findings, err = history(capsys, str(clone))

    assert code == 1  # a key was found: the result is not in doubt
    assert by_secret(findings, new_secret) and not by_secret(findings, old_secret)
    assert "warning: partial clone" in err
    assert "1 git objects are missing or unreadable" in err and "old.env (blob " in err
    assert "1 objects missing (partial clone)" in err
    assert _missing_blobs(clone) == 1  # nothing was fetched


def test_partial_clone_with_nothing_found_but_blobs_missing_exits_2(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clone, _, _ = _partial_clone(repo, tmp_path, key_at_head=False)

    code, findings, err = history(capsys, str(clone))

    assert (code, findings) == (2, [])
    assert "no credentials found" in err and "are missing" in err
    assert _missing_blobs(clone) == 1


def _loose_object(repo: Repo, oid: str) -> Path:
    return repo.path / ".git" / "objects" / oid[:2] / oid[2:]


def test_missing_blob_is_named_and_the_rest_still_scanned(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    kept_text, _, kept_secret = credentials()
    repo.commit("add", {"a.env": credentials()[0], "b.env": kept_text})
    blob = repo.git("rev-parse", "HEAD:a.env")
    _loose_object(repo, blob).unlink()

    code, findings, err = history(capsys, str(repo.path))

    assert code == 1
    assert by_secret(findings, kept_secret)
    assert f"missing object {blob}: a.env (blob " in err
    assert "damaged" in err and "1 objects missing" in err


def test_only_missing_blobs_and_nothing_found_exits_2(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("add", {"a.env": credentials()[0], "b.txt": "fine\n"})
    blob = repo.git("rev-parse", "HEAD:a.env")
    _loose_object(repo, blob).unlink()

    code, findings, err = history(capsys, str(repo.path))

    assert (code, findings) == (2, [])
    assert f"missing object {blob}" in err


def test_binary_blob_over_the_size_limit_has_its_printable_runs_scanned(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    key_id = random_id()
    blob = bytes(range(256)) * 40 + f"\0ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\0".encode()
    repo.write("assets/logo.bin", blob + bytes(range(256)) * 40)
    repo.commit("logo", {"notes.txt": "x = 1\n" * 2000})  # text over the limit too
    repo.git("add", "assets/logo.bin")
    commit = repo.commit("add the logo")

    code, findings, err = history(capsys, str(repo.path), "--max-file-size", "4000")

    assert code == 1
    (found,) = by_secret(findings, key_id)
    assert (found["path"], found["commit"]) == ("assets/logo.bin", commit)
    # the limit still holds for text, and says so
    assert "notes.txt" in err and "over the size limit of 4000 bytes" in err
    assert "logo.bin" not in err.split("over the size limit")[0].splitlines()[-1]
