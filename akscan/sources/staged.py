"""The staged (index) version of files: what `git commit` is about to record.

The index is the truth at commit time, not the working tree: a key staged and then deleted from
the file is still committed, and a key only in the working tree is not.
"""

from __future__ import annotations

from collections.abc import Sequence

from akscan import git
from akscan.terminal import path_from_bytes

# A submodule entry (git_log.GITLINK_MODE; not imported from there, to keep a commit hook's
# start-up to the modules it runs: issue 14).
GITLINK_MODE = "160000"


def staged_blobs(repo: git.Repo, files: Sequence[str], notes: list[str]) -> list[tuple[bytes, str]]:
    """(path from the repository root, blob id) of `files` in the index, or of every staged
    change when no files are named."""
    if not files:
        out = git.run(repo.cwd, ["diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames",
                                 "--no-ext-diff", "--ignore-submodules=none"], env=repo.env)
        return _from_raw_diff(out.split(b"\0"))
    out = git.run(repo.cwd, ["--literal-pathspecs", "ls-files", "--stage", "-z", "--full-name",
                             "--", *files], env=repo.env)
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        info, path = record.split(b"\t", 1)
        mode, oid, stage = info.decode("ascii").split()
        if stage != "0":
            notes.append(f"{path_from_bytes(path)}: unmerged, not scanned "
                         "until the conflict is resolved")
        elif mode != GITLINK_MODE:
            entries.append((path, oid))
    return entries


def _from_raw_diff(fields: list[bytes]) -> list[tuple[bytes, str]]:
    entries = []
    tokens = iter(fields)
    for header in tokens:
        if not header.startswith(b":"):
            continue
        path = next(tokens, b"")
        _old_mode, mode, _old, oid, _status = header[1:].decode("ascii").split(" ")
        if not git.is_null(oid) and mode != GITLINK_MODE:
            entries.append((path, oid))
    return entries
