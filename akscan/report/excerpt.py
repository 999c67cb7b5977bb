"""The line a credential was found on, with every secret in it masked, for people to read.

The engine keeps each finding's line (clipped to a few hundred characters around the match).
Masking covers the secret as written, its partner on the same line, an encoded secret by its
columns (base64 of a secret is the secret), and, as a last guard, anything shaped like an
AccessKey ID: a line is shown to help recognise the place, never to hand over a key.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from akscan.model import Finding
from akscan.terminal import escape

_CLIP = 400  # the engine's excerpt limit (akscan.detect.engine._LINE_TEXT_LIMIT)


@functools.lru_cache(maxsize=1)
def _id_shaped() -> Any:
    import regex  # when a finding is shown: a clean commit's report needs none (issue 14)

    return regex.compile(r"\b(?:LTAI|STS\.)[A-Za-z0-9]{8,}")


MASK = "•"


def printable(text: str) -> str:
    """File-derived text safe on one line of a terminal: control characters become \\xNN."""
    # The shared convention (akscan.terminal): C1 controls and bidi overrides are escaped too.
    return escape(text.replace("\t", " "))


class Excerpts:
    """Masked lines for the findings of one report."""

    def __init__(self, findings: Iterable[Finding], show_secrets: bool = False) -> None:
        self._show = show_secrets
        self._redacted: dict[str, str] = {}
        self._on_line: dict[tuple[str, int, tuple[tuple[str, str], ...]], list[Finding]] = {}
        for finding in findings:
            self._redacted[finding.secret] = finding.redacted
            key = (finding.path, finding.line, finding.origin)
            self._on_line.setdefault(key, []).append(finding)

    def line(self, finding: Finding) -> str:
        """The finding's line, trimmed, printable, secrets masked unless --show-secrets."""
        text = finding.line_text
        if self._show:
            return printable(text.strip())
        chars = list(text)
        neighbours = self._on_line.get((finding.path, finding.line, finding.origin), [finding])
        # Where the engine clipped the line is not recorded: mask for both possible offsets.
        starts = {0, max(0, finding.column - 1 - _CLIP // 2)} if len(text) >= _CLIP // 2 else {0}
        for other in {id(f): f for f in [finding, *neighbours]}.values():
            if not other.decoded:
                continue
            for start in starts:
                begin = other.column - 1 - start
                end = other.end_column - 1 - start if other.end_line == other.line else len(chars)
                for i in range(max(begin, 0), min(end, len(chars))):
                    chars[i] = MASK
        text = "".join(chars)
        for secret in sorted(self._redacted, key=len, reverse=True):
            if secret and secret in text:
                text = text.replace(secret, self._redacted[secret])
        text = _id_shaped().sub(lambda m: f"{m.group()[:6]}…", text)
        return printable(text.strip())
