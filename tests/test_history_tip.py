"""History context (issue 13): whether each key is still at its path at the tip (HEAD, or the
branch scanned), and the commit that took it out."""

from __future__ import annotations

import pytest
from gitrepo import Repo, credentials
from test_history import by_secret, history

from akscan import git
from akscan.pipeline.tip import Ancestry


def test_key_still_at_head_is_present_and_not_removed(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, secret = credentials()
    repo.commit("add", {"app.env": text})
    head = repo.commit("other", {"README.md": "hello\n"})

    _, findings, _ = history(capsys, str(repo.path))

    (found,) = by_secret(findings, secret)
    assert (found["tip"], found["tip_commit"]) == ("HEAD", head)
    assert (found["present_at_tip"], found["removed_in"], found["removed_date"]) == (
        True, None, None)


def test_key_deleted_or_edited_out_names_the_commit_that_removed_it(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    deleted_text, _, deleted_secret = credentials()
    edited_text, _, edited_secret = credentials()
    repo.commit("add", {"gone.env": deleted_text, "edited.env": edited_text})
    repo.commit("unrelated", {"README.md": "hello\n"})
    repo.git("rm", "-q", "gone.env")
    deleted_by = repo.commit("delete the file")
    repo.commit("keep the file, drop the key", {"edited.env": "DEBUG=1\n"})
    edited_by = repo.git("rev-parse", "HEAD")

    _, findings, _ = history(capsys, str(repo.path))

    (gone,) = by_secret(findings, deleted_secret)
    assert (gone["present_at_tip"], gone["removed_in"]) == (False, deleted_by)
    assert gone["removed_date"].startswith("2023-11-14T")
    (edited,) = by_secret(findings, edited_secret)
    assert (edited["present_at_tip"], edited["removed_in"]) == (False, edited_by)


def test_key_removed_then_restored_is_present(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, secret = credentials()
    repo.commit("add", {"app.env": text})
    repo.commit("remove", {"app.env": "DEBUG=1\n"})
    repo.commit("restore", {"app.env": text})

    _, findings, _ = history(capsys, str(repo.path))

    (found,) = by_secret(findings, secret)
    assert (found["present_at_tip"], found["removed_in"]) == (True, None)


def test_key_only_on_another_branch_is_absent_from_head_with_no_removal(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", {"README.md": "hello\n"})
    repo.git("checkout", "-q", "-b", "topic")
    text, _, secret = credentials()
    repo.commit("add", {"app.env": text})
    repo.git("checkout", "-q", "main")

    _, findings, _ = history(capsys, str(repo.path))
    (found,) = by_secret(findings, secret)
    assert (found["present_at_tip"], found["removed_in"]) == (False, None)

    _, findings, _ = history(capsys, str(repo.path), "topic")  # the branch's own tip
    (found,) = by_secret(findings, secret)
    assert (found["tip"], found["present_at_tip"]) == ("topic", True)


def test_removal_merged_from_a_branch_is_the_branch_commit(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, secret = credentials()
    repo.commit("add", {"app.env": text})
    repo.git("checkout", "-q", "-b", "fix")
    fix = repo.commit("drop the key", {"app.env": "DEBUG=1\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("meanwhile", {"README.md": "hello\n"})
    repo.git("merge", "-q", "--no-edit", "fix")

    _, findings, _ = history(capsys, str(repo.path))

    (found,) = by_secret(findings, secret)
    assert (found["present_at_tip"], found["removed_in"]) == (False, fix)


def test_range_compares_with_its_end_and_messages_have_no_tip_context(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    base = repo.commit("base", {"README.md": "hello\n"})
    text, _, secret = credentials()
    repo.commit("add", {"app.env": text})
    end = repo.commit("later", {"README.md": "bye\n"})
    repo.commit("remove", {"app.env": "DEBUG=1\n"})
    message_text, _, message_secret = credentials()
    repo.commit(f"note\n\n{message_text}")

    _, findings, _ = history(capsys, str(repo.path), f"{base}..{end}")
    (found,) = by_secret(findings, secret)
    assert (found["tip"], found["tip_commit"], found["present_at_tip"]) == (
        f"{base}..{end}".split("..")[1], end, True)

    _, findings, _ = history(capsys, str(repo.path))
    (in_message,) = by_secret(findings, message_secret)
    assert "present_at_tip" not in in_message and in_message["path"] == "<commit message>"


def test_key_in_an_oversized_file_at_the_tip_is_unknown(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, secret = credentials()
    repo.commit("add", {"app.env": text})
    repo.commit("grow", {"app.env": text + "#" * 9000 + "\n"})

    _, findings, _ = history(capsys, str(repo.path), "--max-file-size", "4k")

    (found,) = by_secret(findings, secret)
    assert (found["present_at_tip"], found["removed_in"]) == (None, None)


def test_unreadable_tip_tree_keeps_the_findings_without_tip_context(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _, secret = credentials()
    repo.commit("add", {"conf/app.env": text})
    subdir_text, _, _ = credentials()
    repo.commit("more", {"conf/sub.env": subdir_text})
    subtree = repo.git("rev-parse", "HEAD:conf")
    # conf/ at HEAD is gone: git log still lists the first commit, and reading HEAD's tree on
    # the way to conf/app.env fails
    loose = repo.path / ".git" / "objects" / subtree[:2] / subtree[2:]
    loose.unlink()

    code, findings, err = history(capsys, str(repo.path), "-v")

    assert code == 1
    assert by_secret(findings, secret)
    assert "present_at_tip" not in by_secret(findings, secret)[0]
    assert "git log stopped" in err and "still at the tip was not worked out" in err


def test_files_named_like_patterns_are_looked_up_at_the_tip_by_their_exact_names(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    # The tip is read only at the findings' paths, which git must take literally: not as a
    # glob (*, [x]), not as pathspec magic (a leading colon), and from the top of the tree.
    names = ["conf/[ab]*.env", ":(exclude)x.env", "conf/ab.env", "deep/a b/c?.env"]
    texts = {name: credentials() for name in names}
    repo.commit("add", {name: text for name, (text, _, _) in texts.items()})
    repo.commit("drop one", {"conf/ab.env": "DEBUG=1\n"})

    _, findings, _ = history(capsys, str(repo.path / "deep"))

    for name, (_, _, secret) in texts.items():
        (found,) = by_secret(findings, secret)
        assert found["path"] == name
        assert found["present_at_tip"] is (name != "conf/ab.env"), name


def test_the_tip_history_asked_for_early_is_not_used_for_another_tip(repo: Repo) -> None:
    first = repo.commit("one", {"a.txt": "1\n"})
    opened = git.open_repo(str(repo.path))
    ancestry = Ancestry(opened, ["--all"])
    ancestry.start()  # at HEAD = first
    second = repo.commit("two", {"a.txt": "2\n"})

    assert list(ancestry.of(second)) == [second, first]  # read afresh, at the new tip
    ancestry.stop()
    current = Ancestry(opened, ["--all"])
    current.start()
    assert list(current.of(second)) == [second, first]  # the git started is the one read
    current.stop()  # nothing left to stop


def test_many_long_paths_at_the_tip_are_read_from_the_whole_tree(repo: Repo) -> None:
    # Named one by one they would make git's command line too long: past a total length the
    # whole tree is listed instead, with the same entries for those paths.
    deep = "/".join(["d" * 200] * 14)
    names = [f"{deep}/{n:03d}.env" for n in range(30)]
    repo.commit("many", {name: f"N={n}\n" for n, name in enumerate(names)})
    opened = git.open_repo(str(repo.path))
    wanted = {name.encode() for name in names} | {b"missing.env"}
    assert sum(map(len, wanted)) > git._PATH_BYTES_NAMED

    found = {path: oid for _, oid, path in git.tree_entries(opened, "HEAD", wanted)
             if path in wanted}

    assert set(found) == wanted - {b"missing.env"}
    assert found[names[7].encode()] == repo.git("rev-parse", f"HEAD:{names[7]}")
