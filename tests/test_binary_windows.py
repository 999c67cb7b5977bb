"""Binary content is judged on windows around its keyword hits before its whole text is made:
it must find exactly what scanning the whole printable text finds (issue 14)."""

from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Callable

import pytest

from akscan.detect import reach
from akscan.detect.engine import Engine, ScanResult
from akscan.model import Fragment
from akscan.pipeline import binary
from akscan.rules import builtin_rules_dir, compile_pattern, load_rules
from akscan.sources import printable
from akscan.sources.printable import printable_lowered, printable_text
from tests.keys import random_id, random_secret, random_sts_id, random_token

ENGINE = Engine(load_rules([builtin_rules_dir()]))
PRECISE = binary.high_precision(ENGINE)

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _pieces(rng: random.Random) -> list[Callable[[], bytes]]:
    """What the contents are made of: keywords in several cases and spellings, the syntax
    around keys, keys, runs of letters and digits a little shorter or longer than a key, colour
    escapes, binary bytes and newlines."""
    def run() -> bytes:
        return "".join(rng.choice(_ALNUM) for _ in range(rng.choice(
            [4, 11, 12, 16, 19, 20, 21, 25, 29, 30, 31, 39, 40, 44, 45, 64, 65, 99, 120])
        )).encode()

    def token() -> bytes:
        return ("CAIS" + "".join(rng.choice(_ALNUM + "+/") for _ in range(rng.choice(
            [96, 100, 140])))).encode() + rng.choice([b"", b"=", b"%3D%3D"])

    fixed = [
        b"\x00", b"\x00" * 40, b"\xff\xfe", b"\x01", b"\n", b"\r\n", b" ", b"\t", b"=", b":",
        b'"', b"'", b"`", b"(", b")", b",", b";", b"{", b"}", b"\\",
        b"secret", b"SECRET", b"access_key_secret", b"AccessKeySecret", b"sts_secret",
        b"ALIBABA_CLOUD_ACCESS_KEY_SECRET=", b"secret_key = ", b"LTAI", b"ltai", b"LTAI5t",
        b"STS.", b"sts.", b'"STS.', b"'STS.", b"CAIS", b"?OSSAccessKeyId=",
        b"&x-oss-credential=", b'variable "oss_sk" {\n  default = "', b'variable "',
        b"AcsClient(", b"oss2.Auth(", b"getProfile(", b"NewAccessKeyCredential(",
        b"oss2.StsAuth(", b"NewStsTokenCredential ", b"StsToken",
        b"StaticAKCredentialsProvider(", b"NewClientWithAccessKey(",
        b"alicloud_cloud_secret=", b"oss-secret: ", b"\x1b[0;32m", b"\\u001b[1;31m", b"\\033[0m",
    ]
    made = [run, run, token, lambda: random_id().encode(), lambda: random_secret().encode(),
            lambda: random_sts_id().encode(), lambda: random_token(44).encode()]
    return [(lambda piece=piece: piece) for piece in fixed] + made


def _whole(data: bytes) -> ScanResult:
    """The findings of the whole printable text: what binary content gave before windows."""
    verdict = PRECISE.prefilter_sparse(printable_lowered(data))
    if not verdict:
        return ScanResult()
    return PRECISE.scan(Fragment("app.bin", printable_text(data)), verdict.rules, verdict.hits)


def _text_of(data: bytes) -> Callable[[int, int], str]:
    return lambda start, end: printable_text(data[start:end])


def test_windows_around_keyword_hits_miss_nothing_the_whole_text_finds() -> None:
    rng = random.Random(1414)
    pieces = _pieces(rng)
    found = skipped = 0
    for _ in range(2500):
        data = b"".join(rng.choice(pieces)() for _ in range(rng.randint(1, 40)))
        whole = _whole(data)
        got = binary.scan_printable(data, "app.bin", ENGINE)
        assert got.findings == whole.findings, data
        assert got.warnings == whole.warnings
        verdict = PRECISE.prefilter_sparse(printable_lowered(data))
        if verdict and not PRECISE.could_find(verdict, len(data), _text_of(data)):
            assert not whole.findings, data
            skipped += 1
        found += bool(whole.findings)
    # Both sides were tried many times: contents with findings, and contents with keywords
    # but no key that were decided without their whole text.
    assert found > 300 and skipped > 300, (found, skipped)


@pytest.mark.parametrize("prefix, key", [
    (b"", random_id), (b"\\033[0;32m", random_id), (b"\\u001b[1;31m", random_sts_id),
    (b"x=", random_sts_id),
])
def test_a_key_at_either_end_of_its_window_is_found(
    prefix: bytes, key: Callable[[], str]
) -> None:
    value = key().encode()
    for before in (b"", b"\x00" * 7, b"a;" * 100):
        for after in (b"", b"\x00", b"\n" + b"\x00" * 300):
            data = before + prefix + value + after
            assert [f.secret for f in binary.scan_printable(data, "a.bin", ENGINE).findings
                    ] == [value.decode()], data


@pytest.mark.parametrize("gap", [0, 5000, 100_000, 1_100_000])
def test_a_run_of_binary_bytes_of_any_length_where_a_pattern_allows_whitespace_is_followed(
    gap: int
) -> None:
    # The STS SDK-call rule allows any run of whitespace between the name and "(": binary
    # bytes there, read as spaces, do not hide the secret (past a megabyte, the whole text is
    # scanned instead of the window).
    secret = random_token(44).encode()
    data = (b"\x7fELF\x00cred = NewStsTokenCredential" + b"\x00\n" * (gap // 2)
            + b'(id, "' + secret + b'", token)\x00')
    found = binary.scan_printable(data, "app.bin", ENGINE).findings
    assert [(f.rule_id, f.secret) for f in found] == [
        ("alibaba-sts-access-key-secret-sdk-call", secret.decode())]

def test_every_rule_that_runs_on_binary_content_has_a_proven_bound() -> None:
    # A changed pattern or keyword loses its bound (it then runs over the whole text, slower
    # but the same): re-read its proof in akscan/detect/reach.py and update the fingerprint.
    unbounded = [r.id for r in PRECISE.rules if r.context is None and reach.bound(r) is None]
    assert unbounded == []


def test_a_bound_covers_the_longest_match_its_pattern_can_make() -> None:
    # A second opinion on the figures written in reach.py: the longest match as Python's own
    # parser of the same syntax counts it (look-arounds read at most 28 more, counted there).
    from re import _parser  # type: ignore[attr-defined]

    for rule in PRECISE.rules:
        found = reach.bound(rule)
        if found is None or found.around is None:
            continue
        source = rule.pattern.pattern
        if found.spaces >= 0:  # its run of whitespace of any length is not counted
            assert source.count(r"\s*") == 1, rule.id
            source = source.replace(r"\s*", "")
        longest = _parser.parse(source).getwidth()[1]
        assert found.around[1] >= longest + 1, rule.id


def test_a_rule_of_the_same_id_but_another_pattern_or_keyword_has_no_bound() -> None:
    rule = next(r for r in PRECISE.rules if r.id == "alibaba-access-key-id")
    changed = dataclasses.replace(rule, pattern=compile_pattern(rule.pattern.pattern + "?"))
    assert reach.bound(rule) is not None
    assert reach.bound(changed) is None
    assert reach.bound(dataclasses.replace(rule, keywords=(b"lta",))) is None


# --- streamed binaries (over --max-file-size): pieces scanned with the bytes around them -----


def _streamed(data: bytes, head: int = 8192) -> list[object]:
    found, size = binary.scan_printable_stream(io.BytesIO(data[head:]), data[:head], "app.bin",
                                               ENGINE)
    assert size == len(data)
    return list(found.findings)


def test_a_key_across_the_cut_between_two_pieces_is_found(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(printable, "CHUNK", 4096)
    monkeypatch.setattr(printable, "_LONGEST_RUN", 1000)
    secret = random_secret().encode()
    # The only place a piece can end near the first chunk's end is the NUL run between the
    # name and the secret: the secret starts the second piece.
    data = (b"\x7fELF\x00" + b"x" * 3590 + b"\x00secret_key\x00\x00\x00\x00" + secret + b";"
            + b"x" * 9000 + b"\x00")
    (whole,) = binary.scan_printable(data, "app.bin", ENGINE).findings
    assert whole.secret == secret.decode()
    assert _streamed(data, head=16) == [whole]


def test_a_key_on_a_line_that_began_pieces_before_has_its_column_and_line_text(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(printable, "CHUNK", 16 * 1024)
    monkeypatch.setattr(printable, "_LONGEST_RUN", 1024)
    key = random_id().encode()
    # one line of 200 KB without a newline, the key far into it, then more lines
    data = (b"\x7fELF\x00\x01\n" + b"ab\x00" * 50_000 + b"\x00" + key + b"\x00"
            + b"cd\x00" * 20_000 + b"\n\x00" + random_sts_id().encode() + b"\n")
    whole = binary.scan_printable(data, "app.bin", ENGINE).findings
    assert [f.line for f in whole] == [2, 3] and whole[0].column > 150_000
    assert _streamed(data) == whole


def test_a_streamed_binary_gives_what_the_whole_content_gives() -> None:
    # Lines shorter than the margin: the pieces' findings are the whole content's, wherever
    # the cuts fall (pieces of 4 KiB here, so a key is near a cut again and again).
    rng = random.Random(2026)
    pieces = _pieces(rng)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(printable, "CHUNK", 4096)
        patch.setattr(printable, "_LONGEST_RUN", 512)
        patch.setattr(binary, "MARGIN", 8192)  # still more than 10 lines of at most 400
        for _ in range(4):
            lines = []
            while sum(map(len, lines)) < 100_000:
                lines.append(b"".join(rng.choice(pieces)() for _ in range(rng.randint(0, 12)))
                             .replace(b"\n", b"\x00")[:400])
            data = b"\x7fELF\x00" + b"\n".join(lines)
            whole = binary.scan_printable(data, "app.bin", ENGINE).findings
            assert len(whole) > 50
            assert _streamed(data) == whole
