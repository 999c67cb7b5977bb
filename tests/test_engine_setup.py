"""Setting up the engine is most of a commit hook's detection cost (issue 14): the keyword
automaton starts as an NFA (cheap to build) and becomes a DFA once a scan has searched enough
to pay for one; the two find the same keywords, in the same order."""

from __future__ import annotations

import dataclasses

from ahocorasick_rs import BytesAhoCorasick, Implementation
from gitrepo import credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from akscan.detect import engine as engine_module
from akscan.detect.engine import Engine
from akscan.model import Fragment
from akscan.rules import Deferred, builtin_rules_dir, load_rules

RULES = load_rules([builtin_rules_dir()])
_PIECES = st.sampled_from([
    b"ltai", b"lt", b"ai", b"secret", b"sec", b"ret", b"acsclient", b"sts.", b"sts", b".",
    b"cais", b"credential", b"\0", b"x", b"\n", b"tfrbs", b"4c544149", b"u2vjcmv0", b"%4c",
])
_CONTENT = st.lists(_PIECES, max_size=16).map(b"".join)


# No deadline: each example builds automata, whose time depends on the machine's load.
@settings(deadline=None)
@given(st.lists(_CONTENT, min_size=1, max_size=8))
def test_the_automaton_finds_what_a_dfa_finds_before_and_after_it_becomes_one(
    contents: list[bytes]
) -> None:
    engine = Engine(RULES)
    keywords = engine._keywords
    dfa = BytesAhoCorasick(keywords, implementation=Implementation.DFA)
    automaton = engine_module._Keywords(keywords)
    for content in contents:  # as an NFA
        assert automaton.find_matches_as_indexes(content, overlapping=True) == \
            dfa.find_matches_as_indexes(content, overlapping=True)
    automaton.find_matches_as_indexes(b"x" * engine_module._DFA_AFTER, overlapping=True)
    for content in contents:  # as a DFA
        assert automaton.find_matches_as_indexes(content, overlapping=True) == \
            dfa.find_matches_as_indexes(content, overlapping=True)


def test_an_engine_that_searched_a_lot_prefilters_as_a_fresh_one() -> None:
    contents = [b"LTAI5tQ", b"my Secret = 1", b"sts.aliyuncs.com", b"TFRBSTV0", b"nothing here"]
    fresh = Engine(RULES)
    used = Engine(RULES)
    used.prefilter_each([b"filler " * (engine_module._DFA_AFTER // 7 + 1)])

    for content in contents:
        want, got = fresh.prefilter(content.lower()), used.prefilter(content.lower())
        assert [r.id for r in got.rules] == [r.id for r in want.rules]
        assert got.hits == want.hits
    assert [[r.id for r in v.rules] for v in used.prefilter_each(contents)] == \
        [[r.id for r in v.rules] for v in fresh.prefilter_each(contents)]


@settings(deadline=None)
@given(st.lists(_CONTENT, min_size=1, max_size=8), st.integers(0, 40_000))
def test_the_grouped_search_finds_what_the_overlapping_search_finds(
    contents: list[bytes], filler: int
) -> None:
    # A git history's batches are searched by keyword groups (_Sparse) once enough was searched
    # to pay for building them; a commit hook's few files never are (issue 14).
    keywords = Engine(RULES)._keywords
    automaton = BytesAhoCorasick(keywords, implementation=Implementation.DFA)
    longest = max(map(len, keywords))
    data = (b" " * filler).join(contents)
    assert sorted(engine_module._Sparse(keywords).matches(data)) == \
        sorted(engine_module._chunked_matches(automaton, data, longest))


def test_keyword_groups_are_built_only_once_they_pay() -> None:
    batch = [b"LTAI5tQ my Secret = 1 " * 1_000] * 5  # a commit's few files, 110 KB
    engine = Engine(RULES)
    verdicts = engine.prefilter_each(batch)
    assert engine._sparse is None

    engine.prefilter_each([b"filler " * (engine_module._SPARSE_AFTER // 7 + 1)])
    assert engine._sparse is not None
    assert [v.hits for v in engine.prefilter_each(batch)] == [v.hits for v in verdicts]


def test_an_engine_prepared_for_workers_has_built_everything_and_finds_the_same() -> None:
    prepared = Engine(load_rules([builtin_rules_dir()]))

    prepared.prepare_for_workers()

    # What a forked worker would otherwise build on its first batch is there to share.
    assert all(r.pattern.compiled for r in prepared.rules if isinstance(r.pattern, Deferred))
    assert prepared._automaton is not None
    assert prepared._automaton._searched >= engine_module._DFA_AFTER
    assert prepared._sparse is not None
    text = credentials()[0] + "\nother = 'x'\n"
    fresh = Engine(RULES).scan(Fragment("a.env", text)).findings
    assert fresh
    assert prepared.scan(Fragment("a.env", text)).findings == fresh


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3000), st.integers(0, 300), st.integers(1, 300),
       st.lists(st.lists(st.integers(0, 2999), max_size=25), min_size=1, max_size=3))
def test_keyword_windows_are_the_merged_windows_around_every_hit(
    length: int, before: int, after: int, offsets: list[list[int]]
) -> None:
    keywords = [b"k0", b"k1", b"k2"][: len(offsets)]
    rule = dataclasses.replace(next(r for r in RULES if r.keyword_window is not None),
                               keywords=tuple(keywords), keyword_window=(before, after))
    hits: dict[bytes, list[int] | None] = {
        k: sorted({p for p in found if p < length}) for k, found in zip(keywords, offsets)}

    # What the windows are by definition: one around each hit, overlapping ones merged.
    spans = sorted((max(0, p - before), min(length, p + after))
                   for found in hits.values() for p in found or ())
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))

    assert engine_module._keyword_windows(rule, hits, length) == merged
