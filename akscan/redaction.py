"""Redacting credential-shaped text in messages that quote user input (issue 15).

An error that quotes a line of a file or a value of a setting may be quoting a secret the user
pasted in the wrong place. `redact_credentials` keeps such messages useful (the start and end of
the value, enough to find it again) without printing anything that could authenticate.
"""

from __future__ import annotations

import regex

# Maximal runs of the characters keys, secrets and tokens are made of; each run is then judged
# whole, so the cost stays linear in the message's length.
# `=` only as base64 padding at the end, so `NAME=value` keeps its name readable.
_RUN = regex.compile(r"(?<![A-Za-z0-9+/_-])(?:STS\.)?[A-Za-z0-9+/_-]{8,}=*")
_SECRET_LENGTH = 20


def _looks_like_credential(value: str) -> bool:
    if value.startswith(("LTAI", "STS.")) and len(value) >= 12:
        return True  # an AccessKey ID (permanent or STS), whatever follows
    # A secret or a token: long, mixing upper case, lower case and digits. Hex digests (sha256
    # fingerprints) and ordinary words and paths stay readable.
    return (len(value) >= _SECRET_LENGTH and any(c.isdigit() for c in value)
            and any(c.islower() for c in value) and any(c.isupper() for c in value))


def _redacted(value: str) -> str:
    head = 6 if value.startswith(("LTAI", "STS.")) else 2
    return f"{value[:head]}…{value[-2:]} (redacted)"


def redact_credentials(text: str) -> str:
    """`text` with every credential-shaped value cut to its first and last characters."""
    return _RUN.sub(lambda m: _redacted(m.group()) if _looks_like_credential(m.group())
                    else m.group(), text)
