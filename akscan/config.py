"""Settings from `.akscan.toml` or `[tool.akscan]` in `pyproject.toml`, merged with the CLI."""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

from akscan import userfile
from akscan.errors import ConfigError
from akscan.terminal import escape_path

CONFIG_FILE = ".akscan.toml"
DEFAULT_MAX_FILE_SIZE = 50 * 1024 * 1024
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_KEYS = frozenset({
    "rules", "disable", "exclude", "max_file_size", "jobs", "regex_timeout", "gitignore",
    "allowlist",
})
_ALLOW_KEYS = frozenset({"paths", "rules", "fingerprints"})
_CONFIG_LIMIT = 4 * 1024 * 1024  # far above any real settings file


# NamedTuples, not dataclasses: a tenth of the cost to define at every start (issue 14).
class Allowlist(NamedTuple):
    paths: tuple[str, ...] = ()  # gitignore-style globs, relative to the settings file's folder
    rules: tuple[str, ...] = ()
    fingerprints: tuple[str, ...] = ()  # sha256 of the secret (secret_sha256)


NO_ALLOWLIST = Allowlist()


class Config(NamedTuple):
    """The settings of a scan: a settings file's, or the defaults."""

    source: str | None = None  # the file these settings came from, for messages
    # The folder allowlist paths (and rule files) are relative to: the settings file's own.
    anchor: str | None = None
    rules: tuple[Path, ...] = ()
    disable: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    jobs: int = os.cpu_count() or 1
    regex_timeout: float = 10.0
    gitignore: bool = True
    allowlist: Allowlist = NO_ALLOWLIST


@functools.lru_cache(maxsize=1)
def _size_pattern() -> Any:
    import regex  # when a size is given: not at every start (issue 14)

    return regex.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*")


def parse_size(text: str | int) -> int:
    """'10MB', '512k', '1.5 GiB' or a number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    match = _size_pattern().fullmatch(str(text))
    if not match:
        raise ConfigError(f"invalid size {text!r}: use bytes or a number with k, MB, GiB")
    size = int(float(match.group(1)) * _UNITS[(match.group(2) or "")[:1].lower()])
    if size <= 0:
        raise ConfigError(f"invalid size {text!r}: must be more than zero")
    return size


def search_dirs(start: Path) -> list[Path]:
    """Where settings and a baseline for `start` are looked for: `start`, then its parents up
    to the root of the git work tree holding it (a folder with `.git`). Outside a work tree,
    up to the current directory if `start` is inside it, else `start` alone. So scanning
    project B from inside project A applies B's settings, never A's (issue 11)."""
    start = Path(os.path.abspath(start))
    chain = [start, *start.parents]
    for index, folder in enumerate(chain):
        if os.path.lexists(folder / ".git"):
            return chain[:index + 1]
    cwd = Path(os.path.abspath(os.curdir))
    return chain[:chain.index(cwd) + 1] if cwd in chain else [start]


def find_config(places: list[Path]) -> Path | None:
    """The first `.akscan.toml`, or `pyproject.toml` with a [tool.akscan] table, found from each
    of `places` up to its repository root (see `search_dirs`)."""
    for place in places:
        for folder in search_dirs(place):
            candidate = folder / CONFIG_FILE
            if candidate.is_file():
                return candidate
            pyproject = folder / "pyproject.toml"
            if pyproject.is_file() and "[tool.akscan" in _read(pyproject):
                return pyproject
    return None


def load_config(path: Path) -> Config:
    from akscan import toml  # only when there are settings to read (issue 14)

    try:
        data = toml.loads(_read(path))
    except toml.TOMLDecodeError as exc:
        raise ConfigError(f"{escape_path(str(path))}: invalid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("akscan", {})
    return _parse(path, data)


def _read(path: Path) -> str:
    return userfile.read_text(path, "configuration", _CONFIG_LIMIT)


def _parse(path: Path, data: dict[str, Any]) -> Config:
    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{escape_path(str(path))}: field '{key}': {problem}")

    def strings(table: dict[str, Any], key: str, prefix: str = "") -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(prefix + key, "expected a list of strings")
        return tuple(value)

    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown setting (known: {', '.join(sorted(_KEYS))})")
    allow = data.get("allowlist", {})
    if not isinstance(allow, dict):
        raise fail("allowlist", "expected a table")
    unknown = sorted(set(allow) - _ALLOW_KEYS)
    if unknown:
        raise fail(f"allowlist.{unknown[0]}", "unknown setting (known: paths, rules, fingerprints)")
    fingerprints = strings(allow, "fingerprints", "allowlist.")
    import regex

    from akscan.redaction import redact_credentials  # both only when settings are read

    bad = [f for f in fingerprints if not regex.fullmatch(r"[0-9a-f]{64}", f)]
    if bad:
        # A secret pasted here by mistake must not be echoed back (issue 15).
        raise fail("allowlist.fingerprints", f"{redact_credentials(repr(bad[0]))} is not a "
                   "sha256 hex digest (akscan prints them as secret_sha256; never put the secret "
                   "itself here)")
    defaults = Config()
    try:
        max_size = parse_size(data.get("max_file_size", defaults.max_file_size))
    except ConfigError as exc:
        raise fail("max_file_size", str(exc)) from None
    jobs = data.get("jobs", defaults.jobs)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise fail("jobs", "expected a whole number of at least 1")
    timeout = data.get("regex_timeout", defaults.regex_timeout)
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout) or timeout <= 0):
        raise fail("regex_timeout", "expected a finite number of seconds above 0")
    gitignore = data.get("gitignore", True)
    if not isinstance(gitignore, bool):
        raise fail("gitignore", "expected true or false")
    return Config(
        source=str(path),
        anchor=os.path.dirname(os.path.abspath(path)),
        rules=tuple(path.parent / p for p in strings(data, "rules")),
        disable=strings(data, "disable"),
        exclude=strings(data, "exclude"),
        max_file_size=max_size,
        jobs=jobs,
        regex_timeout=float(timeout),
        gitignore=gitignore,
        allowlist=Allowlist(
            paths=strings(allow, "paths", "allowlist."),
            rules=strings(allow, "rules", "allowlist."),
            fingerprints=fingerprints,
        ),
    )
