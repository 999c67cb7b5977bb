"""`akscan history` in worker processes: each reads its share of the objects through its own
git, and the report is the one a single process writes, byte for byte."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
from gitrepo import Repo, credentials
from hostile.test_files_workers import children

from akscan import git
from akscan.cli import main
from akscan.pipeline import history as history_pipeline


@pytest.fixture
def tiny_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers even for a small repository, and a batch for every few objects."""
    monkeypatch.setattr(history_pipeline, "_PARALLEL_MIN_OBJECTS", 1)
    monkeypatch.setattr(history_pipeline, "_BATCH_BYTES", 200)


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["history", *args, "--no-config", "--format", "json", "--color", "never", "-v"])
    out, err = capsys.readouterr()
    return code, out, err


def _varied_history(repo: Repo) -> None:
    """Keys in plain files, a deleted file, a UTF-16 file, a binary file, base64, a commit
    message and a tag message, between plenty of harmless changes."""
    for n in range(30):
        repo.commit(f"change {n}", {f"src/mod{n % 7}.py": f"value = {n}\n" * (n + 1)})
    repo.commit("config", {"deploy/.env": credentials()[0]})
    repo.git("rm", "-q", "deploy/.env")
    repo.commit("remove config")
    repo.commit("utf-16", {"win/creds.txt": "\ufeff" + credentials()[0]})
    repo.write("bin/blob.dat", b"\0\x01\x02" * 50 + credentials()[0].encode() + b"\0" * 20)
    repo.git("add", "bin/blob.dat")
    repo.commit("binary")
    encoded = base64.b64encode(credentials()[0].encode()).decode()
    repo.commit("k8s", {"k8s/secret.yaml": f"data:\n  env: {encoded}\n"})
    _, key, _ = credentials()
    repo.commit(f"oops\n\nAccessKeyId: {key}\n")
    repo.git("tag", "-a", "v1", "-m", f"release\n\nAccessKeyId: {credentials()[1]}\n")


def test_workers_report_exactly_what_one_process_reports(
    repo: Repo, capsys: pytest.CaptureFixture[str], tiny_batches: None
) -> None:
    _varied_history(repo)

    one = _report(capsys, str(repo.path), "-j", "1")
    two = _report(capsys, str(repo.path), "-j", "2")

    assert one[0] == two[0] == 1
    assert json.loads(one[1])["findings"]
    assert one[1] == two[1]
    # the summary and every note, in the same order (but the seconds taken)
    assert re.sub(r"[0-9.]+s\b", "", one[2]) == re.sub(r"[0-9.]+s\b", "", two[2])
    kinds = {f["path"] for f in json.loads(two[1])["findings"]}
    assert {"deploy/.env", "win/creds.txt", "bin/blob.dat", "k8s/secret.yaml",
            "<commit message>", "<tag message>"} <= kinds


def test_missing_blob_read_by_workers_is_named_and_the_rest_still_scanned(
    repo: Repo, capsys: pytest.CaptureFixture[str], tiny_batches: None
) -> None:
    for n in range(10):
        repo.commit(f"change {n}", {f"f{n}.txt": f"{n}\n"})
    kept, _, _ = credentials()
    repo.commit("add", {"a.env": credentials()[0], "b.env": kept})
    blob = repo.git("rev-parse", "HEAD:a.env")
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()

    code, out, err = _report(capsys, str(repo.path), "-j", "2")

    assert code == 1
    assert f"missing object {blob}: a.env (blob " in err
    assert any(f["path"] == "b.env" for f in json.loads(out)["findings"])
    assert json.loads(out)["incomplete"][0].startswith("1 git objects are missing")


def _gits_in(path: Path) -> list[int]:
    """Running processes whose working directory is `path` (git runs there)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd") == str(path):
                    found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_no_git_is_left_running_after_a_scan_in_workers(
    repo: Repo, capsys: pytest.CaptureFixture[str], tiny_batches: None
) -> None:
    for n in range(20):
        repo.commit(f"change {n}", {f"f{n}.txt": f"{n}\n" * 50})

    assert _report(capsys, str(repo.path), "-j", "2")[0] == 0

    deadline = time.monotonic() + 10
    while _gits_in(repo.path) and time.monotonic() < deadline:
        time.sleep(0.05)  # a worker's git ends when the worker's pipe to it closes
    assert _gits_in(repo.path) == []


def test_many_small_objects_make_many_batches_and_large_ones_fill_a_megabyte() -> None:
    # Commit messages (a few hundred bytes each) must not make one batch of thousands, which
    # one worker would take 50 ms over while the other waits.
    small = [(f"{n:040x}", b"<commit message>", "commit x", 300, True, None)
             for n in range(1000)]
    large = [(f"{n:040x}", b"a.txt", "", 300_000, False, None) for n in range(10)]

    batches = list(history_pipeline._batches(iter(small + large)))

    assert [item for batch in batches for item in batch] == small + large
    assert max(len(batch) for batch in batches) == history_pipeline._BATCH_OBJECTS
    assert all(sum(item[3] for item in batch[:-1]) < history_pipeline._BATCH_BYTES
               for batch in batches)
    assert len(batches[-1]) <= 4  # 4 x 300 KB reach the megabyte


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="processes read from /proc")
def test_a_reader_an_error_left_mid_answer_still_ends_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing object stops a read with git still writing the objects after it, more than a
    pipe holds: ending the reader (as a worker does) stops git at once, not at the deadline
    after which it would be killed."""
    monkeypatch.setattr(git, "_END_SECONDS", 60.0)
    repo = Repo(tmp_path / "repo")
    repo.commit("big", {"big.txt": "x" * (4 << 20)})
    big = repo.git("rev-parse", "HEAD:big.txt")
    before = _gits()
    reader = git.ObjectReader(git.open_repo(str(repo.path)))
    with pytest.raises(git.GitError, match="missing"):
        reader.read([big, "0" * 40, big, big])
    assert len(_gits() - before) == 1  # git, blocked writing the last two
    started = time.monotonic()
    reader.end()
    assert time.monotonic() - started < 30  # not killed at the deadline: it stopped by itself
    assert _gits() == before  # and was waited for


def _gits() -> set[int]:
    """This process's children that are git."""
    found = set()
    for pid in children(os.getpid()):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "git":
                found.add(pid)
    return found
