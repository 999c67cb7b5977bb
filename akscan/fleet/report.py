"""Fleet reports, from the store's findings: JSON, text, and SARIF per repository.

Each finding carries `repository` and `present_at_head` in its origin; the JSON keeps the
history contract (one finding per location) and adds the `repositories` list and a
`credentials` view (one entry per secret with every place it was found). Nothing here scans.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from akscan.errors import AkscanError
from akscan.model import Finding
from akscan.report import ReportContext
from akscan.report.json_report import FORMAT_VERSION, finding_to_dict
from akscan.report.output import ReportFile

PRESENT = "present_at_head"
_ORIGIN = ("repository", "commit", "author", "email", "date")


@dataclass(frozen=True)
class RepoStatus:
    repository: str
    status: str  # scanned | failed | partial
    reason: str
    commits: int
    blobs: int


def origin(finding: Finding, key: str) -> str:
    return dict(finding.origin).get(key, "")


def present(finding: Finding) -> bool | None:
    value = origin(finding, PRESENT)
    return None if value in ("", "unknown") else value == "true"


def write_json(stream: TextIO, findings: Sequence[Finding], repositories: Sequence[RepoStatus],
               context: ReportContext) -> None:
    items = []
    for finding in findings:
        data = finding_to_dict(finding, context.show_secrets)
        data[PRESENT] = present(finding)
        items.append(data)
    document = {
        "version": FORMAT_VERSION,
        "tool": {"name": "akscan", "version": context.tool_version},
        "findings": items,
        "repositories": [_repo_dict(r) for r in repositories],
        "credentials": _credentials(findings),
    }
    json.dump(document, stream, indent=2, sort_keys=True, ensure_ascii=False)
    stream.write("\n")


def _repo_dict(repo: RepoStatus) -> dict[str, Any]:
    return {"repository": repo.repository, "status": repo.status, "reason": repo.reason,
            "commits": repo.commits, "blobs": repo.blobs}


def _credentials(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """One entry per secret: where it was found, where it first appeared, where it still is."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.secret_sha256, []).append(finding)
    out = []
    for sha, group in sorted(groups.items()):
        first = min(group, key=lambda f: (origin(f, "date"), origin(f, "commit")))
        out.append({
            "secret_sha256": sha, "kind": first.kind, "rule_id": first.rule_id,
            "redacted": first.redacted, "locations": len(group),
            "repositories": sorted({origin(f, "repository") for f in group}),
            "introduced": {**{k: origin(first, k) for k in _ORIGIN}, "path": first.path},
            "present_at_head_in": sorted({origin(f, "repository") for f in group
                                          if present(f)}),
        })
    return out


def write_text(stream: TextIO, findings: Sequence[Finding], repositories: Sequence[RepoStatus],
               context: ReportContext) -> None:
    """One block per credential, its locations beneath it; then repositories not scanned."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.secret_sha256, []).append(finding)
    for group in sorted(groups.values(), key=lambda g: (g[0].kind, g[0].secret_sha256)):
        head = group[0]
        shown = head.secret if context.show_secrets else head.redacted
        places = {origin(f, "repository") for f in group}
        status = f" [{head.validation.status.upper()}]" if head.validation else ""
        stream.write(f"{head.rule_id} {shown}{status}: {len(group)} location(s) in "
                     f"{len(places)} repositor{'y' if len(places) == 1 else 'ies'}\n")
        for f in sorted(group, key=lambda f: (origin(f, "repository"), origin(f, "date"))):
            still = {True: "still at HEAD", False: "gone from HEAD", None: ""}[present(f)]
            stream.write(f"    {_clean(origin(f, 'repository'))} {_clean(f.path)}:{f.line}"
                         f"  commit {origin(f, 'commit')[:12]} {origin(f, 'date')[:10]}"
                         f" {_clean(origin(f, 'author'))}{'  ' + still if still else ''}"
                         f"{'  suppressed (' + f.suppressed + ')' if f.suppressed else ''}\n")
    for repo in repositories:
        if repo.status != "scanned":
            stream.write(f"{repo.status}: {_clean(repo.repository)}: {_clean(repo.reason)}\n")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(text: str) -> str:
    """Control characters from repositories (paths, names) escaped before a terminal sees them."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def write_sarif_dir(folder: str, findings: Sequence[Finding],
                    repositories: Sequence[RepoStatus], context: ReportContext) -> list[str]:
    """One SARIF log per repository (each is uploaded to its own repository); the files."""
    from akscan.report.sarif import write

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise AkscanError(f"cannot create {folder}: {exc.strerror}") from None
    written = []
    with tempfile.TemporaryDirectory() as neutral:  # paths are relative to each repository
        for repo in repositories:
            mine = [f for f in findings if origin(f, "repository") == repo.repository]
            target = Path(folder) / f"{_file_name(repo.repository)}.sarif"
            ctx = ReportContext(tool_version=context.tool_version,
                                show_secrets=context.show_secrets, rules=context.rules,
                                command="fleet", sarif_category=context.sarif_category,
                                base_dir=neutral)
            # Whole or not at all, as every report: an upload never takes half a log.
            ReportFile(str(target), "SARIF").commit(functools.partial(_write_log, write, mine, ctx))
            written.append(str(target))
    return written


def _write_log(write: Callable[[TextIO, Sequence[Finding], ReportContext], None],
               findings: Sequence[Finding], context: ReportContext, stream: TextIO) -> None:
    write(stream, findings, context)


def _file_name(repository: str) -> str:
    import hashlib

    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", repository.rstrip("/").rsplit("/", 1)[-1])[-60:]
    digest = hashlib.sha256(repository.encode("utf-8")).hexdigest()[:8]
    return f"{tail.strip('.-') or 'repo'}-{digest}"
