"""The batched keyword prefilter must choose exactly the rules the per-content one does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from akscan.detect.engine import Engine
from akscan.rules import builtin_rules_dir, load_rules

ENGINE = Engine(load_rules([builtin_rules_dir()]))
# Keywords cut into pieces and mixed with filler, so that contents hold whole keywords, keywords
# in another case, and halves that only a join could glue together.
_PIECES = st.sampled_from([
    b"LTAI", b"ltai", b"lt", b"ai", b"Secret", b"SECRET", b"sec", b"ret", b"AcsClient",
    b"acs", b"client", b"sts.", b"STS", b".", b"CAIS", b"ca", b"is", b"credential", b"\0",
    b"\xff\xfe", b"x", b"\n", b"oss.New(", b"auth(",
])
_CONTENT = st.lists(_PIECES, max_size=12).map(b"".join)


@given(st.lists(_CONTENT, min_size=1, max_size=20))
def test_rules_for_each_matches_rules_for(contents: list[bytes]) -> None:
    expected = [[r.id for r in ENGINE.rules_for(c.lower())] for c in contents]
    assert [[r.id for r in rules] for rules in ENGINE.rules_for_each(contents)] == expected
