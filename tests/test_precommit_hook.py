"""End to end with the real pre-commit framework: `.pre-commit-hooks.yaml` as users consume it.

A copy of this checkout becomes a hook repository; pre-commit installs it with pip into its own
virtualenv (once per module, in a temporary PRE_COMMIT_HOME), and real `git commit` and
`git push` runs trigger the hooks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepo import Repo, credentials

ROOT = Path(__file__).resolve().parent.parent
_SHIPPED = ("akscan", "rules", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml")


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """(hook repository, its commit, PRE_COMMIT_HOME with the hook environment built)."""
    base = tmp_path_factory.mktemp("precommit")
    source = Repo(base / "hook-repo")
    for name in _SHIPPED:
        src, dst = ROOT / name, source.path / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dst)
    source.git("add", "-A")
    rev = source.commit("akscan under test")
    home = base / "pre-commit-home"
    project = _project(base / "warm-up", source.path, rev, home)
    _pre_commit(project, home, "install-hooks")  # the slow part: pip install of the hook repo
    return source.path, rev, home


def _project(path: Path, hook_repo: Path, rev: str, home: Path) -> Repo:
    project = Repo(path)
    project.write(".pre-commit-config.yaml", f"""\
repos:
- repo: {hook_repo}
  rev: {rev}
  hooks:
  - id: akscan
  - id: akscan-pre-push
""")
    project.git("add", ".pre-commit-config.yaml")
    project.commit("configure pre-commit")
    _pre_commit(project, home, "install", "-t", "pre-commit", "-t", "pre-push")
    return project


def _env(project: Repo, home: Path) -> dict[str, str]:
    return {**project.env(), "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}


def _pre_commit(project: Repo, home: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=project.path, check=True,
                   env=_env(project, home), capture_output=True)


def _git(project: Repo, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git with the hooks active (commit.gpgsign off, the test identity)."""
    return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=project.path,
                          env=_env(project, home), capture_output=True, text=True, check=False)


@pytest.fixture
def project(tmp_path: Path, hooks: tuple[Path, str, Path]) -> Repo:
    hook_repo, rev, home = hooks
    return _project(tmp_path / "project", hook_repo, rev, home)


@pytest.fixture
def home(hooks: tuple[Path, str, Path]) -> Path:
    return hooks[2]


def _count(project: Repo) -> int:
    return int(project.git("rev-list", "--count", "HEAD"))


def test_hook_manifest_is_valid(home: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                           str(ROOT / ".pre-commit-hooks.yaml")], capture_output=True, text=True,
                          env={**os.environ, "PRE_COMMIT_HOME": str(home)})
    assert done.returncode == 0, done.stdout + done.stderr


def test_commit_with_a_staged_key_is_blocked_and_says_what_to_do(
    project: Repo, home: Path
) -> None:
    text, key, _ = credentials()
    project.write("deploy/.env", text)
    project.git("add", "deploy/.env")

    done = _git(project, home, "commit", "-m", "deploy settings")

    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert _count(project) == 1
    assert "deploy/.env:1:" in output and key not in output
    for advice in ("commit blocked", "environment variables", "rotate it", "akscan:allow"):
        assert advice in output


def test_clean_commit_passes(project: Repo, home: Path) -> None:
    project.write("app.cfg", "region = cn-hangzhou\n")
    project.git("add", "app.cfg")

    done = _git(project, home, "commit", "-m", "settings")

    assert done.returncode == 0, done.stdout + done.stderr
    assert _count(project) == 2


def test_a_key_only_in_the_working_tree_does_not_block_and_survives(
    project: Repo, home: Path
) -> None:
    project.write("app.cfg", "region = cn-hangzhou\n")
    project.git("add", "app.cfg")
    with_key = "region = cn-hangzhou\n" + credentials()[0]
    project.write("app.cfg", with_key)  # not staged: not part of this commit

    done = _git(project, home, "commit", "-m", "settings")

    assert done.returncode == 0, done.stdout + done.stderr
    assert (project.path / "app.cfg").read_text() == with_key
    assert project.git("show", "HEAD:app.cfg") == "region = cn-hangzhou"


def test_a_key_staged_then_removed_from_the_working_tree_blocks_and_the_tree_survives(
    project: Repo, home: Path
) -> None:
    project.write("app.cfg", "region = cn-hangzhou\n" + credentials()[0])
    project.git("add", "app.cfg")
    project.write("app.cfg", "region = cn-hangzhou\n")  # the index still holds the key

    done = _git(project, home, "commit", "-m", "settings")

    assert done.returncode != 0 and "app.cfg:2:" in done.stdout + done.stderr
    assert (project.path / "app.cfg").read_text() == "region = cn-hangzhou\n"
    assert _count(project) == 1


def _remote(project: Repo, tmp_path: Path) -> None:
    remote = Repo(tmp_path / "remote.git", bare=True)
    project.git("remote", "add", "origin", str(remote.path))


def test_push_of_history_with_a_root_commit_and_a_removed_key_is_blocked(
    project: Repo, home: Path, tmp_path: Path
) -> None:
    _remote(project, tmp_path)
    project.commit("key", {"a.env": credentials()[0]})  # committed past the hook
    project.git("rm", "-q", "a.env")
    project.commit("remove the key again")

    done = _git(project, home, "push", "-q", "origin", "main")

    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "a.env:1:" in output and "push blocked" in output


def test_push_scans_only_new_commits_and_blocks_a_key_added_then_removed(
    project: Repo, home: Path, tmp_path: Path
) -> None:
    _remote(project, tmp_path)
    project.commit("clean work", {"app.cfg": "region = cn-hangzhou\n"})
    first = _git(project, home, "push", "-q", "origin", "main")
    assert first.returncode == 0, first.stdout + first.stderr
    project.commit("key", {"b.env": credentials()[0]})
    project.git("rm", "-q", "b.env")
    project.commit("remove the key again")

    done = _git(project, home, "push", "-q", "origin", "main")

    assert done.returncode != 0 and "b.env:1:" in done.stdout + done.stderr
