"""`akscan fleet`: many real repositories, incremental runs, one credential with all its places."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fleetgen import Fleet, build, locations, parse, sha
from gitrepo import Repo
from helpers import RunCli, run_on_a_terminal
from keys import env_file, new_key

from akscan.fleet.store import STORE_NAME, Store


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return build(tmp_path / "fleet")


def run_fleet(run_cli: RunCli, cache: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(["fleet", "--cache", str(cache), "--format", "json", "-j", "1",
                              *args])
    assert "Traceback" not in err, err
    return code, parse(out), err


def test_every_planted_credential_is_reported_once_with_all_its_locations(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    code, report, err = run_fleet(run_cli, tmp_path / "cache", *fleet.names)

    assert code == 1
    credentials = {c["secret_sha256"]: c for c in report["credentials"]}
    assert set(fleet.planted) <= set(credentials)
    for secret, places in fleet.planted.items():
        assert set(credentials[secret]["repositories"]) == places
        assert credentials[secret]["locations"] == len(places)
    shared = [c for c in credentials.values() if len(c["repositories"]) == 2]
    assert len(shared) == 2  # the shared ID and secret, each one credential in two repositories
    assert shared[0]["introduced"]["author"] == "Bob Dev"  # the older of its two commits
    status = {r["repository"]: r for r in report["repositories"]}
    assert status[fleet.unreachable]["status"] == "failed"
    assert "git clone failed" in status[fleet.unreachable]["reason"]
    assert status[fleet.broken]["status"] in ("failed", "partial")
    assert "missing" in status[fleet.broken]["reason"]
    assert {r["status"] for n, r in status.items()
            if n not in (fleet.unreachable, fleet.broken)} == {"scanned"}
    assert fleet.unreachable in err and "2 of 6 repositories not fully scanned" in err


def test_findings_keep_the_history_contract_and_name_their_repository(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    _, report, _ = run_fleet(run_cli, tmp_path / "cache", *fleet.names)

    assert report["version"] == 1
    for finding in report["findings"]:
        for name in ("rule_id", "kind", "path", "line", "column", "secret_sha256", "commit",
                     "author", "email", "date", "repository"):
            assert finding[name] not in (None, ""), name
        assert finding["repository"] in fleet.names
        # the key on two's feature branch is not on its default branch
        assert finding["present_at_head"] is (finding["repository"] != fleet.names[1])
    for repo in report["repositories"]:
        assert set(repo) == {"repository", "status", "reason", "commits", "blobs"}


def test_rerun_with_nothing_changed_scans_no_commit_and_reports_the_same(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    _, first, _ = run_fleet(run_cli, cache, *fleet.names)

    code, again, err = run_fleet(run_cli, cache, *fleet.names)

    assert code == 1
    assert locations(again) == locations(first)
    assert "0 new location(s)" in err
    # A repository scanned whole scans no commit again; the one with a missing blob (scanned in
    # part) is retried on every run until it is whole again.
    commits = {r["repository"]: r["commits"] for r in again["repositories"]
               if r["status"] == "scanned"}
    assert set(commits.values()) == {0} and len(commits) == 4
    assert {r["repository"] for r in again["repositories"] if r["status"] == "partial"} == \
        {fleet.broken}


def test_new_commit_is_scanned_alone_and_its_key_found(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    run_fleet(run_cli, cache, *fleet.names)
    url_four = fleet.names[3]
    pair = new_key()
    commit = fleet.repos[url_four].commit("oops", {"new.env": env_file(*pair)})

    code, report, err = run_fleet(run_cli, cache, *fleet.names)

    assert code == 1
    found = [f for f in report["findings"] if f["secret_sha256"] == sha(pair[1])]
    assert [(f["repository"], f["commit"]) for f in found] == [(url_four, commit)]
    assert "2 new location(s)" in err
    commits = {r["repository"]: r["commits"] for r in report["repositories"]
               if r["status"] == "scanned"}
    assert commits == {name: int(name == url_four) for name in commits}


def test_force_push_and_deleted_branch_lose_nothing_found(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    _, first, _ = run_fleet(run_cli, cache, *fleet.names)
    two = fleet.repos[fleet.names[1]]
    two.git("branch", "-D", "feature")  # the branch that held the shared key
    one = fleet.repos[fleet.names[0]]
    one.git("reset", "-q", "--hard", "HEAD~2")  # and a history rewritten without both keys
    one.git("reflog", "expire", "--expire=now", "--all")
    one.git("gc", "-q", "--prune=now")

    _, again, _ = run_fleet(run_cli, cache, *fleet.names)

    assert locations(again) == locations(first)
    gone = {f["repository"] for f in again["findings"] if f["present_at_head"] is False}
    assert gone == {fleet.names[0], fleet.names[1]}  # one rewound; two's key never on main


def test_full_rescan_finds_the_same_as_the_incremental_runs(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    run_fleet(run_cli, cache, *fleet.names)
    fleet.repos[fleet.names[0]].commit("more", {"x.env": env_file(*new_key())})
    _, incremental, _ = run_fleet(run_cli, cache, *fleet.names)

    _, full, err = run_fleet(run_cli, cache, "--full", *fleet.names)
    _, fresh, _ = run_fleet(run_cli, tmp_path / "fresh", *fleet.names)

    assert locations(full) == locations(incremental) == locations(fresh)
    assert "0 new location(s)" in err


def test_a_repository_split_in_shares_gives_what_one_task_gives(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    one = fleet.repos[fleet.names[0]]
    pair = new_key()
    for n in range(6):  # the same key at one path in several commits, and in other files
        one.commit(f"c{n}", {"svc/app.env": env_file(*pair) + f"# {n}\n",
                             f"f{n}.env": env_file(*new_key())})
    _, whole, _ = run_fleet(run_cli, tmp_path / "a", *fleet.names)

    _, split, _ = run_fleet(run_cli, tmp_path / "b", "--split-size", "1", "-j", "2",
                            *fleet.names)

    assert locations(split) == locations(whole)
    assert split["credentials"] == whole["credentials"]  # introduced and still present alike


def test_report_from_the_store_needs_no_scan(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    _, scanned, _ = run_fleet(run_cli, cache, *fleet.names)

    code, report, _ = run_fleet(run_cli, cache, "report")
    code_one, only_one, _ = run_fleet(run_cli, cache, "report", fleet.names[3])

    assert code == 1 and report == scanned
    assert code_one == 0 and only_one["findings"] == []
    assert [r["repository"] for r in only_one["repositories"]] == [fleet.names[3]]


def test_exit_2_when_nothing_found_and_a_repository_could_not_be_scanned(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    clean = fleet.names[3]

    assert run_fleet(run_cli, tmp_path / "c1", clean)[0] == 0
    code, report, err = run_fleet(run_cli, tmp_path / "c2", clean, fleet.unreachable)

    assert code == 2 and report["findings"] == []
    assert "not fully scanned" in err


def test_userinfo_of_a_url_is_never_printed(run_cli: RunCli, tmp_path: Path) -> None:
    url = "https://someone:s3cr3tT0ken@127.0.0.1:9/org/repo.git"

    code, out, err = run_cli(["fleet", "--cache", str(tmp_path / "c"), "--git-timeout", "20",
                              "--format", "json", url])

    assert code == 2
    assert "s3cr3tT0ken" not in out + err
    assert json.loads(out)["repositories"][0]["repository"] == \
        "https://***@127.0.0.1:9/org/repo.git"
    for path in (tmp_path / "c").rglob("*"):
        assert "s3cr3tT0ken" not in path.name


def test_a_second_run_on_the_same_store_refuses(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    with Store(cache / STORE_NAME, writer=True):
        code, _, err = run_cli(["fleet", "--cache", str(cache), fleet.names[3]])

    assert code == 2
    assert "another 'akscan fleet' run is using this store" in err


def test_a_store_from_a_newer_akscan_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with Store(cache / STORE_NAME, writer=True) as store:
        store.db.execute("PRAGMA user_version=99")

    code, _, err = run_cli(["fleet", "--cache", str(cache), "report"])

    assert code == 2 and "written by a newer akscan (schema 99)" in err


def test_sarif_is_written_per_repository(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path, validate: Any
) -> None:
    out = tmp_path / "sarif"
    code, _, err = run_cli(["fleet", "--cache", str(tmp_path / "c"), "-j", "1", "--format",
                            "sarif", "-o", str(out), *fleet.names[:4]])

    assert code == 1, err
    files = sorted(out.glob("*.sarif"))
    assert len(files) == 4
    results = {}
    for path in files:
        log = json.loads(path.read_text())
        validate(log)
        results[path.name] = log["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for rs in results.values() for r in rs}
    assert uris == {"config/.env", "deploy/prod.env", "app/settings.env", "keys.env"}
    assert not list(out.glob("*.partial")) and not list(out.glob(".*")), "a temporary file stayed"


def test_a_report_that_cannot_be_written_is_an_error_and_leaves_nothing(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    target = tmp_path / "fleet.json"
    target.mkdir()  # not writable as a file, even for root

    code, _, err = run_cli(["fleet", "--cache", str(tmp_path / "c"), "-j", "1", "--format",
                            "json", "-o", str(target), fleet.names[0]])

    assert code == 2 and "cannot write report" in err and "it is a directory" in err
    assert list(target.iterdir()) == []
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".fleet.json.*"))


def test_list_file_with_comments_names_the_repositories(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text("# our repositories\n" + "\n".join(fleet.names[:2]) + "  # two\n\n")

    code, report, _ = run_fleet(run_cli, tmp_path / "c", "--repos", str(listing))

    assert code == 1
    assert [r["repository"] for r in report["repositories"]] == sorted(fleet.names[:2])


def test_local_pool_finds_what_one_process_finds(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    _, inline, _ = run_fleet(run_cli, tmp_path / "a", *fleet.names)
    _, pooled, _ = run_fleet(run_cli, tmp_path / "b", "-j", "2", *fleet.names)

    assert locations(pooled) == locations(inline)
    assert pooled["repositories"] == inline["repositories"]


def test_text_report_shows_one_block_per_credential(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    code, out, _ = run_cli(["fleet", "--cache", str(tmp_path / "c"), "-j", "1",
                            *fleet.names[:2]])

    assert code == 1
    blocks = [line for line in out.splitlines() if not line.startswith(" ")]
    assert len(blocks) == 4  # shared ID and secret, one's own ID and secret
    assert sum("2 location(s) in 2 repositories" in b for b in blocks) == 2


def test_a_repository_removed_key_is_not_present_at_head(
    run_cli: RunCli, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "r")
    pair = new_key()
    repo.commit("add", {"a.env": env_file(*pair)})
    repo.git("rm", "-q", "a.env")
    repo.commit("remove")

    _, report, _ = run_fleet(run_cli, tmp_path / "c", str(repo.path))

    assert {f["present_at_head"] for f in report["findings"]} == {False}


def test_history_of_a_url_goes_through_the_mirror_cache(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    repo = Repo(tmp_path / "origin")
    first = new_key()
    repo.commit("one", {"a.env": env_file(*first)})
    url = repo.path.as_uri()
    assert run_cli(["history", url, "-q"])[0] == 1
    second = new_key()
    commit = repo.commit("two", {"b.env": env_file(*second)})

    code, out, _ = run_cli(["history", url, "--format", "json"])  # fetched, not cloned again

    assert code == 1
    assert {f["commit"] for f in json.loads(out)["findings"]
            if f["secret_sha256"] == sha(second[0])} == {commit}
    mirrors = (tmp_path / "xdg" / "akscan" / "mirrors").glob("origin-*")
    assert len([m for m in mirrors if m.is_dir()]) == 1


def test_html_report_lists_each_credential_with_its_repositories(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    page = tmp_path / "fleet.html"
    code, _, err = run_cli(["fleet", "--cache", str(tmp_path / "c"), "-j", "1", "--format",
                            "html", "-o", str(page), *fleet.names[:2]])

    assert code == 1, err
    html = page.read_text()
    assert "<title>akscan: 2 credential(s)</title>" in html  # each ID with its secret, one pair
    assert fleet.names[1] in html and fleet.names[0] in html


def test_validate_tests_each_distinct_pair_once_however_many_places(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("alibabacloud_sts20150401", reason="needs akscan[validate]")
    from akscan.emulator import EmulatedKey, Emulator

    monkeypatch.delenv("AKSCAN_VALIDATE_ENDPOINT", raising=False)
    pair = new_key()
    names = []
    for n in range(3):  # the same pair in three repositories, twice in the first
        repo = Repo(tmp_path / f"r{n}")
        repo.commit("add", {"a.env": env_file(*pair)})
        if n == 0:
            repo.commit("copy", {"b/copy.env": env_file(*pair)})
        names.append(str(repo.path))
    cache = str(tmp_path / "c")
    run_fleet(run_cli, tmp_path / "c", *names)

    with Emulator([EmulatedKey(*pair)]) as emulator:
        code, out, err = run_cli(["fleet", "--cache", cache, "report", "--format", "json",
                                  "--validate", "--validate-endpoint", emulator.url])
        calls = [c for c in emulator.service.calls if c == (pair[0], "GetCallerIdentity")]

    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert len(findings) == 8  # ID and secret at four places
    assert {f["validation"]["status"] for f in findings} == {"live"}
    assert len(calls) == 1


def test_progress_is_one_line_on_a_terminal_cleared_before_the_summary(
    fleet: Fleet, tmp_path: Path
) -> None:
    args = ["fleet", "--cache", str(tmp_path / "cache"), "-j", "1", "--format", "json",
            "-o", str(tmp_path / "report.json"), *fleet.names]
    shown = run_on_a_terminal(args, tmp_path, stream="stderr")

    total = len(fleet.names)
    updates = shown.split("\r\033[K")
    # Every update overwrites the one before; the last says all were done, then it is wiped.
    progress = [u for u in updates if u.startswith("akscan: ") and " repositories, " in u]
    assert progress and progress[-1].startswith(f"akscan: {total}/{total} repositories, ")
    assert "new finding(s), ETA " in progress[-1]
    assert not any("\n" in u for u in progress)  # never a line of its own in the scrollback
    # What follows (warnings, the summary) are whole lines; a terminal ends lines with \r\n.
    after = shown[shown.rindex("\r\033[K") + len("\r\033[K"):].replace("\r\n", "\n")
    assert after.startswith("akscan: ") and "\r" not in after
    assert after.endswith(" new location(s))\n")  # the summary, last


def test_no_progress_when_quiet_or_not_on_a_terminal(
    fleet: Fleet, run_cli: RunCli, tmp_path: Path
) -> None:
    quiet = run_on_a_terminal(["fleet", "--cache", str(tmp_path / "cache"), "-q", "-j", "1",
                               "-o", str(tmp_path / "report.json"), *fleet.names],
                              tmp_path, stream="stderr")
    assert "\033[K" not in quiet
    _, _, err = run_fleet(run_cli, tmp_path / "cache2", *fleet.names)
    assert "\033[K" not in err and "\r" not in err
