"""--format html, opened in headless Chromium (Debian's package, driven by Playwright): what a
person sees, in what order, what the filters leave, and that no secret is anywhere in the page.

The main test is issue 13's "done when": a repository with live, unknown, unchecked, inactive and
invalid pairs in several commits, one of them deleted before HEAD, validated against the local
emulator. Each test saves a screenshot in its tmp_path.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, credentials
from helpers import RunCli, write
from keys import env_file, new_key, random_id

from akscan.emulator import EmulatedKey, Emulator
from akscan.model import Finding

CHROMIUM = os.environ.get("AKSCAN_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK) and not shutil.which("chromium"),
    reason="needs Debian's chromium package (.ci/run installs it)")


def _ago(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _executable() -> str:
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium") or CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium; Playwright gives it a fresh temporary profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=_executable(), headless=True, args=FLAGS)
        yield launched
        launched.close()


def _open(browser: Any, report: Path, javascript: bool = True) -> Any:
    """The report in a new page; what it tried to fetch and any dialog are recorded on it."""
    page = browser.new_page(java_script_enabled=javascript,
                            viewport={"width": 1200, "height": 1400})
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    page.akscan_dialogs, page.akscan_requests = dialogs, requests
    return page


def _visible(page: Any) -> list[str]:
    """data-status of each credential entry shown, top to bottom."""
    return list(page.eval_on_selector_all(
        "article.credential", "els => els.filter(e => !e.hidden).map(e => e.dataset.status)"))


@pytest.fixture
def planted(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """Five pairs over four commits by two authors, the invalid one deleted before HEAD."""
    monkeypatch.delenv("AKSCAN_VALIDATE_ENDPOINT", raising=False)
    keys = {name: new_key() for name in ("live", "unknown", "unchecked", "inactive", "invalid")}
    commits = {}
    commits["first"] = repo.commit("config", {
        "deploy/prod.env": env_file(*keys["live"]),
        "deploy/staging.env": env_file(*keys["inactive"]),
    })
    commits["second"] = repo.commit("more", {
        "app/config.json": f'{{"id": "{keys["unknown"][0]}", "secret": "{keys["unknown"][1]}"}}\n',
        "ci/backup.env": env_file(*keys["live"]),  # the live pair again
        "old/legacy.env": env_file(*keys["invalid"]),
    }, author="Bob Dev")
    commits["third"] = repo.commit("test fixture", {
        "tests/fixture.env": env_file(*keys["unchecked"]).replace("\n", "  # akscan:allow\n"),
    })
    repo.git("rm", "-q", "old/legacy.env")
    commits["removed"] = repo.commit("remove legacy config")
    emulated = [
        EmulatedKey(*keys["live"], user_name="ci", account_id="5550001112223334",
                    created=_ago(400), last_used=_ago(200)),
        EmulatedKey(*keys["unknown"], error_500=True),
        EmulatedKey(*keys["unchecked"]),
        EmulatedKey(*keys["inactive"], status="Inactive"),
    ]  # the invalid pair's ID is not known to the emulator
    with Emulator(emulated) as emu:
        yield {"keys": keys, "commits": commits, "url": emu.url, "repo": repo,
               "report": tmp_path / "report.html"}


def test_history_report_lists_each_credential_once_by_urgency_and_filters_narrow_it(
    planted: dict[str, Any], run_cli: RunCli, browser: Any, tmp_path: Path
) -> None:
    report: Path = planted["report"]
    code, out, err = run_cli([
        "history", str(planted["repo"].path), "--validate", "--validate-endpoint",
        planted["url"], "--validate-timeout", "2", "--include-suppressed", "--format", "html",
        "-o", str(report)])
    assert code == 1, err
    assert out == ""
    raw = report.read_text("utf-8")
    for key_id, secret in planted["keys"].values():
        assert key_id not in raw and secret not in raw

    page = _open(browser, report)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert _visible(page) == ["live", "unknown", "unchecked", "inactive", "invalid"]
    content = page.content()
    for key_id, secret in planted["keys"].values():
        assert key_id not in content and secret not in content
    figures = dict(page.eval_on_selector_all(
        "#summary li", "els => els.map(e => [e.dataset.figure, e.querySelector('b').textContent])"))
    assert figures["credentials"] == "5" and figures["live"] == "1"
    assert figures["findings"] == "12" and figures["commits"] == "3"

    live = page.locator("article.live")
    text = live.inner_text()
    assert "AccessKey pair" in text
    assert "acs:ram::5550001112223334:user/ci" in text and "RAM user ci" in text
    assert "(400 days ago)" in text and "older-than-90-days" in text
    assert "unused-over-90-days" in text
    for path in ("deploy/prod.env", "ci/backup.env"):
        assert path in text
    assert planted["commits"]["first"][:12] in text and planted["commits"]["second"][:12] in text
    assert "Alice Example" in text and "Bob Dev" in text
    assert f"introduced\ncommit {planted['commits']['first'][:12]}" in text
    steps = live.locator("details.todo li").all_inner_texts()
    assert steps[0].startswith("Disable this AccessKey of ci now")
    assert "akscan trail EVENTS... --findings akscan-findings.json" in steps[2]
    assert page.locator("svg rect").count() >= 1  # when they were introduced

    head = planted["repo"].git("rev-parse", "HEAD")
    assert f"at the tip\nstill present at HEAD ({head[:12]}) in ci/backup.env, " \
           "deploy/prod.env" in text
    assert text.count("still at HEAD") == 4

    invalid = page.locator("article.invalid").inner_text()
    assert "old/legacy.env" in invalid and planted["commits"]["second"][:12] in invalid
    removed = planted["commits"]["removed"]
    assert f"at the tip\nnot at HEAD ({head[:12]}): removed in {removed[:12]} (2023-11-14); " \
           "still in the history" in invalid
    assert invalid.count(f"removed from HEAD in {removed[:12]} on 2023-11-14") == 2
    todo = page.locator("article.invalid details.todo")
    assert "It is gone from the tip" not in todo.inner_text()  # folded: not urgent
    todo.locator("summary").click()
    assert "It is gone from the tip but not from the history" in todo.inner_text()
    unchecked = page.locator("article.unchecked").inner_text()
    assert "suppressed (inline 'akscan:allow')" in unchecked

    # The filters: status boxes, the rule list, the path box and the search box narrow the list.
    for status in ("unknown", "unchecked", "inactive", "invalid"):
        page.uncheck(f"input[name=status][value={status}]")
    assert _visible(page) == ["live"]
    assert page.inner_text("#shown") == "1"
    page.check("input[name=status][value=invalid]")
    assert _visible(page) == ["live", "invalid"]
    for status in ("unknown", "unchecked", "inactive"):
        page.check(f"input[name=status][value={status}]")
    page.fill("input[name=path]", "deploy/")
    assert _visible(page) == ["live", "inactive"]
    page.fill("input[name=path]", "")
    page.fill("input[name=q]", "bob dev")
    assert _visible(page) == ["live", "unknown", "invalid"]
    page.fill("input[name=q]", "")
    page.select_option("select[name=rule]", "alibaba-access-key-secret-near-id")
    assert _visible(page) == ["unknown"]
    page.screenshot(path=str(tmp_path / "filtered.png"))
    assert page.akscan_dialogs == []
    assert [u for u in page.akscan_requests if not u.startswith("file:")] == []


def test_filters_can_be_set_from_the_address(
    tmp_path: Path, run_cli: RunCli, browser: Any
) -> None:
    for name in ("a", "b"):
        write(tmp_path / "src" / f"{name}.env", env_file(*new_key()))
    report = tmp_path / "report.html"
    assert run_cli(["scan", "--format", "html", "-o", str(report), str(tmp_path / "src")])[0] == 1
    page = _open(browser, report)
    page.goto(report.as_uri() + "#path=b.env")
    page.reload()
    assert _visible(page) == ["unchecked"]
    assert "b.env" in page.locator("article:not([hidden])").inner_text()


def test_without_javascript_everything_is_listed(
    tmp_path: Path, run_cli: RunCli, browser: Any
) -> None:
    for name in ("a", "b", "c"):
        write(tmp_path / "src" / f"{name}.env", env_file(*new_key()))
    report = tmp_path / "report.html"
    assert run_cli(["scan", "--format", "html", "-o", str(report), str(tmp_path / "src")])[0] == 1
    page = _open(browser, report, javascript=False)
    page.screenshot(path=str(tmp_path / "nojs.png"), full_page=True)
    assert page.locator("article.credential:visible").count() == 3
    assert not page.locator("#filters").is_visible()
    assert "Filters need JavaScript" in page.inner_text("body")


def test_file_names_and_lines_cannot_inject_markup(
    tmp_path: Path, run_cli: RunCli, browser: Any
) -> None:
    key_id, secret = new_key()
    evil = '<img src=x onerror=alert(1)>'
    write(tmp_path / "src" / f"{evil}.env",
          f'</script><script>alert(2)</script>ID={key_id}\x1b[31m\n'
          f'<b onmouseover=alert(3)>SECRET={secret}\n')
    report = tmp_path / "report.html"
    assert run_cli(["scan", "--format", "html", "-o", str(report), str(tmp_path / "src")])[0] == 1
    raw = report.read_text("utf-8")
    assert "\x1b" not in raw and "<img" not in raw and "</script><script>alert" not in raw
    page = _open(browser, report)
    assert page.locator("img").count() == 0 and page.locator("article b").count() == 0
    text = page.locator("article").inner_text()
    assert f"{evil}.env" in text and "\\x1b[31m" in text
    assert page.akscan_dialogs == []
    assert key_id not in page.content() and secret not in page.content()


def test_show_secrets_is_the_only_way_to_see_a_secret(
    tmp_path: Path, run_cli: RunCli
) -> None:
    text, key_id, secret = credentials()
    write(tmp_path / "src" / "a.env", text)
    report = tmp_path / "report.html"
    run_cli(["scan", "--format", "html", "--show-secrets", "-o", str(report),
             str(tmp_path / "src")])
    raw = report.read_text("utf-8")
    assert key_id in raw and secret in raw and "secrets shown in full" in raw


def test_the_page_fetches_nothing(tmp_path: Path, run_cli: RunCli) -> None:
    write(tmp_path / "src" / "a.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    report = tmp_path / "report.html"
    run_cli(["scan", "--format", "html", "-o", str(report), str(tmp_path / "src")])
    raw = report.read_text("utf-8")
    assert "default-src 'none'" in raw
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", raw)
    assert "@import" not in raw and "url(" not in raw


def _fleet_finding(repository: str, path: str, secret: str, kind: str, present: str,
                   line: int) -> Finding:
    """A finding as the fleet scan hands it to the reporter: its repository in the origin."""
    rule = "alibaba-access-key-id" if kind == "access-key-id" else "alibaba-access-key-secret"
    return Finding(rule_id=rule, kind=kind, severity="critical", description="", remediation="",
                   path=path, line=line, column=1, end_line=line, end_column=1 + len(secret),
                   secret=secret, line_text=secret,
                   origin=(("repository", repository), ("commit", "a" * 40),
                           ("author", "Dana Ops"), ("email", "dana@example.test"),
                           ("date", "2024-02-01T10:00:00+00:00"), ("present_at_head", present)))


def test_fleet_findings_are_filtered_by_repository(tmp_path: Path, browser: Any) -> None:
    from akscan.detect.pairing import link_pairs
    from akscan.report import ReportContext
    from akscan.report.html_report import write as write_html

    shared, alone = new_key(), new_key()
    findings = [
        *link_pairs([_fleet_finding("git@example.test:pay/api", "conf/app.env", shared[0],
                                    "access-key-id", "true", 1),
                     _fleet_finding("git@example.test:pay/api", "conf/app.env", shared[1],
                                    "access-key-secret", "true", 2)]),
        *link_pairs([_fleet_finding("git@example.test:ops/infra", "ci.env", shared[0],
                                    "access-key-id", "false", 4),
                     _fleet_finding("git@example.test:ops/infra", "ci.env", shared[1],
                                    "access-key-secret", "false", 5)]),
        *link_pairs([_fleet_finding("git@example.test:ops/infra", "old.env", alone[0],
                                    "access-key-id", "false", 1),
                     _fleet_finding("git@example.test:ops/infra", "old.env", alone[1],
                                    "access-key-secret", "false", 2)]),
    ]
    report = tmp_path / "fleet.html"
    with report.open("w", encoding="utf-8") as stream:
        write_html(stream, findings, ReportContext(tool_version="test", command="fleet"))
    page = _open(browser, report)
    figures = page.inner_text("#summary")
    assert "2\ncredentials" in figures and "2\nrepositories" in figures
    first, second = page.locator("article.credential").all()
    assert "still present at HEAD in git@example.test:pay/api" in first.inner_text()
    assert "not at HEAD in any repository" in second.inner_text()
    page.select_option("select[name=repo]", "git@example.test:pay/api")
    assert page.locator("article.credential:visible").count() == 1
    page.select_option("select[name=repo]", "git@example.test:ops/infra")
    assert page.locator("article.credential:visible").count() == 2
    raw = report.read_text("utf-8")
    assert all(value not in raw for value in (*shared, *alone))
