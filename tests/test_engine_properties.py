"""Properties of the decoder and engine over arbitrary input: no crash, findings that point at
the secret they report, planted keys always found, and patterns that cannot hang a scan."""

from __future__ import annotations

import codecs
import time
from functools import lru_cache
from pathlib import Path

import pytest
from helpers import RunCli, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keys import random_id, random_secret

from akscan.detect.engine import Engine
from akscan.model import Fragment, sha256_hex
from akscan.rules import builtin_rules_dir, load_rules
from akscan.sources.decode import BinaryContent, decode, needs_decoding_first

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@lru_cache(maxsize=1)
def engine() -> Engine:
    return Engine(load_rules([builtin_rules_dir()]), timeout=5.0)


def scan_bytes(data: bytes) -> list:
    try:
        text = decode(data)
    except BinaryContent:
        return []
    return scan_text(text)


def scan_text(text: str) -> list:
    result = engine().scan(Fragment("input", text))
    assert result.warnings == []
    return result.findings


def assert_findings_point_at_their_secrets(text: str, findings: list) -> None:
    lines = text.split("\n")
    for finding in findings:
        assert finding.line >= 1 and finding.column >= 1
        assert finding.secret_sha256 == sha256_hex(finding.secret)
        if finding.decoded:  # found decoded: it points at its encoding, inside the text
            assert finding.line <= len(lines)
            assert finding.column <= len(lines[finding.line - 1]) + 1
            assert (finding.end_line, finding.end_column) > (finding.line, finding.column)
            continue
        assert finding.end_line == finding.line  # every built-in secret is on one line
        line = lines[finding.line - 1]
        start = finding.column - 1
        assert line[start:start + len(finding.secret)] == finding.secret
        assert finding.end_column == finding.column + len(finding.secret)
        assert finding.secret_sha256 == sha256_hex(finding.secret)


# Pieces that make the rules fire, mixed with arbitrary text.
TRIGGERS = [
    "LTAI", "LTAI5t", "STS.", "CAIS", "secret", "access_key_secret = ", "AccessKeySecret: ",
    "AcsClient(", 'oss2.Auth("', "akscan:allow", "# akscan:allow-next-line\n", "\n", "\r\n",
    "\t", '"', "'", "=", ":", "+", "/", "%2B", "\ufeff", "\x00", "\u2028", "é", "\U0001f600",
    # what wakes the decoders: encoded keywords, escapes, split literals
    "TFRBSTV0", "U1RTL", "c2VjcmV0", "4c544149", "\\u004c", "\\x4c", "%3D", "\\n", '" + "',
    "\\\n", "akSecret: ", "==",
]
piece = st.one_of(st.sampled_from(TRIGGERS), st.text(max_size=12),
                  st.text(alphabet="ABCDEFabcdef0123456789LTAISsx", min_size=10, max_size=64))


@FAST
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash_the_decoder_or_engine(data: bytes) -> None:
    findings = scan_bytes(data)
    if findings:
        assert_findings_point_at_their_secrets(decode(data), findings)


@FAST
@given(st.lists(piece, max_size=60).map("".join))
def test_random_text_never_crashes_and_findings_point_at_their_secrets(text: str) -> None:
    assert_findings_point_at_their_secrets(text, scan_text(text))


@FAST
@given(st.lists(piece, max_size=40).map("".join),
       st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1"]))
def test_any_encoding_of_any_text_never_crashes(text: str, encoding: str) -> None:
    data = text.encode(encoding, "replace")
    scan_bytes(data)


@FAST
@given(st.binary(max_size=2048))
def test_utf8_decoding_keeps_every_line_break(data: bytes) -> None:
    if needs_decoding_first(data) or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    assert decode(data).count("\n") == data.count(b"\n")


# Printable noise: no line or paragraph separators, no controls, no BOM.
noise_word = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                           blacklist_characters="\ufeff"),
    min_size=1, max_size=20,
)
separator = st.sampled_from([" ", "\n", "\r\n", "  ", "\n\n"])
noise = st.lists(st.tuples(noise_word, separator), max_size=30).map(
    lambda parts: "".join(word + sep for word, sep in parts))


def encode_with_bom(text: str, encoding: str) -> bytes:
    """UTF-8 with or without BOM, UTF-16 always with one (without, detection is a guess)."""
    if encoding == "utf-16-le":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if encoding == "utf-16-be":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding)


def expected_position(prefix: str) -> tuple[int, int]:
    return prefix.count("\n") + 1, len(prefix) - (prefix.rfind("\n") + 1) + 1


@FAST
@given(noise, noise, st.builds(random_id),
       st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be"]),
       st.sampled_from([" ", "\n"]))
def test_planted_id_in_noise_is_found_at_its_line_and_column(
    before: str, after: str, key_id: str, encoding: str, sep: str
) -> None:
    prefix = before + sep if before else before
    text = prefix + key_id + sep + after
    findings = scan_bytes(encode_with_bom(text, encoding))
    located = [(f.line, f.column) for f in findings if f.secret == key_id]
    assert located == [expected_position(prefix)]
    assert {f.rule_id for f in findings if f.secret == key_id} == {"alibaba-access-key-id"}


@FAST
@given(noise, noise, st.builds(random_secret))
def test_planted_secret_assignment_in_noise_is_found_at_its_line_and_column(
    before: str, after: str, secret: str
) -> None:
    prefix = before + "\naccess_key_secret = "
    text = prefix + secret + "\n" + after
    findings = scan_bytes(text.encode("utf-8"))
    located = [(f.line, f.column, f.kind) for f in findings if f.secret == secret]
    assert located == [(*expected_position(prefix), "access-key-secret")]


# --- patterns that backtrack ----------------------------------------------------------------

SLOW_RULE = """\
[[rules]]
id = "catastrophic-backtracking"
description = "A user rule that backtracks exponentially"
kind = "access-key-id"
keywords = ["a"]
pattern = '''(?:a|aa)+b'''
remediation = "Fix the rule."
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_pathological_user_rule_times_out_with_a_warning_instead_of_hanging(
    tmp_path: Path, run_cli: RunCli, jobs: str
) -> None:
    write(tmp_path / "rules" / "slow.toml", SLOW_RULE)
    write(tmp_path / "scan" / "aaaa.txt", "a" * 20_000 + "\n")
    started = time.monotonic()
    code, _, err = run_cli(["scan", "-j", jobs, "--regex-timeout", "0.2", "--rules",
                            str(tmp_path / "rules"), str(tmp_path / "scan")])
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"scan took {elapsed:.1f}s"
    assert code == 2
    warnings = [line for line in err.splitlines() if "timed out" in line]
    assert len(warnings) == 1
    assert "catastrophic-backtracking" in warnings[0] and "aaaa.txt" in warnings[0]


def test_timeout_in_one_file_does_not_hide_keys_in_another(
    tmp_path: Path, run_cli: RunCli
) -> None:
    key_id = random_id()
    write(tmp_path / "rules" / "slow.toml", SLOW_RULE)
    write(tmp_path / "scan" / "aaaa.txt", "a" * 20_000 + "\n")
    write(tmp_path / "scan" / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\n")
    code, out, err = run_cli(["scan", "--format", "json", "--regex-timeout", "0.2", "--rules",
                              str(tmp_path / "rules"), str(tmp_path / "scan")])
    assert code == 1
    assert sha256_hex(key_id) in out
    assert "timed out" in err
