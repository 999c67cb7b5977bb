"""Real git repositories in tmp_path, driven with the git binary, for the history tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from keys import random_id, random_secret


def credentials(key: str | None = None, secret: str | None = None) -> tuple[str, str, str]:
    """An .env-style text with a fresh key pair, and the pair."""
    key, secret = key or random_id(), secret or random_secret()
    text = f"ALIBABA_CLOUD_ACCESS_KEY_ID={key}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n"
    return text, key, secret


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
