"""Which commits and paths `akscan history` and `akscan staged` read: revisions and dates as for
git log, exclude settings as in `akscan scan`; and what history reports tell the user to do."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, credentials
from test_history import by_secret, history

from akscan.cli import main

Validate = Callable[[Any], None]
DAY = 86_400


def _two_branches(repo: Repo) -> tuple[str, str]:
    """main holds one key, feature another; (main's secret, feature's secret)."""
    main_text, _, main_secret = credentials()
    repo.commit("main", {"main.env": main_text})
    repo.git("checkout", "-q", "-b", "feature")
    feature_text, _, feature_secret = credentials()
    repo.commit("feature", {"feature.env": feature_text})
    repo.git("checkout", "-q", "main")
    return main_secret, feature_secret


def test_a_branch_name_is_a_revision_not_a_directory(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main_secret, feature_secret = _two_branches(repo)
    monkeypatch.chdir(repo.path)

    code, findings, _ = history(capsys, "main")

    assert code == 1
    assert by_secret(findings, main_secret) and not by_secret(findings, feature_secret)
    _, findings, _ = history(capsys, str(repo.path), "feature")
    assert by_secret(findings, main_secret) and by_secret(findings, feature_secret)


def test_an_unknown_revision_or_directory_is_a_one_line_error(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", {"README.md": "hello\n"})

    assert main(["history", str(repo.path), "no-such-branch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-branch: no such directory, and not a revision" in err
    assert main(["history", str(repo.path), "main..nope"]) == 2
    assert "main..nope: no such directory, and not a revision" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # not a repository
    assert main(["history", "missing/dir"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing/dir: no such directory" in err


def test_since_and_until_are_dates_as_in_git_log(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = [credentials() for _ in range(3)]
    for day, (text, _, _) in enumerate(texts):  # 2023-11-14, then 10 and 20 days later
        repo._clock = 1_700_000_000 + day * 10 * DAY
        repo.commit(f"day {day}", {f"k{day}.env": text})
    secrets = [secret for _, _, secret in texts]

    def found(*args: str) -> list[bool]:
        _, findings, _ = history(capsys, str(repo.path), *args)
        return [bool(by_secret(findings, s)) for s in secrets]

    assert found("--since", "2023-11-20") == [False, True, True]
    assert found("--until", "2023-11-20") == [True, False, False]
    assert found("--since", "2023-11-20", "--until", "2023-11-30") == [False, True, False]
    assert found("main", "--after", "2023-11-20") == [False, True, True]


def test_since_refuses_a_commit_and_an_unreadable_date(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    commit = repo.commit("base", {"README.md": "hello\n"})

    assert main(["history", str(repo.path), "--since", commit]) == 2
    assert f"give the range {commit}.." in capsys.readouterr().err
    assert main(["history", str(repo.path), "--until", "whenever-ish"]) == 2
    assert "not a date git can read" in capsys.readouterr().err


def test_exclude_setting_and_option_apply_to_history(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture_text, _, fixture_secret = credentials()
    vendor_text, _, vendor_secret = credentials()
    real_text, _, real_secret = credentials()
    repo.commit("add", {"tests/fixtures/fake.env": fixture_text, "vendor/x.env": vendor_text,
                        "app.env": real_text, ".akscan.toml": 'exclude = ["tests/fixtures/"]\n'})

    code, findings, err = history(capsys, str(repo.path), "--exclude", "vendor/")

    assert code == 1
    assert by_secret(findings, real_secret)
    assert not by_secret(findings, fixture_secret) and not by_secret(findings, vendor_secret)
    assert "2 paths excluded" in err


def test_exclude_setting_and_option_apply_to_staged(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("settings", {".akscan.toml": 'exclude = ["tests/fixtures/"]\n'})
    repo.write("tests/fixtures/fake.env", credentials()[0])
    repo.write("vendor/x.env", credentials()[0])
    repo.git("add", "-A")
    monkeypatch.chdir(repo.path)

    code = main(["staged", "--exclude", "vendor/*.env", "--format", "json"])

    out, err = capsys.readouterr()
    assert (code, json.loads(out)["findings"]) == (0, [])
    assert "2 excluded" in err
    repo.write("app.env", credentials()[0])
    repo.git("add", "app.env")
    assert main(["staged", "--exclude", "vendor/*.env"]) == 1


def test_pre_push_advice_says_to_baseline_not_to_edit_the_line(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = repo.commit("base", {"README.md": "hello\n"})
    head = repo.commit("leak", {"a.env": credentials()[0]})
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", base)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", head)

    code = main(["history", str(repo.path), "--pre-push"])

    err = capsys.readouterr().err
    assert code == 1
    assert "akscan baseline --history" in err and "fingerprints" in err
    assert "mark the line with an 'akscan:allow'" not in err


def test_sarif_of_a_bare_repository_points_at_paths_in_the_repository(
    repo: Repo, tmp_path: Path, validate: Validate, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit("add", {"conf/app.env": credentials()[0]})
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(repo.path), str(bare)], check=True,
                   env=repo.env())
    monkeypatch.chdir(tmp_path)  # the mirror is inside the current directory
    out = tmp_path / "out.sarif"

    code = main(["history", "mirror.git", "-f", "sarif", "-o", str(out), "-q"])

    log = json.loads(out.read_text())
    validate(log)
    assert code == 1
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]}
    assert uris == {"conf/app.env"}


def test_staged_blob_missing_from_the_object_store_is_named_and_exits_2(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", {"README.md": "hello\n"})
    repo.write("app.env", credentials()[0])
    repo.git("add", "app.env")
    blob = repo.git("rev-parse", ":app.env")
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    monkeypatch.chdir(repo.path)

    code = main(["staged"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"app.env: staged blob {blob} is missing from the repository" in err
