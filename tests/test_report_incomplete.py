"""A partial scan says so in the report itself, not only on standard error: whoever reads the
JSON, the SARIF upload or the HTML page later must know the findings are a lower bound."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import RunCli, write
from keys import env_file, new_key

TOO_BIG = "over the size limit of 200 bytes"


@pytest.fixture
def partly_scanned(tmp_path: Path) -> Path:
    key_id, secret = new_key()
    write(tmp_path / "tree" / ".env", env_file(key_id, secret))
    write(tmp_path / "tree" / "big.txt", "x = 1\n" * 100)
    return tmp_path / "tree"


def report(run_cli: RunCli, tree: Path, fmt: str, out: Path) -> tuple[int, str]:
    code, _, err = run_cli(["scan", "--max-file-size", "200", "--format", fmt, "-o", str(out),
                            str(tree)])
    assert TOO_BIG in err
    return code, out.read_text(encoding="utf-8")


def test_json_lists_what_was_not_scanned(
    run_cli: RunCli, partly_scanned: Path, tmp_path: Path
) -> None:
    code, text = report(run_cli, partly_scanned, "json", tmp_path / "r.json")
    document = json.loads(text)
    assert code == 1 and document["findings"]
    assert len(document["incomplete"]) == 1
    assert document["incomplete"][0].startswith("big.txt") and TOO_BIG in document["incomplete"][0]


def test_json_of_a_whole_scan_has_an_empty_incomplete_list(
    run_cli: RunCli, partly_scanned: Path, tmp_path: Path
) -> None:
    (partly_scanned / "big.txt").unlink()
    code, _, _ = run_cli(["scan", "--format", "json", "-o", str(tmp_path / "r.json"),
                          str(partly_scanned)])
    assert code == 1
    assert json.loads((tmp_path / "r.json").read_text())["incomplete"] == []


def test_sarif_carries_a_warning_notification_per_problem(
    run_cli: RunCli, partly_scanned: Path, tmp_path: Path, validate: Callable[[Any], None]
) -> None:
    _, text = report(run_cli, partly_scanned, "sarif", tmp_path / "r.sarif")
    log = json.loads(text)
    validate(log)
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is True
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning" and TOO_BIG in note["message"]["text"]


def test_html_shows_the_problems_above_the_credentials(
    run_cli: RunCli, partly_scanned: Path, tmp_path: Path
) -> None:
    _, page = report(run_cli, partly_scanned, "html", tmp_path / "r.html")
    section = page.index('id="incomplete"')
    assert "Not scanned or incomplete: 1" in page and TOO_BIG in page
    assert section < page.index('id="credentials"')
