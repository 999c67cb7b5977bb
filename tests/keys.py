"""Synthetic, random Alibaba Cloud-shaped credentials, made fresh for every test.

Nothing here is a real key: IDs and secrets are random letters and digits in the real shape,
checked against the filler that akscan rightly treats as a placeholder (xxxx, runs such as
abcde or 12345, four identical characters, words such as example or dummy).
"""

from __future__ import annotations

import random
import re
import string

_RNG = random.SystemRandom()
_ALNUM = string.ascii_letters + string.digits
_PLACEHOLDER = re.compile(
    r"(?i)x{4}|example|sample|placeholder|dummy|redacted|changeme|replace|your|fake"
    r"|(.)\1{3}"
)
_IDENTIFIER = re.compile(r"^(?:[A-Z]?[a-z]{2,})+[0-9]{0,3}$")


def _has_run(value: str, length: int = 5) -> bool:
    """A run of `length` consecutive ascending or descending letters or digits."""
    for alphabet in (string.ascii_lowercase, string.digits):
        for seq in (alphabet, alphabet[::-1]):
            for i in range(len(seq) - length + 1):
                if seq[i:i + length] in value.lower():
                    return True
    return False


def is_plausible(value: str) -> bool:
    """True when akscan should treat `value` as a real-looking key, not filler."""
    return not (_PLACEHOLDER.search(value) or _has_run(value) or _IDENTIFIER.match(value))


def _random(prefix: str, length: int) -> str:
    while True:
        value = prefix + "".join(_RNG.choice(_ALNUM) for _ in range(length))
        tail = value[len(prefix):]
        classes = (any(c.isupper() for c in tail) + any(c.islower() for c in tail)
                   + any(c.isdigit() for c in tail))
        if classes == 3 and len(set(tail)) >= length * 0.6 and is_plausible(value):
            return value


def random_id() -> str:
    """A current-style AccessKey ID: 'LTAI5t' and 18 random letters and digits."""
    return _random("LTAI5t", 18)


def random_secret() -> str:
    """An AccessKey secret: 30 letters and digits with upper case, lower case and digits."""
    return _random("", 30)


def random_sts_id() -> str:
    """An STS temporary AccessKey ID: 'STS.' and 25 random letters and digits."""
    return _random("STS.", 25)


def random_token(length: int = 24) -> str:
    """Random letters and digits, for custom rules and filler that must not look like filler."""
    return _random("", length)


def new_key() -> tuple[str, str]:
    """An AccessKey ID and its secret."""
    return random_id(), random_secret()


def env_file(key_id: str, secret: str) -> str:
    """A `.env` file holding the pair under the SDK's environment variable names."""
    return f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n"
