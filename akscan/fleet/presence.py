"""Which credentials are still in the files of a repository's default branch head.

Only the files at the paths where something was ever found are read, so the cost is bounded by
the findings, not by the repository; each is scanned with the same engine as the history, so a
key that is encoded or inside an archive is recognised the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from akscan import git
from akscan.detect.engine import Engine
from akscan.pipeline.content import scan_bytes
from akscan.sources import archives
from akscan.sources.git_log import display


def present_at_head(repo: git.Repo, head: str, paths: Iterable[str], engine: Engine,
                    max_size: int) -> dict[str, list[str]]:
    """Finding path -> fingerprints found there at `head` (archive members as `a.zip!m`)."""
    wanted = {path.partition("!")[0] for path in paths}
    if not wanted:
        return {}
    blobs = {}
    with git.Process(repo, ["ls-tree", "-r", "-z", "--full-tree", head]) as listing:
        for entry in git.nul_fields(listing.stdout):
            meta, _, raw = entry.partition(b"\t")
            parts = meta.split()
            path = display(raw)
            if len(parts) == 3 and parts[1] == b"blob" and path in wanted:
                blobs[parts[2].decode("ascii")] = path
    small = [oid for oid, kind, size in git.object_sizes(repo, list(blobs))
             if kind == "blob" and size <= max_size]
    present: dict[str, list[str]] = {path: [] for path in wanted}
    limits = archives.Limits(max_member=max_size)
    for oid, data in git.object_contents(repo, small):
        for finding in scan_bytes(data, blobs[oid], engine, limits=limits).findings:
            present.setdefault(finding.path, []).append(finding.secret_sha256)
    return present
