"""Shared test helpers: real git repositories in tmp_path and keys generated at test time."""

from __future__ import annotations

import os
import random
import string
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

_ALNUM = string.ascii_letters + string.digits
# What the rules treat as placeholders: a random key must not look like one.
_FILLER_WORDS = ("example", "sample", "your", "fake", "dummy", "xxxx", "placeholder", "redacted",
                 "changeme", "replace")
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "9876543210")
_rng = random.SystemRandom()


def _plausible(value: str) -> bool:
    lowered = value.lower()
    if any(word in lowered for word in _FILLER_WORDS):
        return False
    if any(value[i] == value[i + 1] == value[i + 2] == value[i + 3]
           for i in range(len(value) - 3)):
        return False
    for run in _RUNS:
        if any(run[i:i + 5] in lowered for i in range(len(run) - 4)):
            return False
    return (any(c.isupper() for c in value) and any(c.islower() for c in value)
            and any(c.isdigit() for c in value))


def _random(prefix: str, length: int) -> str:
    while True:
        value = prefix + "".join(_rng.choice(_ALNUM) for _ in range(length))
        if _plausible(value[len(prefix):]) and _plausible(value):
            return value


def key_id() -> str:
    """A fresh AccessKey ID in the current shape: LTAI5t + 18 letters/digits."""
    return _random("LTAI5t", 18)


def key_secret() -> str:
    """A fresh 30-character AccessKey secret."""
    return _random("", 30)


def credentials(key: str | None = None, secret: str | None = None) -> tuple[str, str, str]:
    """An .env-style text with a fresh key pair, and the pair."""
    key, secret = key or key_id(), secret or key_secret()
    text = f"ALIBABA_CLOUD_ACCESS_KEY_ID={key}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n"
    return text, key, secret


_LOCATING = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR",
             "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE")


@pytest.fixture(autouse=True)
def _no_inherited_git_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run akscan in-process; a hook's GIT_DIR must not point it at another repository."""
    for name in _LOCATING:
        monkeypatch.delenv(name, raising=False)
    for name in [k for k in os.environ if k.startswith("PRE_COMMIT")]:
        monkeypatch.delenv(name, raising=False)


class Repo:
    """A git repository driven with the git binary, with fixed identities and dates."""

    def __init__(self, path: Path, bare: bool = False) -> None:
        self.path = path
        self._clock = 1_700_000_000
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", *(["--bare"] if bare else []))

    def env(self, author: str = "Alice Example") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GIT_") and not k.startswith("PRE_COMMIT")}
        date = f"@{self._clock} +0000"
        email = author.split()[0].lower() + "@example.test"
        env.update(GIT_AUTHOR_NAME=author, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=date,
                   GIT_COMMITTER_NAME=author, GIT_COMMITTER_EMAIL=email,
                   GIT_COMMITTER_DATE=date, GIT_CONFIG_NOSYSTEM="1",
                   # no personal git settings; HOME stays, for pip's configuration
                   GIT_CONFIG_GLOBAL=os.devnull)
        return env

    def git(self, *args: str, author: str = "Alice Example", stdin: bytes | None = None) -> str:
        command = ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
                   "-c", "tag.gpgsign=false", "-c", "core.autocrlf=false", *args]
        done = subprocess.run(command, cwd=self.path, env=self.env(author), input=stdin,
                              capture_output=True, check=False)
        assert done.returncode == 0, (command, done.stderr.decode(errors="replace"))
        return done.stdout.decode("utf-8", "replace").strip()

    def write(self, name: str | bytes, text: str | bytes) -> None:
        raw = os.fsencode(name) if isinstance(name, str) else name
        target = os.path.join(os.fsencode(self.path), raw)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(text.encode() if isinstance(text, str) else text)

    def commit(self, message: str, files: dict[str, str] | None = None,
               author: str = "Alice Example") -> str:
        """Write and stage `files`, commit everything staged (past any hook); the new sha."""
        for name, text in (files or {}).items():
            self.write(name, text)
            self.git("add", "--", name)
        self._clock += 60
        self.git("commit", "-q", "--no-verify", "--allow-empty", "-m", message, author=author)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    yield Repo(tmp_path / "repo")
