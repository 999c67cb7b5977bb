"""The directory walk and the opening of listed files on hostile trees (issues 12 and 15):
patterns git accepts, deep trees, huge limits, files swapped after listing, tracked files
that .gitignore names, and -j past the CPUs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from keys import random_id

from akscan.detect.engine import Engine
from akscan.pipeline.files import scan_file
from akscan.rules import builtin_rules_dir, load_rules
from akscan.sources.files import FileItem, WalkStats, walk_names
from hostile.harness import check, run_akscan


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def id_line(key_id: str) -> str:
    return f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\n"


def found(stdout: str) -> set[tuple[str, str]]:
    return {(f["path"], f["secret_sha256"]) for f in json.loads(stdout)["findings"]}


def git(cwd: Path, *args: str) -> None:
    import subprocess

    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    env = {k: v for k, v in env.items() if k not in ("GIT_DIR", "GIT_INDEX_FILE")}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


# --- patterns -------------------------------------------------------------------------------

def test_a_gitignore_pattern_git_accepts_but_regex_rejects_is_dropped_not_a_traceback(
    tmp_path: Path
) -> None:
    key_id = random_id()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("[9-0]\n*.log\n")
    (tmp_path / "sub" / "app.env").write_text(id_line(key_id))
    (tmp_path / "sub" / "noise.log").write_text(id_line(random_id()))
    result = run_akscan(["scan", "--format", "json", "-v", "."], cwd=tmp_path)
    check(result, exit=1)
    assert found(result.stdout) == {("sub/app.env", sha(key_id))}  # *.log still applies
    assert "sub/.gitignore:1: pattern '[9-0]' cannot be used" in result.stderr


def test_an_unusable_negation_in_a_gitignore_makes_the_scan_incomplete(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.env\n![9-0].env\n")
    result = run_akscan(["scan", "."], cwd=tmp_path)
    check(result, exit=2)
    assert "files it re-includes may be skipped" in result.stderr


def test_an_invalid_exclude_option_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_akscan(["scan", "--exclude", "!", "."], cwd=tmp_path)
    check(result, exit=2, error=r"invalid pattern '!'")


def test_an_invalid_exclude_in_the_settings_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / ".akscan.toml").write_text('exclude = ["[9-0]"]\n')
    (tmp_path / "a.txt").write_text("x\n")
    result = run_akscan(["scan", "."], cwd=tmp_path)
    check(result, exit=2, error=r"invalid pattern '\[9-0\]'")


# --- depth and size -------------------------------------------------------------------------

def test_a_thousand_nested_directories_are_walked(tmp_path: Path) -> None:
    key_id = random_id()
    deep = tmp_path / "tree"
    deep.mkdir()
    os.chdir(deep)  # relative steps: the absolute path would pass PATH_MAX on the way down
    try:
        for _ in range(1000):
            os.mkdir("d")
            os.chdir("d")
        Path("app.env").write_text(id_line(key_id))
    finally:
        os.chdir(tmp_path)
    try:
        result = run_akscan(["scan", "--format", "json", "tree"], cwd=tmp_path)
    finally:
        _remove_deep(deep, 1000)
    check(result, exit=1)
    assert found(result.stdout) == {("d/" * 1000 + "app.env", sha(key_id))}


def _remove_deep(top: Path, depth: int) -> None:
    """Remove a chain of `depth` directories `d` (shutil.rmtree recurses past Python's limit)."""
    os.chdir(top)
    try:
        for _ in range(depth):
            os.chdir("d")
        os.unlink("app.env")
        for _ in range(depth):
            os.chdir("..")
            os.rmdir("d")
    finally:
        os.chdir(top.parent)


def test_a_huge_max_file_size_does_not_allocate_it(tmp_path: Path) -> None:
    key_id = random_id()
    (tmp_path / "app.env").write_text(id_line(key_id))
    result = run_akscan(["scan", "--format", "json", "--max-file-size", "100GB", "."],
                        cwd=tmp_path)
    check(result, exit=1, max_rss_mib=500)
    assert found(result.stdout) == {("app.env", sha(key_id))}


# --- files swapped between the listing and the opening --------------------------------------

def engine() -> Engine:
    return Engine(load_rules([builtin_rules_dir()]))


def test_a_file_swapped_for_a_fifo_after_listing_is_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_text(id_line(random_id()))
    item = FileItem(str(path), "app.env", path.stat().st_size, str(tmp_path.resolve()))
    path.unlink()
    os.mkfifo(path)  # no writer: opening it for reading would block for ever
    result = scan_file(item, engine(), 1 << 20)
    assert result.findings == []
    assert result.errors == ["app.env: is no longer a regular file (a FIFO or device swapped "
                             "in after it was listed?); not read"]


def test_a_symlink_swapped_in_after_listing_is_not_followed_out_of_the_root(
    tmp_path: Path
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.env").write_text(id_line(random_id()))
    path = root / "app.env"
    path.write_text("nothing here\n")
    item = FileItem(str(path), "app.env", path.stat().st_size, str(root.resolve()))
    path.unlink()
    path.symlink_to(outside / "secret.env")
    result = scan_file(item, engine(), 1 << 20)
    assert result.findings == []
    assert result.errors == ["app.env: became a symbolic link after it was listed; "
                             "not followed"]


def test_a_directory_swapped_for_a_link_out_of_the_root_is_not_read_through(
    tmp_path: Path
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "app.env").write_text(id_line(random_id()))
    (root / "sub" / "app.env").write_text("nothing here\n")
    item = FileItem(str(root / "sub" / "app.env"), "sub/app.env", 13, str(root.resolve()))
    (root / "sub" / "app.env").unlink()
    (root / "sub").rmdir()
    (root / "sub").symlink_to(outside)
    result = scan_file(item, engine(), 1 << 20)
    assert result.findings == []
    assert result.errors == ["sub/app.env: now leads out of the scan root (a link swapped in "
                             "after it was listed?); not read"]


def test_a_listed_files_directory_swapped_for_a_link_out_of_the_root_is_not_read_through(
    tmp_path: Path
) -> None:
    # As above, listed by the walk itself: the inode it saw is not the one opened.
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "app.env").write_text(id_line(random_id()))
    (root / "sub" / "app.env").write_text("nothing here\n")
    [(rel, link, ino)] = walk_names(str(root), [], False, WalkStats())
    item = FileItem(str(root / rel), rel, 0, str(root.resolve()), link, ino=ino,
                    dev=os.stat(root).st_dev)
    assert item.ino  # the listing's inode: what spares the kernel's path in the common case
    (root / "sub" / "app.env").unlink()
    (root / "sub").rmdir()
    (root / "sub").symlink_to(outside)
    result = scan_file(item, engine(), 1 << 20)
    assert result.findings == []
    assert result.errors == ["sub/app.env: now leads out of the scan root (a link swapped in "
                             "after it was listed?); not read"]


def test_a_hard_linked_file_is_scanned_once(tmp_path: Path) -> None:
    key_id = random_id()
    (tmp_path / "a.env").write_text(id_line(key_id))
    os.link(tmp_path / "a.env", tmp_path / "b.env")
    result = run_akscan(["scan", "--format", "json", "."], cwd=tmp_path)
    check(result, exit=1)
    assert found(result.stdout) == {("a.env", sha(key_id))}
    assert "1 files" in result.stderr


# --- git work trees -------------------------------------------------------------------------

def test_a_tracked_file_that_gitignore_names_is_scanned(tmp_path: Path) -> None:
    tracked, local = random_id(), random_id()
    repo = tmp_path / "repo"
    (repo / "conf").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".env\nconf/\n")
    (repo / ".env").write_text(id_line(tracked))
    (repo / "conf" / "app.env").write_text(id_line(tracked))
    (repo / "conf" / "local.env").write_text(id_line(local))  # untracked and ignored
    git(repo, "add", ".gitignore")
    git(repo, "add", "-f", ".env", "conf/app.env")
    git(repo, "commit", "-qm", "add env")
    result = run_akscan(["scan", "--format", "json", "."], cwd=repo)
    check(result, exit=1)
    assert found(result.stdout) == {(".env", sha(tracked)), ("conf/app.env", sha(tracked))}
    # From a subdirectory too: git answers relative to it.
    result = run_akscan(["scan", "--format", "json", "conf"], cwd=repo)
    check(result, exit=1)
    assert found(result.stdout) == {("app.env", sha(tracked))}


# --- jobs -----------------------------------------------------------------------------------

def test_jobs_over_the_cpu_count_are_capped_and_said(tmp_path: Path) -> None:
    for n in range(520):
        (tmp_path / f"f{n:03}.txt").write_text(f"value = {n}\n")
    (tmp_path / ".akscan.toml").write_text("jobs = 100000\n")
    result = run_akscan(["scan", "."], cwd=tmp_path)
    check(result, exit=0)
    assert "-j 100000 capped at" in result.stderr
