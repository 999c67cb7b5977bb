"""Which settings apply: the scanned repository's (or --config), named in the summary, never
the current directory's when scanning elsewhere, none with --no-config (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepo import Repo, credentials
from helpers import RunCli, write

from akscan.config import search_dirs


def project(root: Path, settings: str | None = None) -> Path:
    """A git work tree with a key in tests/fixtures/keys.env and settings at its root."""
    (root / ".git").mkdir(parents=True)
    write(root / "tests" / "fixtures" / "keys.env", credentials()[0])
    if settings is not None:
        write(root / ".akscan.toml", settings)
    return root


def paths(out: str) -> set[str]:
    return {f["path"] for f in json.loads(out)["findings"] if not f["suppressed"]}


def test_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    assert search_dirs(tmp_path / "repo" / "a" / "b") == [
        tmp_path / "repo" / "a" / "b", tmp_path / "repo" / "a", tmp_path / "repo"]


def test_outside_a_repository_the_search_stops_at_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert search_dirs(tmp_path / "a" / "b") == [tmp_path / "a" / "b", tmp_path / "a", tmp_path]
    monkeypatch.chdir(tmp_path / "a" / "b")
    other = tmp_path / "other"
    other.mkdir()
    assert search_dirs(other) == [other]


def test_scanning_another_project_applies_its_settings_not_those_here(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = project(tmp_path / "a", '[allowlist]\npaths = ["tests/fixtures/"]\n')
    there = project(tmp_path / "b")
    monkeypatch.chdir(here)
    code, out, err = run_cli(["scan", "-f", "json", str(there)])
    assert code == 1
    assert paths(out) == {"tests/fixtures/keys.env"}
    assert "no settings file" in err


def test_history_of_another_repository_applies_its_settings_not_those_here(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = project(tmp_path / "a", '[allowlist]\npaths = ["tests/fixtures/"]\n')
    there = Repo(tmp_path / "b")
    there.commit("add", {"tests/fixtures/keys.env": credentials()[0]})
    monkeypatch.chdir(here)
    code, out, _ = run_cli(["history", "-f", "json", str(there.path)])
    assert code == 1
    assert paths(out) == {"tests/fixtures/keys.env"}


@pytest.mark.parametrize("where", ["tests", "tests/fixtures"])
def test_a_subfolder_scan_finds_the_root_settings_and_names_them(
    where: str, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "p", '[allowlist]\npaths = ["tests/fixtures/"]\n')
    monkeypatch.chdir(root / where)
    code, out, err = run_cli(["scan", "-f", "json"])
    assert code == 0, err
    assert paths(out) == set()
    assert f"settings {root / '.akscan.toml'}" in err


def test_allowlist_paths_are_relative_to_the_settings_repository_root(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "p", '[allowlist]\npaths = ["tests/fixtures/keys.env"]\n')
    write(root / "tests" / "other.env", credentials()[0])
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["scan", "-f", "json", str(root / "tests")])
    assert code == 1
    assert paths(out) == {"other.env"}


def test_an_explicit_config_outside_the_repository_anchors_at_the_scanned_root(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "p")
    settings = write(tmp_path / "ci" / "akscan.toml", '[allowlist]\npaths = ["tests/fixtures/"]\n')
    monkeypatch.chdir(root / "tests")
    code, _, err = run_cli(["scan", "-f", "json", "--config", str(settings), "."])
    assert code == 0, err
    assert f"settings {settings}" in err


def test_no_config_ignores_the_repository_settings_and_baseline(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An untrusted repository can allowlist everything and baseline its own keys.
    root = project(tmp_path / "p",
                   '[allowlist]\npaths = ["*"]\nrules = ["alibaba-access-key-id"]\n')
    monkeypatch.chdir(root)
    assert run_cli(["baseline", "--no-config", "."])[0] == 0
    assert (root / ".akscan-baseline.json").is_file()
    assert run_cli(["scan", "-f", "json"])[0] == 0
    code, out, err = run_cli(["scan", "-f", "json", "--no-config"])
    assert code == 1
    assert paths(out) == {"tests/fixtures/keys.env"}
    assert "--no-config" in err


def test_no_config_still_honours_an_explicit_config(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "p", '[allowlist]\npaths = ["*"]\n')
    mine = write(tmp_path / "mine.toml", 'disable = ["alibaba-access-key-secret"]\n')
    code, out, _ = run_cli(["scan", "-f", "json", "--no-config", "--config", str(mine),
                            str(root)])
    assert code == 1
    assert "alibaba-access-key-id" in {f["rule_id"] for f in json.loads(out)["findings"]}
    assert "alibaba-access-key-secret" not in {f["rule_id"] for f in json.loads(out)["findings"]}


@pytest.mark.parametrize("spellings", [
    ["{d}", "{d}"], ["{d}", "{d}/."],
    ["{d}/tests/fixtures/keys.env", "{d}/tests/../tests/fixtures/keys.env"],
    ["{d}", "{d}/tests/fixtures/keys.env"], ["{d}", "{link}"],
])
def test_the_same_file_named_twice_is_reported_once(
    spellings: list[str], tmp_path: Path, run_cli: RunCli
) -> None:
    root = project(tmp_path / "p")
    (tmp_path / "link").symlink_to(root)
    args = [s.format(d=root, link=tmp_path / "link") for s in spellings]
    code, out, _ = run_cli(["scan", "-f", "json", *args])
    assert code == 1
    assert len(json.loads(out)["findings"]) == 2  # the ID and the secret, once each
