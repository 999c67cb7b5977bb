"""A small fleet of real repositories for the fleet scan's tests: shared keys, a bare mirror,
file:// URLs, an unreachable URL and a repository with a missing blob."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrepo import Repo
from keys import env_file, new_key


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Fleet:
    root: Path
    names: list[str] = field(default_factory=list)  # as given to akscan
    planted: dict[str, set[str]] = field(default_factory=dict)  # secret sha -> repositories
    repos: dict[str, Repo] = field(default_factory=dict)
    unreachable: str = ""
    broken: str = ""

    def plant(self, name: str, repo: Repo, path: str, pair: tuple[str, str],
              author: str = "Alice Example") -> str:
        commit = repo.commit(f"add {path}", {path: env_file(*pair)}, author=author)
        for value in pair:
            self.planted.setdefault(sha(value), set()).add(name)
        return commit


def build(root: Path) -> Fleet:
    fleet = Fleet(root)
    shared = new_key()
    # 1: a work tree, named by path, with the shared key and one of its own
    one = Repo(root / "one")
    one.commit("readme", {"README.md": "one\n"})
    fleet.plant(str(one.path), one, "config/.env", shared, author="Bob Dev")
    fleet.plant(str(one.path), one, "deploy/prod.env", new_key())
    # 2: served as a file:// URL, the shared key again on a second branch
    two = Repo(root / "two")
    two.commit("readme", {"README.md": "two\n"})
    two.commit("later", {"README.md": "two, later than one's key\n"})
    two.git("checkout", "-q", "-b", "feature")
    url_two = (root / "two").as_uri()
    fleet.plant(url_two, two, "app/settings.env", shared, author="Carol Ops")
    two.git("checkout", "-q", "main")
    # 3: a bare mirror named by path, with a key of its own, pushed from a work tree
    three_src = Repo(root / "three-src")
    bare = root / "three.git"
    Repo(bare, bare=True)
    fleet.plant(str(bare), three_src, "keys.env", new_key())
    three_src.git("push", "-q", str(bare), "main")
    # 4: clean, as a file:// URL
    four = Repo(root / "four")
    four.commit("code", {"main.py": "print('hello')\n"})
    url_four = (root / "four").as_uri()
    # 5: a blob missing from the object database (a damaged or partial repository)
    five = Repo(root / "five")
    fleet.plant(str(five.path), five, "a.env", new_key())
    five.commit("more", {"b.txt": "lost content\n"})
    blob = five.git("rev-parse", "HEAD:b.txt")
    os.remove(five.path / ".git" / "objects" / blob[:2] / blob[2:])
    fleet.broken = str(five.path)
    fleet.unreachable = (root / "does-not-exist.git").as_uri()
    fleet.names = [str(one.path), url_two, str(bare), url_four, fleet.broken, fleet.unreachable]
    fleet.repos = {str(one.path): one, url_two: two, url_four: four}
    for secrets in fleet.planted.values():  # the broken repository is reported, not lost
        secrets.discard(fleet.broken)
    fleet.planted = {k: v for k, v in fleet.planted.items() if v}
    return fleet


def locations(report: dict[str, Any]) -> set[tuple[str, ...]]:
    """What identifies each reported location, for comparing two runs."""
    return {(f["repository"], f["path"], str(f["line"]), f["rule_id"], f["secret_sha256"],
             f["commit"]) for f in report["findings"]}


def parse(out: str) -> dict[str, Any]:
    return json.loads(out)  # type: ignore[no-any-return]
