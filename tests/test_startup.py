"""A commit hook's run is mostly start-up (issue 14): each command imports what it runs, and
the parser it gets is, for everything it can show, the parser of every command."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
from gitrepo import Repo, credentials

from akscan.cli import COMMANDS, build_parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no commands")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_parser_built_alone_is_the_one_built_with_all(command: str) -> None:
    alone = _subparsers(build_parser(command))[command]
    full = _subparsers(build_parser())[command]

    assert alone.format_help() == full.format_help()
    assert alone.format_usage() == full.format_usage()
    assert [a.option_strings for a in alone._actions] == [a.option_strings for a in full._actions]
    assert {a.dest: a.default for a in alone._actions} == {a.dest: a.default for a in full._actions}


@pytest.mark.parametrize("columns", [None, "60", "150", "0", "wide"])
def test_help_is_as_wide_as_argparse_makes_it(columns: str | None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    top = build_parser()
    for parser, argparse_own in ((top, argparse.RawDescriptionHelpFormatter),
                                 (_subparsers(top)["staged"], argparse.HelpFormatter)):
        ours = parser.format_help()
        parser.formatter_class = argparse_own  # which asks shutil for the width
        assert ours == parser.format_help()


def test_every_command_is_still_listed_and_chosen_when_one_is_built() -> None:
    assert list(_subparsers(build_parser("staged"))) == list(COMMANDS)
    assert list(_subparsers(build_parser())) == list(COMMANDS)


_LOADED = """
import json, sys
from akscan.cli import main
code = main(sys.argv[1:])
print(json.dumps([code, sorted(sys.modules)]))
"""


def _modules_after(args: list[str], cwd: str) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", _LOADED, *args], cwd=cwd,
                          capture_output=True, text=True, check=False)
    code, modules = json.loads(done.stdout.splitlines()[-1])
    return code, set(modules)


def test_a_staged_scan_loads_nothing_it_does_not_use(repo: Repo) -> None:
    text, _, _ = credentials()
    repo.commit("base", {"README.md": "hello\n"})
    repo.write("deploy/.env", text)
    repo.write("app.py", "print('hello')\n")
    repo.git("add", "deploy/.env", "app.py")

    code, modules = _modules_after(["staged", "-q", "app.py", "deploy/.env"], str(repo.path))

    assert code == 1  # it did scan, and found the key
    unused = {
        "akscan.commands.scan", "akscan.commands.fleet",
        "akscan.commands.trail", "akscan.commands.baseline", "akscan.completion",
        "akscan.fleet", "akscan.trail", "akscan.pipeline.history", "akscan.pipeline.files",
        "akscan.pipeline.workers", "akscan.report.html_report", "akscan.report.json_report",
        "akscan.report.sarif", "akscan.validate.outcome", "akscan.validate.pairs",
        "pathspec", "multiprocessing", "concurrent.futures", "sqlite3",
        # git's standard error goes to an in-memory file (Linux), and blobs are read without
        # the queue of a long-lived reader
        "tempfile", "random", "queue",
        # argparse's formatter imports shutil for the terminal's width; akscan finds it itself
        "shutil", "bz2", "lzma",
    }
    assert unused & modules == set()


_DATACLASSES = """
import dataclasses, inspect, json, sys
from akscan.cli import main
code = main(sys.argv[1:])
defined = sorted({f"{cls.__module__}.{cls.__qualname__}"
                  for name, module in list(sys.modules.items()) if name.startswith("akscan")
                  for cls in vars(module).values()
                  if inspect.isclass(cls) and dataclasses.is_dataclass(cls)
                  and cls.__module__ == name})
print(json.dumps([code, defined]))
"""


def test_a_staged_scan_defines_only_the_dataclasses_that_are_the_data(repo: Repo) -> None:
    # Defining a dataclass compiles its methods; two dozen of them were a quarter of a commit
    # hook's run. Internal records are NamedTuples or plain classes instead.
    text, _, _ = credentials()
    repo.commit("base", {"README.md": "hello\n"})
    repo.write("deploy/.env", text)
    repo.git("add", "deploy/.env")

    done = subprocess.run([sys.executable, "-c", _DATACLASSES, "staged", "-q", "deploy/.env"],
                          cwd=str(repo.path), capture_output=True, text=True, check=False)
    code, defined = json.loads(done.stdout.splitlines()[-1])

    assert code == 1
    assert defined == ["akscan.model.Finding", "akscan.model.PartnerRef", "akscan.rules.Rule"]


def test_exclude_patterns_and_json_reports_still_load_what_they_need(repo: Repo) -> None:
    repo.commit("base", {"README.md": "hello\n"})
    repo.write("app.py", "print('hello')\n")
    repo.git("add", "app.py")

    code, modules = _modules_after(["staged", "-q", "--exclude", "docs/", "-f", "json"],
                                   str(repo.path))

    assert code == 0
    assert {"pathspec", "akscan.report.json_report"} <= modules


def test_a_clean_change_compiles_no_rule_pattern(repo: Repo) -> None:
    # Built-in patterns compile when a keyword wakes their rule; none here, so no `regex` at all.
    repo.commit("base", {"README.md": "hello\n"})
    repo.write("app.py", "def main():\n    return 42\n")
    repo.write("README.md", "hello, world\n")
    repo.git("add", "app.py", "README.md")

    code, modules = _modules_after(["staged", "app.py", "README.md"], str(repo.path))

    assert code == 0
    assert "regex" not in modules
    # nor hashlib (OpenSSL): fingerprints are for findings, member digests for archives
    assert "hashlib" not in modules
