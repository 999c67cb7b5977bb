"""`akscan baseline --import FILE`: keep the Alibaba findings another scanner had accepted.

Neither gitleaks nor detect-secrets stores what akscan's baseline needs (rule id, path, sha256 of
the secret), so the repository is scanned and each akscan finding is kept when the other tool's
file names it by what that file records (README, "Coming from gitleaks or detect-secrets"):

- a gitleaks JSON report (`gitleaks ... --report-format json`): an entry with its `Secret`
  (not `REDACTED`) matches a finding of that secret in that `File`; otherwise `File`, `StartLine`
  and, when both sides have one, `Commit`;
- a `.gitleaksignore`: each fingerprint, `commit:file:rule:line` or `file:rule:line`, matches
  findings at that file and line (and commit, when both have one), whatever the rule;
- a detect-secrets `.secrets.baseline`: `hashed_secret` is the SHA-1 of the secret, matched with
  `filename`; `filename` and `line_number` match too, when the secret was cut differently.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from akscan import userfile
from akscan.errors import AkscanError
from akscan.model import Finding
from akscan.terminal import escape_path

GITLEAKS_REPORT = "gitleaks report"
GITLEAKSIGNORE = ".gitleaksignore"
DETECT_SECRETS = "detect-secrets baseline"


class ForeignFileError(AkscanError):
    """A file to import that is not one of the formats akscan reads."""


@dataclass
class Accepted:
    """What another tool's file accepted, in the forms it can be matched on."""

    kind: str  # one of the format names above
    entries: int = 0
    # (path, sha256 of the secret): gitleaks reports with the secret
    secrets: set[tuple[str, str]] = field(default_factory=set)
    # (path, sha1 of the secret): detect-secrets
    sha1s: set[tuple[str, str]] = field(default_factory=set)
    # (path, line) -> commits ("" for any): gitleaks fingerprints and reports, detect-secrets
    places: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def add_place(self, path: str, line: int, commit: str = "") -> None:
        self.places.setdefault((path, line), set()).add(commit)

    def accepts(self, finding: Finding, path: str) -> bool:
        if (path, finding.secret_sha256) in self.secrets:
            return True
        if (path, hashlib.sha1(finding.secret.encode("utf-8")).hexdigest()) in self.sha1s:
            return True
        # A commit must agree only when both sides name one: a fingerprint taken from history
        # still names the line in a scan of the files.
        commit = dict(finding.origin).get("commit", "")
        return any(not c or not commit or c == commit
                   for c in self.places.get((path, finding.line), ()))

    def matched(self, findings: Sequence[Finding],
                rebase: Callable[[str], str] | None = None) -> list[Finding]:
        """The findings this file accepted, by their path as reported or, with `rebase`, as
        relative to the repository root (where the other tool most likely ran)."""
        return [f for f in findings if self.accepts(f, f.path)
                or (rebase is not None and self.accepts(f, rebase(f.path)))]


def load(path: str) -> Accepted:
    """The accepted findings of a gitleaks report, `.gitleaksignore` or `.secrets.baseline`."""
    text = userfile.read_text(path, "file to import")
    shown = escape_path(path)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = userfile.parse_json(text)
        except ValueError as exc:
            raise ForeignFileError(f"{shown}: invalid JSON: {exc}") from None
        if isinstance(data, list):
            return _gitleaks_report(data, shown)
        if isinstance(data, dict) and isinstance(data.get("results"), dict):
            return _detect_secrets(data["results"], shown)
        raise ForeignFileError(f"{shown}: not a gitleaks JSON report (a list of findings) nor a "
                           "detect-secrets baseline (an object with 'results')")
    return _gitleaksignore(text, shown)


def _gitleaks_report(data: list[Any], shown: str) -> Accepted:
    accepted = Accepted(GITLEAKS_REPORT)
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("File"), str):
            raise ForeignFileError(f"{shown}: entry {index}: expected a gitleaks finding with "
                                   "'File'")
        path = _relative(entry["File"])
        accepted.entries += 1
        secret = entry.get("Secret")
        if isinstance(secret, str) and secret and secret != "REDACTED":
            accepted.secrets.add((path, hashlib.sha256(secret.encode("utf-8")).hexdigest()))
        line = entry.get("StartLine")
        if isinstance(line, int) and not isinstance(line, bool):
            commit = entry.get("Commit") if isinstance(entry.get("Commit"), str) else ""
            accepted.add_place(path, line, commit or "")
    return accepted


def _gitleaksignore(text: str, shown: str) -> Accepted:
    accepted = Accepted(GITLEAKSIGNORE)
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # file names may hold ':'; the rule id and line number never do, nor does a commit id
        head, _, rest = line.partition(":")
        with_commit = len(head) in (40, 64) and all(c in "0123456789abcdef" for c in head)
        body = rest if with_commit else line
        parts = body.rsplit(":", 2)
        if len(parts) != 3 or not parts[2].isdigit() or not parts[0]:
            raise ForeignFileError(f"{shown}:{number}: expected a gitleaks fingerprint "
                               "(commit:file:rule:line or file:rule:line)")
        accepted.entries += 1
        accepted.add_place(_relative(parts[0]), int(parts[2]), head if with_commit else "")
    return accepted


def _detect_secrets(results: dict[str, Any], shown: str) -> Accepted:
    accepted = Accepted(DETECT_SECRETS)
    for filename, entries in results.items():
        if not isinstance(entries, list):
            raise ForeignFileError(f"{shown}: results[{filename!r}]: expected a list")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("hashed_secret"), str):
                raise ForeignFileError(f"{shown}: results[{filename!r}]: expected entries with "
                                   "'hashed_secret'")
            path = _relative(str(entry.get("filename", filename)))
            accepted.entries += 1
            accepted.sha1s.add((path, entry["hashed_secret"].lower()))
            line = entry.get("line_number")
            if isinstance(line, int) and not isinstance(line, bool):
                accepted.add_place(path, line)
    return accepted


def _relative(path: str) -> str:
    """A path as akscan reports it: forward slashes, no leading './'."""
    path = path.replace(os.sep, "/")
    while path.startswith("./"):
        path = path[2:]
    return path
