"""The batched keyword prefilter must choose exactly the rules the per-content one does."""

from __future__ import annotations

import base64
import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keys import random_id, random_secret

from akscan.detect import engine
from akscan.detect.engine import Engine
from akscan.pipeline.content import scan_contents
from akscan.rules import builtin_rules_dir, load_rules
from akscan.sources.decode import decode_text
from akscan.sources.printable import printable_lowered

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
    expected = [[r.id for r in ENGINE.rules_for(c.lower(), c)] for c in contents]
    assert [[r.id for r in rules] for rules in ENGINE.rules_for_each(contents)] == expected


# Encoded forms of keywords, whose offsets the decoders are given.
_ENCODED = st.sampled_from([b"TFRBS", b"tfrbs", b"4c544149", b"\\u004c\\u0054", b"U2VjcmV0"])
_MIXED = st.lists(st.one_of(_PIECES, _ENCODED), max_size=12).map(b"".join)


@given(st.lists(_MIXED, min_size=1, max_size=20))
def test_prefilter_each_finds_what_prefilter_finds_where_it_finds_it(
    contents: list[bytes]
) -> None:
    expected = [ENGINE.prefilter(c.lower(), c) for c in contents]
    for got, want in zip(ENGINE.prefilter_each(contents), expected):
        assert [r.id for r in got.rules] == [r.id for r in want.rules]
        assert got.hits == want.hits


def _woken(content: bytes) -> set[str]:
    return {r.id for r in ENGINE.rules_for(content.lower(), content)}


def test_sts_keyword_counts_only_in_capitals_as_the_pattern_wants() -> None:
    assert _woken(b"r = requests.get(url); lists.sort(); sts.aliyuncs.com") == _woken(b"r")
    assert {"alibaba-sts-access-key-id", "alibaba-sts-access-key-secret-positional"} <= _woken(
        b'id = "STS.nJLXNxGu5sI2hLSZcPE0Dso6D"')
    assert ENGINE.prefilter_each([b"requests.get", b"x STS.a"])[1].hits == {b"sts.": [2]}


def test_keyword_case_is_not_checked_without_the_original_bytes() -> None:
    # Only lower-cased bytes: the case cannot be told, so the keyword counts (nothing lost).
    ids = {r.id for r in ENGINE.prefilter(b"requests.get(url)").rules}
    assert "alibaba-sts-access-key-id" in ids


@settings(max_examples=25, deadline=None)
@given(st.lists(_MIXED, max_size=40), st.integers(0, 300_000))
def test_sparse_prefilter_finds_every_overlapping_keyword_the_plain_one_does(
    pieces: list[bytes], filler: int
) -> None:
    # Keywords inside and across other keywords ("acsclientwith"), at the end of a 256 KiB
    # chunk and beyond, and chunks dense in keywords, which the sparse search takes whole.
    content = b"".join(pieces).lower()
    contents = [content, b" " * filler + content + b"acsclientwith\"sts." + content,
                (b"ltai\"sts.acsclientwith" * 20_000)[:filler] + content]
    for lowered in contents:
        want = ENGINE.prefilter(lowered)
        got = ENGINE.prefilter_sparse(lowered)
        assert [r.id for r in got.rules] == [r.id for r in want.rules]
        assert got.hits == want.hits


def test_sdk_call_keywords_count_only_as_the_sdk_writes_them() -> None:
    sdk_call = "alibaba-access-key-secret-sdk-call"
    assert sdk_call not in _woken(b"credentials = load_credentials(); requests.auth(x)")
    assert sdk_call in _woken(b"cred := credentials.NewAccessKeyCredential(id, s)")
    assert sdk_call in _woken(b"auth = oss2.AuthV2 (id, s)")


@settings(max_examples=25, deadline=None)
@given(st.lists(_MIXED, min_size=1, max_size=20), st.integers(0, 300_000))
def test_prefilter_each_of_a_large_batch_finds_what_prefilter_finds(
    contents: list[bytes], filler: int
) -> None:
    # Past 16 KiB a batch is searched by small groups of keywords (leftmost-first), then
    # overlapping only around what they found, and a chunk dense in keywords whole: the hits
    # must be those of one overlapping search, across 256 KiB chunks too.
    contents = [*contents[:-1], b" " * filler + contents[-1], b"x" * 70_000,
                (b"ltai\"sts.acsclientwith" * 20_000)[:filler] + contents[0]]
    expected = [ENGINE.prefilter(c.lower(), c) for c in contents]
    for got, want in zip(ENGINE.prefilter_each(contents), expected):
        assert [r.id for r in got.rules] == [r.id for r in want.rules]
        assert got.hits == want.hits


def test_keys_in_text_that_is_not_ascii_are_found_as_in_ascii_text() -> None:
    # Byte offsets of keywords are not character offsets here: the engine finds them again,
    # in characters, once for the rules and the decoders.
    key_id, secret = random_id(), random_secret()
    encoded = base64.b64encode(f"access_key_secret={random_secret()}".encode()).decode()
    lines = ["# café, naïve: ü" * 300, f'ALIBABA_CLOUD_ACCESS_KEY_SECRET="{secret}"',
             f'client = AcsClient("{key_id}", "{random_secret()}", "cn-hangzhou")',
             f'config = "{encoded}"', "SECRET_KEY = 'dev' # ß\n" * 200,
             f'secret_key = "{random_secret()}"']
    text = "\n".join(lines * 3)
    ascii_text = text.replace("é", "e").replace("ï", "i").replace("ü", "u").replace("ß", "s")

    def found(content: str) -> list[tuple[str, int, int, str, tuple[str, ...]]]:
        [(_, result)] = scan_contents([("blob", content.encode())], ENGINE, str)
        return [(f.rule_id, f.line, f.column, f.secret, f.decoded) for f in result.findings]

    assert found(text) == found(ascii_text)
    assert len(found(text)) >= 12


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(_PIECES, _ENCODED, st.sampled_from([b"\x00\x01", b'variable\x00"'])),
                max_size=60), st.sampled_from([16, 64, 1000]))
def test_sparse_prefilter_making_the_searched_bytes_a_chunk_at_a_time_finds_the_same_hits(
    pieces: list[bytes], chunk: int
) -> None:
    # Binary content's printable runs are made chunk by chunk, as the search goes: keywords
    # across a chunk's end, and leftmost matches that reach into the next one, are still found.
    content = b"".join(pieces) * 3
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "_PREFILTER_CHUNK", chunk)
        want = ENGINE.prefilter_sparse(printable_lowered(content))
        got = ENGINE.prefilter_sparse(content, printable_lowered)
    assert [r.id for r in got.rules] == [r.id for r in want.rules]
    assert got.hits == want.hits == ENGINE.prefilter(printable_lowered(content)).hits


# Bytes that are not ASCII: characters of two, three and four bytes, invalid bytes, sequences
# cut short (before an ASCII byte, or at the end), a lone continuation byte, and '?', which is
# what every character that is not ASCII stands in for when the engine searches a text.
_NOT_ASCII = st.sampled_from([
    "é".encode(), "€".encode(), "😀".encode(), "ß".encode(), "İ".encode(), b"\xff", b"\xe2\x82",
    b"\xf0\x9f\x98", b"\x80", b"\xc3", b"?", b"\xed\xa0\x80", b"\xef\xbb\xbf",
])
_UTF8 = st.tuples(st.booleans(), st.lists(st.one_of(_PIECES.filter(lambda p: b"\0" not in p),
                                                    _ENCODED, _NOT_ASCII), max_size=40))


@settings(max_examples=100, deadline=None)
@given(st.lists(_UTF8, min_size=1, max_size=8), st.integers(0, 20_000))
def test_character_offsets_taken_from_byte_offsets_are_those_a_search_of_the_text_finds(
    contents: list[tuple[bool, list[bytes]]], filler: int,
) -> None:
    # Text that is not ASCII (valid or not, with or without a BOM) holding keywords and
    # encoded forms anywhere: the offsets worked out from the batch prefilter's byte offsets
    # must be those the engine's own search of the decoded text finds, keyword for keyword.
    blobs = [(codecs.BOM_UTF8 if bom else b"") + b"".join(pieces) * 2 + "é".encode() * filler
             + b"".join(pieces) for bom, pieces in contents]
    for data, verdict in zip(blobs, ENGINE.prefilter_each(blobs)):
        decoded = decode_text(data)
        if decoded.encoding != "utf-8":
            continue  # (a UTF-16 BOM made of pieces: decoded before any prefilter)
        skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        got = ENGINE.character_hits(verdict, data, decoded.text, skip)
        if verdict.found:
            assert got == ENGINE._text_hits(decoded.text)
        else:
            assert got is None  # nothing found: nothing to take offsets from


def test_character_offsets_are_searched_for_when_the_text_is_not_the_bytes_decoded() -> None:
    data = "ü secret = 1\nLTAI here".encode()
    [verdict] = ENGINE.prefilter_each([data])
    assert ENGINE.character_hits(verdict, data, data.decode()) == ENGINE._text_hits(
        data.decode())
    # A text that does not come from these bytes: the check of each hit says so.
    assert ENGINE.character_hits(verdict, data, "ü secret = 1\nLTA here") is None
    assert ENGINE.character_hits(verdict, data, data.decode(), skip=2) is None
    # Offsets found in other bytes, where these hold no keyword (nor ASCII): no offsets.
    assert ENGINE.character_hits(verdict, b"\xff" * 40, "\ufffd" * 40) is None


def test_a_keyword_that_counts_only_as_written_is_found_only_so_everywhere() -> None:
    # "sts." is in every "requests."; only "STS." starts an STS key, and no decoder looks at
    # any other writing of it: so neither the prefilter (Hyperscan looks only for "STS.") nor
    # the character offsets the engine works from keep the other writings.
    # (From the large search on: a scan that large compiles the patterns it takes to tell.)
    large = Engine(load_rules([builtin_rules_dir()]))
    large.prepare_large_search()
    sts = large._index[b"sts."]
    assert large._exact[sts] == (b"STS.",)
    text = "r = requests.get(u)\nid = 'STS.NUd1AbCdEfGh'\nsts.x = 1\n"
    data = text.encode()

    verdict = large.prefilter(data.lower(), data)

    assert verdict.hits[b"sts."] == [data.index(b"STS.")]
    assert verdict.found is not None and verdict.found[sts] == [data.index(b"STS.")]
    assert large._text_hits(text)[b"sts."] == [text.index("STS.")]
    assert large.character_hits(verdict, data, text) == large._text_hits(text)


def test_a_keyword_whose_other_writings_a_decoder_reads_is_found_in_any_case() -> None:
    decoders = ENGINE._decoders
    assert decoders is not None
    # "secret" names a field assigned a key in any of its writings: the decoders read them all.
    assert decoders.uses_writings_of(b"secret", (b"SECRET",))
    assert not decoders.uses_writings_of(b"sts.", (b"STS.",))  # read only as STS.
    assert not decoders.uses_writings_of(b"credential", (b"Credential",))  # not read at all
    large = Engine(load_rules([builtin_rules_dir()]))
    large.prepare_large_search()
    assert large._exact and large._index[b"secret"] not in large._exact


def test_text_searched_lower_cased_still_finds_a_keyword_counted_only_as_written() -> None:
    # Hyperscan looks for "STS." as written: on lower-cased bytes (a large text's character
    # offsets) it would find nothing, so those are searched by the automaton instead.
    prepared = Engine(load_rules([builtin_rules_dir()]))
    prepared.prepare_large_search()
    text = "x = 1\n" * 4000 + "id = 'STS.NUd1AbCdEfGh'\nrequests.get(u)\n"

    assert prepared._text_hits(text)[b"sts."] == [text.index("STS.")]
