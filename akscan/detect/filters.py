"""Cheap tests that drop matches which are not real credentials."""

from __future__ import annotations

import math
from collections import Counter

# Markers users put on a line to say "this is not a secret". gitleaks' and detect-secrets'
# markers are honoured, and TruffleHog's and Kingfisher's (issue 13), so that a repository can
# move to akscan without touching its code.
INLINE_ALLOW = ("akscan:allow", "gitleaks:allow", "pragma: allowlist secret",
                "trufflehog:ignore", "kingfisher:ignore")
NEXTLINE_ALLOW = ("akscan:allow-next-line", "pragma: allowlist nextline secret")
# Every inline suppression reason starts so; reports tell them from allowlist reasons by it.
_INLINE_PREFIX = "inline "


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of upper case, lower case and digits occur."""
    return (
        any(c.isupper() for c in value)
        + any(c.islower() for c in value)
        + any(c.isdigit() for c in value)
    )


def inline_allow_reason(line: str, previous_line: str) -> str | None:
    for marker in INLINE_ALLOW:
        if marker in line:
            return f"{_INLINE_PREFIX}'{marker}'"
    for marker in NEXTLINE_ALLOW:
        if marker in previous_line:
            return f"{_INLINE_PREFIX}'{marker}' on the line above"
    return None


def is_inline_reason(reason: str) -> bool:
    """Whether a suppression reason came from a comment in the file, not from the configuration."""
    return reason.startswith(_INLINE_PREFIX)
