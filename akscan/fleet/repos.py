"""Which repositories a fleet scan covers, and where each one's objects are read from.

A local path (a work tree or a bare mirror) is read in place. A URL is cloned once as a bare
mirror into the cache and fetched on later runs; a failed clone leaves nothing behind, and a lock
per mirror lets several workers on one machine share a cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from akscan import git
from akscan.errors import AkscanError

DEFAULT_NETWORK_TIMEOUT = 600.0
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class RepoSpec:
    """One repository of the fleet: `name` as the user gave it (userinfo redacted), `location`
    what git is handed (a URL as given, or an absolute path), `key` its identity in the store."""

    name: str
    location: str
    remote: bool

    @property
    def key(self) -> str:
        return redact_url(self.location) if self.remote else self.location


def is_url(text: str) -> bool:
    return bool(_URL.match(text) or _SCP_LIKE.match(text))


def redact_url(url: str) -> str:
    """`https://user:token@host/x` as `https://***@host/x`: userinfo is never shown."""
    if not _URL.match(url):
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def redact_text(text: str, url: str) -> str:
    """`text` (say, git's error) with the userinfo of `url` hidden wherever it appears."""
    if _URL.match(url):
        netloc = urlsplit(url).netloc
        if "@" in netloc:
            text = text.replace(netloc.rpartition("@")[0], "***")
    return text


def spec_for(text: str) -> RepoSpec:
    if is_url(text):
        return RepoSpec(redact_url(text), text, True)
    return RepoSpec(text, os.path.abspath(text), False)


def read_list(path: str) -> list[str]:
    """Repositories named in a list file: one a line, `#` starts a comment."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise AkscanError(f"{path}: cannot read the repository list: {reason}") from None
    out = []
    for line in lines:
        entry = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if entry:
            out.append(entry)
    return out


def specs(arguments: Sequence[str], list_file: str | None) -> list[RepoSpec]:
    """Each repository once, in the order first named."""
    named = [*(read_list(list_file) if list_file else []), *arguments]
    seen: dict[str, RepoSpec] = {}
    for text in named:
        spec = spec_for(text)
        seen.setdefault(spec.key, spec)
    return list(seen.values())


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "akscan"


def mirror_path(cache: Path, spec: RepoSpec) -> Path:
    """A readable folder name for the mirror, unique per URL."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", spec.key.rstrip("/").rsplit("/", 1)[-1])[-40:]
    digest = hashlib.sha256(spec.location.encode("utf-8")).hexdigest()[:16]
    return cache / "mirrors" / f"{tail or 'repo'}-{digest}"


def open_spec(spec: RepoSpec, cache: Path, timeout: float = DEFAULT_NETWORK_TIMEOUT,
              fetch: bool = True) -> git.Repo:
    """The repository to read: the path itself, or the cache's mirror of the URL, cloned or
    (when `fetch`) brought up to date. AkscanError says why not, without the URL's userinfo."""
    if not spec.remote:
        return git.open_repo(spec.location, explicit=True)
    target = mirror_path(cache, spec)
    try:
        with _locked(target):
            if not (target / "HEAD").exists():
                _clone(spec, target, timeout)
            elif fetch:
                git.run_remote(str(target), ["fetch", "--prune", "--quiet", "origin"], timeout)
    except git.GitError as exc:
        raise AkscanError(redact_text(str(exc), spec.location)) from None
    except OSError as exc:
        raise AkscanError(f"{spec.name}: cache {target}: {exc.strerror or exc}") from None
    return git.open_repo(str(target), explicit=True)


def _clone(spec: RepoSpec, target: Path, timeout: float) -> None:
    """Clone into a scratch folder beside the target, then rename: never a half mirror."""
    scratch = Path(tempfile.mkdtemp(prefix=".clone-", dir=target.parent))
    try:
        git.run_remote(str(scratch), ["clone", "--mirror", "--quiet", "--", spec.location,
                                      str(scratch / "m")], timeout)
        os.replace(scratch / "m", target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold `target`'s lock file: one clone or fetch of a mirror at a time on this machine."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(f"{target}.lock", "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: git's own ref locks still protect the mirror
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
