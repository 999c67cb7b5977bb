"""`akscan history`: real repositories built with git, keys generated per test."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, credentials

from akscan import git
from akscan.cli import main
from akscan.detect.engine import Engine
from akscan.pipeline.history import HistoryOptions, scan_history
from akscan.rules import builtin_rules_dir, load_rules


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def history(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]],
                                                                       str]:
    code = main(["history", *args, "--format", "json", "--color", "never", "-j", "2"])
    out, err = capsys.readouterr()
    findings = json.loads(out)["findings"] if out.strip() else []
    return code, findings, err


def by_secret(findings: list[dict[str, Any]], secret: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["secret_sha256"] == sha(secret)]


def test_secret_only_in_deleted_file_is_reported_with_its_commit(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("readme", {"README.md": "hello\n"})
    text, key, secret = credentials()
    introduced = repo.commit("add config", {"deploy/.env": "# prod\n" + text}, author="Bob Dev")
    repo.git("rm", "-q", "deploy/.env")
    repo.commit("remove config")

    code, findings, err = history(capsys, str(repo.path))

    assert code == 1
    assert {f["secret_sha256"] for f in findings} == {sha(key), sha(secret)}
    found = by_secret(findings, secret)[0]
    assert found["commit"] == introduced
    assert found["author"] == "Bob Dev"
    assert found["email"] == "bob@example.test"
    assert found["date"].startswith("2023-11-14T")
    assert (found["path"], found["line"]) == ("deploy/.env", 3)
    assert found["paired_with"][0]["path"] == "deploy/.env"
    assert "1 credential(s) found (2 finding(s))" in err  # a pair is one credential


def test_text_report_names_the_commit_and_author(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, key, _ = credentials()
    commit = repo.commit("add", {"a.env": text}, author="Carol Ops")

    code = main(["history", str(repo.path), "--color", "never"])

    out = capsys.readouterr().out
    assert code == 1
    assert f"commit {commit}" in out and "author Carol Ops" in out
    assert key not in out  # redacted unless --show-secrets


def test_renamed_file_is_reported_at_its_first_and_its_new_path(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, secret = credentials()
    first = repo.commit("add", {"old/name.env": text})
    repo.git("mv", "old/name.env", "new name.env")
    renamed = repo.commit("rename")

    _, findings, _ = history(capsys, str(repo.path))

    places = {(f["commit"], f["path"]) for f in by_secret(findings, secret)}
    assert places == {(first, "old/name.env"), (renamed, "new name.env")}


def test_unmerged_branch_and_tag_only_commit_are_scanned(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", {"README.md": "hello\n"})
    repo.git("checkout", "-q", "-b", "feature")
    branch_text, _, branch_secret = credentials()
    on_branch = repo.commit("wip", {"feature.env": branch_text})
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-q", "--detach")
    tag_text, _, tag_secret = credentials()
    tagged = repo.commit("release build", {"release.env": tag_text})
    repo.git("tag", "v1.0")
    repo.git("checkout", "-q", "main")

    _, findings, _ = history(capsys, str(repo.path))

    assert by_secret(findings, branch_secret)[0]["commit"] == on_branch
    assert by_secret(findings, tag_secret)[0]["commit"] == tagged


def test_merge_commit_does_not_duplicate_what_the_branch_introduced(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", {"README.md": "hello\n"})
    repo.git("checkout", "-q", "-b", "side")
    text, key, secret = credentials()
    on_side = repo.commit("key", {"side.env": text})
    repo.git("checkout", "-q", "main")
    repo.commit("main work", {"main.txt": "work\n"})
    repo.git("merge", "-q", "--no-ff", "--no-edit", "side")

    _, findings, _ = history(capsys, str(repo.path))

    assert [(f["commit"], f["path"]) for f in findings] == [(on_side, "side.env")] * 2
    assert {f["secret_sha256"] for f in findings} == {sha(key), sha(secret)}


def test_secret_added_while_resolving_a_merge_is_reported_at_the_merge(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", {"app.cfg": "region = cn-hangzhou\n"})
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("side", {"app.cfg": "region = cn-shanghai\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main", {"app.cfg": "region = cn-beijing\n"})
    done = subprocess.run(["git", "merge", "-q", "side"], cwd=repo.path, env=repo.env(),
                          capture_output=True, check=False)
    assert done.returncode != 0  # a conflict, resolved by hand with a key
    text, _, secret = credentials()
    repo.write("app.cfg", "region = cn-shanghai\n" + text)
    repo.git("add", "app.cfg")
    merge = repo.commit("merge side")

    _, findings, _ = history(capsys, str(repo.path))

    assert [f["commit"] for f in by_secret(findings, secret)] == [merge]


def test_same_blob_in_many_commits_is_scanned_once_and_reported_per_path(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, secret = credentials()
    first = repo.commit("add", {"a.env": text})
    for n in range(5):
        repo.commit(f"unrelated {n}", {"notes.txt": f"note {n}\n"})
    repo.git("rm", "-q", "a.env")
    repo.commit("remove")
    repo.commit("restore", {"a.env": text})  # the same blob, same path: not new
    copied = repo.commit("copy", {"b.env": text})  # the same blob at a new path
    repo.commit("edit", {"a.env": "# edited\n" + text})  # a new blob, but not a new secret

    engine = Engine(load_rules([builtin_rules_dir()]))
    findings, stats = scan_history(git.open_repo(str(repo.path)), ["--all"], engine,
                                   HistoryOptions(jobs=2))

    places = [(f.origin[0][1], f.path) for f in findings if f.secret == secret]
    assert places == [(first, "a.env"), (copied, "b.env")]
    # a.env (two versions) and notes.txt (five): the repeated blob is read and scanned once
    assert (stats.commits, stats.blobs, stats.blobs_scanned) == (10, 7, 7)


def test_non_utf8_and_spaced_file_names(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    text, _, secret = credentials()
    repo.write(b"conf/caf\xe9 prod.env", text)
    repo.write("with space/and\ttab.env", credentials()[0])
    repo.git("add", "-A")
    repo.commit("odd names")

    code, findings, _ = history(capsys, str(repo.path))

    assert code == 1
    # One path convention for every command (akscan.terminal): a tab is \x09, as `scan` shows it
    assert {f["path"] for f in findings} == {"conf/caf\\xe9 prod.env", "with space/and\\x09tab.env"}
    assert by_secret(findings, secret)[0]["path"] == "conf/caf\\xe9 prod.env"


def test_binary_blobs_are_scanned_as_binary_and_oversized_ones_counted(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text = credentials()[0]
    repo.write("image.png", b"\x89PNG\r\n\x1a\n\0\0" + text.encode())
    repo.write("big.env", text + "#" * 5000 + "\n")
    repo.write("small.env", credentials()[0])
    repo.git("add", "-A")
    big = repo.commit("files")

    code, findings, err = history(capsys, str(repo.path), "--max-file-size", "4k")

    assert code == 1
    assert {f["path"] for f in findings} == {"small.env", "image.png"}
    assert "1 binary (printable runs scanned)" in err and "1 over the size limit" in err
    assert "big.env (blob " in err and f"first in commit {big[:12]}" in err


def test_submodule_gitlinks_are_not_entered_and_a_note_says_so(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", {"README.md": "hello\n"})
    other = "1" * 40
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{other},vendor/lib")
    repo.commit("add submodule")

    code = main(["history", str(repo.path), "-v"])

    err = capsys.readouterr().err
    assert code == 0
    assert "1 submodule entries not entered" in err
    assert "note: 1 submodule entries (gitlinks) were not entered" in err


def test_shallow_clone_is_scanned_and_said_to_be_partial(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_text, _, old_secret = credentials()
    repo.commit("old", {"old.env": old_text})
    repo.git("rm", "-q", "old.env")
    repo.commit("remove")
    new_text, _, new_secret = credentials()
    repo.commit("new", {"new.env": new_text})
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)],
                   check=True, env=repo.env())

    code, findings, err = history(capsys, str(clone))

    assert code == 1
    assert by_secret(findings, new_secret) and not by_secret(findings, old_secret)
    assert "shallow clone: history is partial" in err


def test_bare_repository(repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, _, secret = credentials()
    commit = repo.commit("add", {"a.env": text})
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True,
                   env=repo.env())

    code, findings, _ = history(capsys, str(bare))

    assert code == 1
    assert by_secret(findings, secret)[0]["commit"] == commit


def test_empty_repository_is_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = Repo(tmp_path / "empty")

    code, findings, err = history(capsys, str(empty.path))

    assert (code, findings) == (0, [])
    assert "0 commits" in err


def test_not_a_repository_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["history", str(tmp_path)])

    err = capsys.readouterr().err
    assert code == 2
    assert err == f"akscan: error: {tmp_path}: not a git repository\n"


def _loose_object(repo: Repo, oid: str) -> Path:
    return repo.path / ".git" / "objects" / oid[:2] / oid[2:]


def test_corrupt_tree_stops_the_log_and_is_said_with_exit_2(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("add", {"a.txt": "fine\n"})
    tree = repo.git("rev-parse", "HEAD^{tree}")
    path = _loose_object(repo, tree)
    path.chmod(0o644)
    path.write_bytes(b"not zlib at all")

    code = main(["history", str(repo.path)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("akscan: warning: git log stopped, so the rest of the history was not "
                          "scanned: git log failed (exit 128): fatal: loose object ")
    assert tree in err and "Traceback" not in err


def test_ranges_since_and_branch_limit_the_commits(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old_text, _, old_secret = credentials()
    base = repo.commit("old", {"old.env": old_text})
    repo.git("checkout", "-q", "-b", "feature")
    new_text, _, new_secret = credentials()
    repo.commit("new", {"new.env": new_text})
    repo.git("checkout", "-q", "main")

    def secrets(*args: str) -> set[str]:
        _, findings, _ = history(capsys, *args)
        return {f["secret_sha256"] for f in findings}

    assert sha(old_secret) not in secrets(str(repo.path), "main..feature")
    assert sha(new_secret) in secrets(str(repo.path), "main..feature")
    assert secrets(str(repo.path), f"{base}..feature") == secrets(str(repo.path),
                                                                   "main..feature")
    assert sha(new_secret) not in secrets(str(repo.path), "--branch", "main")
    assert sha(old_secret) in secrets(str(repo.path), "--branch", "main")
    monkeypatch.chdir(repo.path)  # REPO defaults to the current directory
    assert secrets("main..feature") == secrets(str(repo.path), "main..feature")
    (repo.path.parent / "elsewhere").mkdir()
    monkeypatch.chdir(repo.path.parent / "elsewhere")  # a relative REPO that contains '..'
    assert secrets("../repo", "main..feature") == secrets(str(repo.path), "main..feature")


def test_option_like_revision_is_refused(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.commit("base", {"README.md": "hello\n"})

    code = main(["history", str(repo.path), "--branch=--output=/tmp/x"])

    assert code == 2
    assert "not a revision" in capsys.readouterr().err


def test_pre_push_scans_only_the_commits_being_pushed(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old_text, _, old_secret = credentials()
    pushed = repo.commit("already pushed", {"old.env": old_text})
    new_text, _, new_secret = credentials()
    repo.commit("add", {"new.env": new_text})
    repo.git("rm", "-q", "new.env")
    head = repo.commit("remove again")  # the key is in the pushed commits, not in the tree
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", pushed)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", head)

    code, findings, err = history(capsys, "--pre-push")

    assert code == 1
    assert {f["secret_sha256"] for f in findings} >= {sha(new_secret)}
    assert not by_secret(findings, old_secret)
    assert "push blocked" in err and "git rebase -i" in err


def test_pre_push_with_a_root_commit_scans_what_no_remote_has(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text, _, secret = credentials()
    repo.commit("first", {"a.env": text})
    monkeypatch.chdir(repo.path)
    # pre-commit sets neither ref when the push includes the root commit
    monkeypatch.setenv("PRE_COMMIT", "1")
    monkeypatch.setenv("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/main")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_NAME", "origin")

    code, findings, _ = history(capsys, "--pre-push")

    assert code == 1 and by_secret(findings, secret)


def test_pre_push_reads_git_hook_input_outside_pre_commit(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = repo.commit("base", {"README.md": "hello\n"})
    text, _, secret = credentials()
    head = repo.commit("add", {"a.env": text})
    monkeypatch.chdir(repo.path)
    line = f"refs/heads/main {head} refs/heads/main {base}\n"
    monkeypatch.setattr("sys.stdin", _Stdin(line))

    code, findings, _ = history(capsys, "--pre-push")

    assert code == 1 and by_secret(findings, secret)
    monkeypatch.setattr("sys.stdin", _Stdin(f"(delete) {'0' * 40} refs/heads/old {base}\n"))
    assert history(capsys, "--pre-push")[:2] == (0, [])


class _Stdin:
    def __init__(self, text: str) -> None:
        self._text = text

    def isatty(self) -> bool:
        return False

    def read(self) -> str:
        return self._text


def test_git_error_carries_command_exit_code_and_stderr(repo: Repo) -> None:
    with pytest.raises(git.GitError) as caught:
        git.run(str(repo.path), ["rev-parse", "--verify", "no-such-ref"])

    error = caught.value
    assert error.command[0] == "git" and "rev-parse" in error.command
    assert error.returncode == 128
    assert "no-such-ref" in error.stderr or "Needed a single revision" in error.stderr
    assert str(error).startswith("git rev-parse failed (exit 128): fatal:")


def test_many_keys_in_one_large_commit(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = [credentials() for _ in range(40)]
    repo.commit("vendor drop", {f"svc{n}/prod.env": text for n, (text, _, _) in enumerate(pairs)})

    _, findings, _ = history(capsys, str(repo.path))

    expected = {sha(k) for _, k, _ in pairs} | {sha(s) for _, _, s in pairs}
    assert {f["secret_sha256"] for f in findings} == expected



def _children_even_exited(pid: int) -> set[int]:
    """Child processes of `pid` not yet waited for (zombies included), from /proc."""
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            found.add(int(entry))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_scan_stopped_by_an_invalid_rule_file_leaves_no_git_behind(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # git log starts walking the history before the rules are loaded (issue 14). A commit of
    # 20,000 files makes it list more than a pipe holds: it is still running when they fail.
    paths = "".join(f"M 100644 :1 some/directory/file{n:05}.txt\n" for n in range(20_000))
    stream = ("blob\nmark :1\ndata 6\nhello\ncommit refs/heads/main\n"
              "committer A <a@example.com> 0 +0000\ndata 5\nmany\n" + paths)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo.path, input=stream.encode(),
                   check=True)
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rules]\nid = 'x'\n")
    before = _children_even_exited(os.getpid())
    code, findings, err = history(capsys, str(repo.path), "--rules", str(bad))
    assert (code, findings) == (2, [])
    assert "invalid TOML" in err
    assert _children_even_exited(os.getpid()) - before == set()


def _same_history(repo: Repo, key_text: str, merged_text: str) -> dict[str, str]:
    """Additions, an edit, a deletion and a merge that brings a key of its own; commit
    subjects by sha."""
    repo.commit("readme", {"README.md": "hello\n"})
    repo.commit("config", {"deploy/.env": key_text, "lib/mod.py": "x = 1\n"})
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("side work", {"lib/mod.py": "x = 2\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main work", {"lib/mod.py": "x = 3\n"})
    # (a merge left open, to change it: the merge itself brings a key)
    subprocess.run(["git", "merge", "-q", "--no-commit", "side"], cwd=repo.path,
                   env=repo.env(), capture_output=True, check=False)
    repo.write("lib/mod.py", "x = 4\n")
    repo.write("merge.env", merged_text)
    repo.git("add", "lib/mod.py", "merge.env")
    repo.commit("merge side")
    repo.git("rm", "-q", "deploy/.env")
    repo.commit("drop config")
    return dict(line.split(" ", 1) for line in repo.git("log", "--all", "--format=%H %s")
                .splitlines())


def test_a_sha256_repository_gives_the_findings_of_a_sha1_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_text, _, _ = credentials()
    merged_text, _, _ = credentials()
    found = []
    for name, object_format in (("one", "sha1"), ("two", "sha256")):
        path = tmp_path / name
        path.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main", f"--object-format={object_format}"],
                       cwd=path, check=True)
        repo = Repo(path)
        subjects = _same_history(repo, key_text, merged_text)
        code, findings, _ = history(capsys, str(path))
        assert code == 1
        found.append(sorted((f["path"], f["line"], f["rule_id"], f["secret_sha256"],
                             subjects[f["commit"]], f["present_at_tip"],
                             subjects.get(f["removed_in"] or "")) for f in findings))
    assert found[0] == found[1]
    assert {(path, subject) for path, _, _, _, subject, _, _ in found[1]} == {
        ("deploy/.env", "config"), ("merge.env", "merge side")}
    assert {removed for *_, removed in found[1]} == {"drop config", None}
