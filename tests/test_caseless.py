"""Hyperscan's case-blind search must find exactly what an overlapping search of the lower-cased
bytes finds: every occurrence of every keyword, in the same places (issue 14)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from ahocorasick_rs import BytesAhoCorasick
from hypothesis import given, settings
from hypothesis import strategies as st

from akscan.detect import caseless, engine
from akscan.detect.engine import Engine
from akscan.rules import builtin_rules_dir, load_rules

pytest.importorskip("hyperscan")

RULES = load_rules([builtin_rules_dir()])
KEYWORDS = Engine(RULES)._keywords  # every keyword and encoded form the engine searches for
CHUNK = caseless._CHUNK

# Keywords in any case, pieces of them, bytes that are no ASCII letter, and overlapping runs.
_PIECES = st.one_of(
    st.sampled_from(KEYWORDS).flatmap(lambda k: st.sampled_from(
        [k, k.upper(), k.title(), k[: len(k) // 2], k[len(k) // 2:]])),
    st.sampled_from([b"secretsecret", b"ltaiLTAI", b"\xc5\xbfecret", b"\xff", b"\0", b"\n",
                     b"sts.sts.", b"x"]),
    st.binary(max_size=8),
)


def overlapping_search_of_lowered(data: bytes) -> list[tuple[int, int]]:
    automaton = BytesAhoCorasick(KEYWORDS)
    return sorted((index, start) for index, start, _ in
                  automaton.find_matches_as_indexes(data.lower(), overlapping=True))


@settings(max_examples=200)
@given(st.lists(_PIECES, max_size=40), st.sampled_from([0, 1, CHUNK - 20, CHUNK - 3, CHUNK + 5]))
def test_every_occurrence_in_any_case_is_found_where_the_lowered_search_finds_it(
    pieces: list[bytes], filler: int
) -> None:
    # Filler puts the keywords across the 256 KiB chunks each call searches.
    data = b"." * filler + b"".join(pieces) + b"." * (filler % 7) + b"".join(reversed(pieces))
    search = caseless.build(KEYWORDS)
    assert search is not None

    found = list(search.matches(data))

    assert sorted(found) == overlapping_search_of_lowered(data)
    for index in {i for i, _ in found}:  # each keyword's occurrences in increasing order
        starts = [start for i, start in found if i == index]
        assert starts == sorted(starts)


def test_a_keyword_on_every_byte_of_several_chunks_is_found_every_time() -> None:
    data = b"sEcReT" * (3 * CHUNK // 6 + 5)
    search = caseless.build([b"secret", b"cret", b"tse"])
    assert search is not None

    found = list(search.matches(data))

    assert len(found) == 3 * (3 * CHUNK // 6 + 5) - 1  # "tse" spans two copies: one fewer
    assert sorted(found) == sorted(
        (i, start) for i, start, _ in BytesAhoCorasick([b"secret", b"cret", b"tse"])
        .find_matches_as_indexes(data.lower(), overlapping=True))


def _large_batch(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    # (with keywords that count only as written, in other cases too: "requests." holds sts.)
    words = [*KEYWORDS[:40], b"AcsClient", b"acsclient", b"STS.", b"requests.", b"Sts.",
             b"Credential", b"CREDENTIAL", b"Secret", b"LTAI5t", b"x = 1\n", b"\xe4\xb8\xad"]
    return [b" ".join(rng.choice(words) for _ in range(rng.randint(0, 3000)))
            for _ in range(200)]


def test_a_history_batch_gets_the_same_verdicts_with_and_without_hyperscan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_hyperscan, without = Engine(RULES), Engine(RULES)
    batches = [_large_batch(seed) for seed in range(12)]  # well past the 16 MiB that builds it
    verdicts = [with_hyperscan.prefilter_each(batch) for batch in batches]
    assert isinstance(with_hyperscan._sparse, caseless.Caseless)

    # as where it is missing
    monkeypatch.setattr(caseless, "build", lambda keywords, exact=None: None)
    for batch, got in zip(batches, verdicts):
        want = without.prefilter_each(batch)
        assert [[r.id for r in v.rules] for v in got] == [[r.id for r in v.rules] for v in want]
        assert [v.hits for v in got] == [v.hits for v in want]
        assert [v.found for v in got] == [v.found for v in want]
    assert isinstance(without._sparse, engine._Sparse)


def _kept_entries(cache: Path) -> list[Path]:
    return sorted((cache / "akscan" / "hyperscan").glob("*.db"))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


SAMPLE = b"My SECRET, my Secret; LTAI and ltai, access_key and ACCESS_KEY_SECRET=" * 3


def test_a_database_compiled_once_is_kept_and_loaded_with_the_same_matches(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = caseless.build(KEYWORDS)
    assert first is not None
    assert len(_kept_entries(cache)) == 1

    compiled: list[object] = []
    original = caseless.Caseless.__init__

    def spy(self: caseless.Caseless, hyperscan: object, keywords: object, exact: object = None,
            database: object = None) -> None:
        compiled.append(database)
        original(self, hyperscan, keywords, exact, database)  # type: ignore[arg-type]

    monkeypatch.setattr(caseless.Caseless, "__init__", spy)
    second = caseless.build(KEYWORDS)

    assert second is not None and compiled and compiled[0] is not None  # loaded, not compiled
    assert list(second.matches(SAMPLE)) == list(first.matches(SAMPLE))
    assert sorted(second.matches(SAMPLE)) == overlapping_search_of_lowered(SAMPLE)


def test_a_damaged_kept_database_is_compiled_again_and_replaced(cache: Path) -> None:
    assert caseless.build(KEYWORDS) is not None
    (entry,) = _kept_entries(cache)
    data = bytearray(entry.read_bytes())
    data[-5000] ^= 0xFF  # inside the database: Hyperscan's checksum no longer holds
    entry.write_bytes(bytes(data))

    search = caseless.build(KEYWORDS)

    assert search is not None
    assert sorted(search.matches(SAMPLE)) == overlapping_search_of_lowered(SAMPLE)
    assert entry.read_bytes() != bytes(data)  # written afresh


def test_a_kept_database_serves_only_the_keywords_it_was_compiled_from(cache: Path) -> None:
    assert caseless.build([b"secret", b"ltai"]) is not None
    (entry,) = _kept_entries(cache)
    # Another keyword list whose entry name is forced to be the same file.
    other = [b"access", b"sts."]
    key = caseless._key(caseless._imported, other, {})
    target = caseless._path(key)
    assert target is not None
    entry.rename(target)

    search = caseless.build(other)

    assert search is not None
    assert sorted(search.matches(b"ACCESS secret sts. LTAI")) == [(0, 0), (1, 14)]


def test_no_usable_cache_folder_only_means_compiling(cache: Path) -> None:
    (cache / "akscan").mkdir()
    (cache / "akscan" / "hyperscan").write_text("a file where the folder would be")

    search = caseless.build(KEYWORDS)

    assert search is not None
    assert sorted(search.matches(SAMPLE)) == overlapping_search_of_lowered(SAMPLE)


def test_what_is_no_regular_file_where_a_database_is_kept_is_passed_by_without_waiting(
    cache: Path,
) -> None:
    import threading

    assert caseless.build(KEYWORDS) is not None
    (entry,) = _kept_entries(cache)
    entry.unlink()
    os.mkfifo(entry)  # reading it would wait for a writer that never comes
    built: list[object] = []

    worker = threading.Thread(target=lambda: built.append(caseless.build(KEYWORDS)),
                              daemon=True)
    worker.start()
    worker.join(20)

    assert built and isinstance(built[0], caseless.Caseless)
    assert sorted(built[0].matches(SAMPLE)) == overlapping_search_of_lowered(SAMPLE)
