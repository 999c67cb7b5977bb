"""Parsed rule files are kept by the sha256 of their text: a commit hook need not parse TOML
again (issue 14), and an entry can never stand for a file that changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write

from akscan import rulecache, toml
from akscan.errors import RuleError
from akscan.rules import builtin_rules_dir, load_rules

RULE = """\
[[rules]]
id = "my-token"
description = "My token"
kind = "access-key-id"
pattern = '''MYTOK_[A-Z0-9]{20}'''
keywords = ["mytok_"]
remediation = "Revoke it."
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "akscan" / "rules"


def _no_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> None:
        raise AssertionError("parsed the TOML again")

    monkeypatch.setattr(toml, "loads", refuse)


def test_rules_read_back_from_the_cache_are_the_rules_parsed(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = load_rules([builtin_rules_dir()])
    assert len(list(cache.glob("*.json"))) == len(list(builtin_rules_dir().glob("*.toml")))

    _no_parser(monkeypatch)
    cached = load_rules([builtin_rules_dir()])

    assert cached == parsed


def test_a_changed_rule_file_is_parsed_again(cache: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "mine.toml", RULE)
    assert load_rules([path])[0].description == "My token"

    write(path, RULE.replace("My token", "My renamed token"))

    assert load_rules([path])[0].description == "My renamed token"
    assert len(list(cache.glob("*.json"))) == 2


def test_a_damaged_entry_is_parsed_again_and_replaced(
    cache: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "mine.toml", RULE)
    load_rules([path])
    (entry,) = cache.glob("*.json")
    entry.write_text('{"rules": [{"id": ')

    assert load_rules([path])[0].id == "my-token"
    assert json.loads(entry.read_text())["data"]["rules"][0]["id"] == "my-token"


def test_an_entry_is_used_only_for_the_very_text_it_was_made_from(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "mine.toml", RULE)
    load_rules([path])
    (entry,) = cache.glob("*.json")
    kept = json.loads(entry.read_text())
    # Another text under the same name (a CRC-32 collision, or an edited entry): not used.
    entry.write_text(json.dumps({**kept, "text": kept["text"].replace("My", "Mx")}))

    assert load_rules([path])[0].description == "My token"
    _no_parser(monkeypatch)  # and the entry was written again for this text
    assert load_rules([path])[0].description == "My token"


def test_cached_data_gets_the_checks_of_parsed_data(cache: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "mine.toml", RULE)
    load_rules([path])
    (entry,) = cache.glob("*.json")
    kept = json.loads(entry.read_text())
    entry.write_text(json.dumps({**kept, "data": {"rules": [{"id": "Not Kebab"}]}}))

    with pytest.raises(RuleError, match="kebab-case"):
        load_rules([path])


def test_rules_load_when_the_cache_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(write(tmp_path / "a-file", "not a folder")))
    path = write(tmp_path / "mine.toml", RULE)

    assert load_rules([path])[0].id == "my-token"
    assert rulecache.get(RULE) is None


def test_invalid_toml_is_an_error_every_time(cache: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", RULE + "oops = \n")
    for _ in range(2):
        with pytest.raises(RuleError, match="invalid TOML"):
            load_rules([path])
    assert list(cache.glob("*.json")) == []
