"""Random, never-real Alibaba Cloud keys in the real shapes, made fresh for every test run."""

from __future__ import annotations

import re
import secrets
import string

_ALNUM = string.ascii_letters + string.digits
# What the rules' placeholder filters drop: filler words, repeats, sequential runs.
_FILLER = re.compile(r"(?i)example|sample|your|fake|dummy|xxxx|placeholder|redacted|changeme"
                     r"|replace|(.)\1{3}")
_RUNS = (string.ascii_lowercase, string.digits, string.digits[::-1])


def random_alnum(length: int) -> str:
    """Letters and digits (upper, lower and at least two digits) that no filter takes as filler."""
    while True:
        value = "".join(secrets.choice(_ALNUM) for _ in range(length))
        lowered = value.lower()
        sequential = any(run[i:i + 5] in lowered for run in _RUNS for i in range(len(run) - 4))
        classes = (any(c.isupper() for c in value), any(c.islower() for c in value),
                   sum(c.isdigit() for c in value) >= 2)
        if all(classes) and not sequential and not _FILLER.search(value):
            return value


def new_key() -> tuple[str, str]:
    """An AccessKey ID (`LTAI5t` + 18) and secret (30), random letters and digits."""
    return "LTAI5t" + random_alnum(18), random_alnum(30)


def env_file(key_id: str, secret: str) -> str:
    return f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n"
