"""Baselines: the findings a repository already had, so that only new ones are reported.

A baseline is a file users commit, so its format is a public interface (see README, "Baseline"):
`{"version": 1, "findings": [{"rule_id", "path", "secret_sha256"}, ...]}`, sorted and indented
for readable diffs. It names secrets by fingerprint only, and never by line: moving a key within
a file does not make it new, while the same key in another file or under another rule does.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from akscan import userfile
from akscan.errors import AkscanError
from akscan.model import Finding

VERSION = 1
DEFAULT_NAME = ".akscan-baseline.json"
SUPPRESSED_REASON = "baseline"
_KEYS = ("rule_id", "path", "secret_sha256")

Fingerprint = tuple[str, str, str]  # rule id, path, sha256 of the secret


class Baseline(NamedTuple):
    """The fingerprints of a baseline file, whose paths are relative to `anchor` (the root of
    the repository holding the file), wherever a later scan starts (issue 11)."""

    fingerprints: frozenset[Fingerprint]
    anchor: str


class BaselineError(AkscanError):
    """A baseline file that cannot be read or is not in a format this akscan knows."""


def fingerprint(finding: Finding) -> Fingerprint:
    return (finding.rule_id, finding.path, finding.secret_sha256)


def anchored(path: str, base_dir: str | None, anchor: str | None) -> str:
    """A finding's path (relative to `base_dir`) as a path relative to `anchor`; unchanged
    without both (findings of several repositories have no common base). Textual: display
    paths may hold escapes and archive members (`a.zip!conf/.env`); only the two folders are
    resolved on disk."""
    if anchor is None or base_dir is None:
        return path
    base = _real(base_dir)
    full = os.path.normpath(os.path.join(base, path))
    return os.path.relpath(full, _real(anchor)).replace(os.sep, "/")


@functools.lru_cache(maxsize=64)
def _real(folder: str) -> str:
    return os.path.realpath(folder)


def render(findings: Iterable[Finding], base_dir: str | None = None,
           anchor: str | None = None) -> str:
    """The baseline document for `findings` (suppressed ones included if given), with paths
    relative to `anchor`."""
    # Sorted by path first, so that a file's entries sit together in a diff; the version first.
    keys = sorted({(anchored(f.path, base_dir, anchor), f.rule_id, f.secret_sha256)
                   for f in findings})
    entries = [{"path": p, "rule_id": r, "secret_sha256": s} for p, r, s in keys]
    return json.dumps({"version": VERSION, "findings": entries}, indent=2) + "\n"


def load(path: Path, anchor: str | None = None) -> Baseline:
    """The baseline at `path`, its entries relative to `anchor` (default: its own folder)."""
    text = userfile.read_text(path, "baseline")
    try:
        data = userfile.parse_json(text)
    except ValueError as exc:
        raise BaselineError(f"{path}: not a baseline (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or "version" not in data:
        raise BaselineError(f"{path}: not an akscan baseline (no 'version')")
    if data["version"] != VERSION:
        raise BaselineError(f"{path}: baseline version {data['version']!r} is not supported "
                            f"(this akscan reads version {VERSION}); regenerate it with "
                            "'akscan baseline'")
    entries = data.get("findings")
    if not isinstance(entries, list):
        raise BaselineError(f"{path}: field 'findings': expected a list")
    known: set[Fingerprint] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in _KEYS):
            raise BaselineError(f"{path}: findings[{index}]: expected an object with string "
                                f"fields {', '.join(_KEYS)}")
        known.add((entry["rule_id"], entry["path"], entry["secret_sha256"]))
    return Baseline(frozenset(known), anchor or os.path.dirname(os.path.abspath(path)))


def apply(findings: Sequence[Finding], known: Baseline,
          base_dir: str | None = None) -> list[Finding]:
    """Mark findings the baseline already holds as suppressed (reason 'baseline'); finding
    paths are relative to `base_dir`."""
    return [
        dataclasses.replace(f, suppressed=SUPPRESSED_REASON)
        if not f.suppressed and (f.rule_id, anchored(f.path, base_dir, known.anchor),
                                 f.secret_sha256) in known.fingerprints else f
        for f in findings
    ]
