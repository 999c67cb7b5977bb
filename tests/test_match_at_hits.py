"""A rule whose every match starts at one of its keywords is tried only where they occur: it
must find exactly what running it over its windows finds (issue 14)."""

from __future__ import annotations

import random

from akscan.detect import reach
from akscan.detect.engine import Engine
from akscan.model import Fragment
from akscan.rules import builtin_rules_dir, load_rules
from tests.keys import random_secret
from tests.test_binary_windows import _pieces

RULES = load_rules([builtin_rules_dir()])
STARTING = [r for r in RULES if (bound := reach.bound(r)) is not None and bound.starts]
_TEXT_PIECES = [b"\n", b"  ", b"x = ", b"Secret", b"sEcReT_kEy: ", b"access_key_secret = ",
                b"client = AcsClient(id, ", b"Credential", b"NewAccessKeyCredential(",
                b"oss2.Auth(a, ", b"(", b")", b"f(x)", b", ", b'"', b"'", b"\xe4\xb8\xad"]


def _text(rng: random.Random) -> str:
    pieces = _pieces(rng)
    parts = []
    for _ in range(rng.randint(1, 120)):
        draw = rng.random()
        if draw < 0.1:  # a secret as a call's argument
            parts.append(rng.choice([b'"', b"'", b"`"]) + random_secret().encode() + b'"')
        else:
            parts.append(rng.choice(_TEXT_PIECES) if draw < 0.45 else rng.choice(pieces)())
    return b"".join(parts).decode("utf-8", "replace")


def test_the_rules_that_start_at_a_keyword_are_the_two_assignment_and_sdk_rules() -> None:
    assert {r.id for r in STARTING} == {"alibaba-access-key-secret",
                                         "alibaba-access-key-secret-sdk-call"}


def test_every_match_of_such_a_rule_starts_where_one_of_its_keywords_is_written() -> None:
    # What `starts` claims of each pattern, checked on texts made to hold its matches.
    rng = random.Random(20261207)
    seen = dict.fromkeys((r.id for r in STARTING), 0)
    for _ in range(6000):
        text = _text(rng)
        for rule in STARTING:
            written = [k.decode() for k in rule.cased_keywords] or None
            for match in rule.pattern.finditer(text):
                seen[rule.id] += 1
                if written is None:
                    assert any(text.lower().startswith(k.decode(), match.start())
                               for k in rule.keywords), (rule.id, match.group(0))
                else:
                    assert any(text.startswith(w, match.start()) for w in written), (
                        rule.id, match.group(0))
    assert min(seen.values()) > 50, seen  # the texts do hold matches of both


def test_trying_a_rule_only_at_its_keywords_finds_what_its_windows_find() -> None:
    rng = random.Random(7)
    at_hits, windows = Engine(RULES), Engine(RULES)
    windows.match_at_hits = False
    found = 0
    for n in range(3000):
        fragment = Fragment(f"f{n}.py", _text(rng))
        got = at_hits.scan(fragment).findings
        want = windows.scan(fragment).findings
        assert got == want
        found += len(got)
    assert found > 200
