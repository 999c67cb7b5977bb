"""Patterns compiled on first use behave as compiled ones (issue 14: start-up cost)."""

from __future__ import annotations

import copy
import re

from akscan import lazyre


def test_a_lazy_pattern_matches_as_the_compiled_one() -> None:
    source = r"(?P<word>[a-z]+)=(\d+)"
    lazy, compiled = lazyre.compile(source), re.compile(source)
    text = "a=1, bc=22; =3 d="

    assert lazy.pattern == source  # without compiling: other patterns are built from it
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in compiled.finditer(text)]
    found, expected = lazy.search(text, 3), compiled.search(text, 3)
    assert found is not None and expected is not None and found.groups() == expected.groups()
    assert lazy.sub("X", text) == compiled.sub("X", text)
    assert lazy.fullmatch("ab=3") is not None and lazy.groupindex == compiled.groupindex


def test_flags_apply_and_copies_do_not_compile() -> None:
    lazy = lazyre.compile("secret", re.IGNORECASE)
    assert copy.copy(lazy).pattern == "secret"
    assert lazy.search("My SECRET") is not None


def test_compile_all_compiles_every_pattern_made_so_far() -> None:
    made = [lazyre.compile(f"word{n}=[0-9]+") for n in range(3)]
    assert not any("match" in vars(lazy) for lazy in made)

    lazyre.compile_all()

    assert all("match" in vars(lazy) for lazy in made)  # a worker forked now shares them
    assert made[1].match("word1=42") is not None and made[2].match("word1=42") is None
