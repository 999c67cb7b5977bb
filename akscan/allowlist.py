"""Suppression by configuration: path globs, rule ids and secret fingerprints."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from akscan.baseline import anchored
from akscan.config import Allowlist
from akscan.model import Finding


class AllowlistFilter:
    """`paths` globs are relative to `anchor` (the settings' repository root); finding paths
    to `base_dir`. Without both they are compared as they are."""

    def __init__(self, allowlist: Allowlist, anchor: str | None = None,
                 base_dir: str | None = None) -> None:
        self._anchor = anchor
        self._base_dir = base_dir
        paths = allowlist.paths
        if paths:
            import pathspec  # only then: importing it costs a commit hook 10 ms (issue 14)
        self._paths = pathspec.GitIgnoreSpec.from_lines(paths) if paths else None
        self._rules = frozenset(allowlist.rules)
        self._fingerprints = frozenset(allowlist.fingerprints)

    def reason(self, finding: Finding) -> str | None:
        if finding.rule_id in self._rules:
            return f"allowlisted rule '{finding.rule_id}'"
        if finding.secret_sha256 in self._fingerprints:
            return "allowlisted fingerprint"
        if self._paths is not None:
            path = anchored(finding.path, self._base_dir, self._anchor)
            # A settings file speaks for its own repository only, not for files outside it.
            if not path.startswith("../") and self._paths.match_file(path):
                return "allowlisted path"
        return None

    def apply(self, findings: Iterable[Finding]) -> list[Finding]:
        """Mark findings the configuration allows; inline suppressions are kept as they are."""
        out = []
        for finding in findings:
            reason = None if finding.suppressed else self.reason(finding)
            out.append(dataclasses.replace(finding, suppressed=reason) if reason else finding)
        return out
