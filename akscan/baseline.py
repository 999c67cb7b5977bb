"""Baselines: the findings a repository already had, so that only new ones are reported.

A baseline is a file users commit, so its format is a public interface (see README, "Baseline"):
`{"version": 1, "findings": [{"rule_id", "path", "secret_sha256"}, ...]}`, sorted and indented
for readable diffs. It names secrets by fingerprint only, and never by line: moving a key within
a file does not make it new, while the same key in another file or under another rule does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from akscan import userfile
from akscan.errors import AkscanError
from akscan.model import Finding

VERSION = 1
DEFAULT_NAME = ".akscan-baseline.json"
SUPPRESSED_REASON = "baseline"
_KEYS = ("rule_id", "path", "secret_sha256")

Fingerprint = tuple[str, str, str]  # rule id, path, sha256 of the secret


class BaselineError(AkscanError):
    """A baseline file that cannot be read or is not in a format this akscan knows."""


def fingerprint(finding: Finding) -> Fingerprint:
    return (finding.rule_id, finding.path, finding.secret_sha256)


def render(findings: Iterable[Finding]) -> str:
    """The baseline document for `findings` (suppressed ones included if given)."""
    # Sorted by path first, so that a file's entries sit together in a diff; the version first.
    keys = sorted({(f.path, f.rule_id, f.secret_sha256) for f in findings})
    entries = [{"path": p, "rule_id": r, "secret_sha256": s} for p, r, s in keys]
    return json.dumps({"version": VERSION, "findings": entries}, indent=2) + "\n"


def load(path: Path) -> frozenset[Fingerprint]:
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
    return frozenset(known)


def apply(findings: Sequence[Finding], known: frozenset[Fingerprint]) -> list[Finding]:
    """Mark findings the baseline already holds as suppressed (reason 'baseline')."""
    return [
        dataclasses.replace(f, suppressed=SUPPRESSED_REASON)
        if not f.suppressed and fingerprint(f) in known else f
        for f in findings
    ]
