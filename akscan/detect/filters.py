"""Cheap tests that drop matches which are not real credentials."""

from __future__ import annotations

import math
from collections import Counter

from akscan import lazyre

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


# --- placeholders, judged by the whole value's shape ---------------------------------------------
#
# Short filler (xxxx, four equal characters, your, fake, abcd) occurs by chance inside random keys
# (one random ID in about 10,000 held one): a placeholder is a value that filler, words and
# sequences make up for the most part, not one that holds a bit of it somewhere (issue 15).

# Documentation markers long enough never to occur by chance in a random key (a five-letter word
# at one place in about 10^6 keys, a seven-letter one in 10^9): anywhere in a value, they mark it.
_MARKER = lazyre.compile(r"(?i)example|sample|placeholder|dummy|redacted|changeme|replace")
# The fixed start of a credential format: not part of what is judged.
_FORMAT_PREFIX = lazyre.compile(r"LTAI|STS\.|CAIS")
# Words that placeholders are written with (yourAccessKeyIdHere, fake_secret_key, test-key-0001).
_WORDS = lazyre.compile(
    r"(?i)access|secret|token|your|fake|test|demo|here|goes|mock|key|ram|sts|oss|my|id"
)
# Masking: the end (or start) of a value replaced by four x, X or * (in one case: xXxX is chance).
_MASKED = lazyre.compile(r"^(?:x{4}|X{4}|\*{4})|(?:x{4}|X{4}|\*{4})$")
_FILLER_SHARE = 0.5  # more than this share of a value made of filler makes it a placeholder
_LONG_RUN = 6  # one character this many times in a row: chance once in 10^8 keys


def placeholder_shape(value: str) -> bool:
    """Whether a value is a placeholder by its shape: a documentation marker anywhere, a masked
    end, a character repeated `_LONG_RUN` times, or mostly made of filler (runs of one
    character, ascending or descending sequences such as abcd or 4321, placeholder words)."""
    if _MARKER.search(value):
        return True
    prefix = _FORMAT_PREFIX.match(value)
    body = value[prefix.end():] if prefix else value
    if len(body) < 4:
        return False
    if _MASKED.search(body):
        return True
    covered = bytearray(len(body))
    lowered = body.lower()
    for match in _WORDS.finditer(lowered):
        covered[match.start():match.end()] = b"\1" * (match.end() - match.start())
    start = 0
    for i in range(1, len(lowered) + 1):
        if i < len(lowered) and lowered[i] == lowered[i - 1]:
            continue
        if i - start >= _LONG_RUN and len(set(body[start:i])) == 1:
            return True  # in one case: hhhHHH is chance
        if i - start >= 3:
            covered[start:i] = b"\1" * (i - start)
        start = i
    for step in (1, -1):
        start = 0
        for i in range(1, len(lowered) + 1):
            if i < len(lowered) and ord(lowered[i]) - ord(lowered[i - 1]) == step \
                    and lowered[i].isalnum():
                continue
            if i - start >= 4:
                covered[start:i] = b"\1" * (i - start)
            start = i
    return sum(covered) > _FILLER_SHARE * len(body)
