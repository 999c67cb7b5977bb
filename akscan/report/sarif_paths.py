"""Where results point: URIs relative to the root of the repository that was scanned.

GitHub resolves result URIs against the root of the checkout (`%SRCROOT%`), whatever directory
akscan was pointed at, so `akscan scan src` and `akscan scan .` must name a file the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import sarif_om as om

from akscan.terminal import path_to_bytes

SRCROOT = "%SRCROOT%"


class SourcePaths:
    """Finding paths (relative to `base`) as URIs relative to the repository root."""

    def __init__(self, base: str) -> None:
        self.base = Path(base).resolve()
        self.root = source_root(self.base)
        uri = self.root.as_uri()
        self.root_uri = uri if uri.endswith("/") else f"{uri}/"

    def relative(self, path: str) -> str | None:
        full = os.path.normpath(self.base / path)
        relative = os.path.relpath(full, self.root)
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):
            return None
        return relative.replace(os.sep, "/")

    def display(self, path: str) -> str:
        """The path as shown to users: relative to the root, or as found outside it."""
        relative = self.relative(path)
        return relative if relative is not None else os.path.normpath(self.base / path)

    def member(self, path: str) -> tuple[str, str | None]:
        """(archive, member) of a path inside an archive (`outer.zip!inner/a.properties`),
        else (path, None)."""
        archive, sep, member = path.partition("!")
        if sep and os.path.isfile(self.base / archive):
            return archive, member
        return path, None

    def location(self, path: str, line: int, column: int, end_line: int | None = None,
                 end_column: int | None = None) -> om.PhysicalLocation:
        path, member = self.member(path)
        relative = self.relative(path)
        if relative is None:  # outside the repository: an absolute file URI, without a base
            artifact = om.ArtifactLocation(uri=Path(self.base / path).resolve().as_uri())
        else:
            # The file's real name (escapes undone), percent-encoded.
            artifact = om.ArtifactLocation(uri=quote(path_to_bytes(relative)),
                                           uri_base_id=SRCROOT)
        if member is not None:
            # Lines of a member are no lines of the archive file, but GitHub shows no alert
            # without region.startLine (GH1003): point at line 1 of the archive; the member and
            # its line are in the message and the result's properties.
            return om.PhysicalLocation(artifact_location=artifact, region=om.Region(start_line=1))
        region = om.Region(start_line=line, start_column=column, end_line=end_line,
                           end_column=end_column)
        return om.PhysicalLocation(artifact_location=artifact, region=region)


def source_root(base: Path) -> Path:
    """The git repository `base` is in; else the current directory if it holds `base`; else base.

    GitHub resolves result URIs against the root of the checkout, whatever directory was scanned.
    """
    if _is_bare_repository(base):  # a mirror's history: paths are from its root
        return base
    for candidate in (base, *base.parents):
        if (candidate / ".git").exists():
            return candidate
    cwd = Path.cwd().resolve()
    return cwd if cwd == base or cwd in base.parents else base


def _is_bare_repository(path: Path) -> bool:
    """A bare repository's folder (`mirror.git`): HEAD, objects/ and refs/, no work tree."""
    return ((path / "HEAD").is_file() and (path / "objects").is_dir()
            and (path / "refs").is_dir())
