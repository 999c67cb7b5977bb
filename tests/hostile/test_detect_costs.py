"""Hostile input for the detection engine: costs linear in the input, bounded memory, no silent
cap, no finding lost to overlapping work (issues 12 and 15).

Time is never asserted. Growth is: the interpreted steps the engine takes (a trace count, the
same on any machine) on an input and on one four times larger must grow about four times, not
sixteen. Seconds per MB at full size come from `python benchmarks/bench_hostile.py --large -k
detect`, which runs the cases registered here as real processes.
"""

from __future__ import annotations

import base64
import json
import random
import string
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from keys import random_id, random_secret, random_sts_id

from akscan.detect import decoders as decoders_module
from akscan.detect import engine as engine_module
from akscan.detect import limits
from akscan.detect.engine import Engine
from akscan.errors import AkscanError, RuleError
from akscan.model import Fragment
from akscan.rules import builtin_rules_dir, load_rule_file, load_rules
from hostile.harness import Invocation, case, cases_in, check, run_akscan

ENGINE = Engine(load_rules([builtin_rules_dir()]))
_ALNUM = string.ascii_letters + string.digits


def _steps(work: Callable[[], object]) -> int:
    """Interpreted steps (calls, lines, loop iterations) that `work` takes: a machine-independent
    measure of cost, for growth ratios."""
    count = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        count += 1
        return tracer

    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


def _growth(make: Callable[[int], str], n: int) -> float:
    """How much more work scanning make(4n) takes than make(n)."""
    small, large = make(n), make(4 * n)
    return (_steps(lambda: ENGINE.scan(Fragment("x", large)))
            / _steps(lambda: ENGINE.scan(Fragment("x", small))))


# --- generators (shared by the tests and the benchmark's cases) -------------------------------

def _alnum(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(length))


def minified_json_of_base64(tokens: int, seed: int = 1) -> str:
    """One line of JSON whose values are base64 of text that starts with LTAI (each a hit of an
    encoded keyword), some of them key-shaped."""
    rng = random.Random(seed)
    values = [base64.b64encode(("LTAI" + _alnum(rng, rng.randint(8, 40))).encode()).decode()
              for _ in range(tokens)]
    return json.dumps({f"k{i}": v for i, v in enumerate(values)}, separators=(",", ":"))


def hex_text(tokens: int, seed: int = 2) -> str:
    """Space-separated hex of LTAI-prefixed text, on one line."""
    rng = random.Random(seed)
    return " ".join(("LTAI" + _alnum(rng, 20)).encode().hex() for _ in range(tokens))


def encoded_keys(count: int) -> tuple[list[str], str]:
    ids = [random_id() for _ in range(count)]
    text = "\n".join(f"k{i}: {base64.b64encode(key.encode()).decode()}"
                     for i, key in enumerate(ids))
    return ids, text + "\n"


def id_secret_pairs(count: int) -> str:
    return "".join(f'id{i} = "{random_id()}"\nsecret{i} = "{random_secret()}"\n'
                   for i in range(count))


# --- decoding ---------------------------------------------------------------------------------

def test_one_line_json_of_base64_tokens_costs_linear_work() -> None:
    assert _growth(minified_json_of_base64, 150) < 6


def test_hex_text_with_encoded_keywords_costs_linear_work() -> None:
    assert _growth(hex_text, 150) < 6


def test_every_hex_encoded_key_on_one_line_is_found() -> None:
    rng = random.Random(7)
    ids = [random_id() for _ in range(300)]
    text = " ".join(f"v={key.encode().hex()}" if i % 2 else _alnum(rng, 30).encode().hex()
                    for i, key in enumerate(ids))
    found = {f.secret for f in ENGINE.scan(Fragment("hex.txt", text)).findings}
    assert {key for i, key in enumerate(ids) if i % 2} <= found


def test_300_encoded_keys_in_one_file_are_all_found() -> None:
    """The decoders used to follow 200 hits per form and say nothing (issue 12)."""
    ids, text = encoded_keys(300)
    result = ENGINE.scan(Fragment("keys.yaml", text))
    assert {f.secret for f in result.findings} == set(ids)
    assert not result.warnings


def test_escaped_keys_on_consecutive_json_lines_are_all_found() -> None:
    """Each line's decode region reached into the next lines (the next line opens a string),
    and all but one of partly overlapping regions were dropped (issue 15: 6 of 14 lost)."""
    ids = [random_id() for _ in range(14)]
    escaped = ["".join(f"\\u{ord(c):04x}" for c in key) for key in ids]
    text = "[\n" + "\n".join(f'"{value}",' for value in escaped) + "\n]\n"
    found = {f.secret: f for f in ENGINE.scan(Fragment("ids.json", text)).findings}
    assert set(found) == set(ids)
    assert [found[key].line for key in ids] == list(range(2, 16))


def test_repeated_keyword_keeps_memory_bounded_and_says_it_stopped(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """48 MB of LTAI held every overlapping hit: 2 GB (issue 12). Here 2 MB, with the cap of
    places followed lowered so that it is reached."""
    monkeypatch.setattr(engine_module, "MAX_HITS_KEPT", 20_000)
    monkeypatch.setattr(decoders_module, "MAX_HITS_KEPT", 20_000)
    text = "LTAI" * 500_000
    tracemalloc.start()
    try:
        verdict = ENGINE.prefilter(text.lower().encode())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"prefilter of 2 MB peaked at {peak / 2**20:.0f} MiB"
    assert len(verdict.hits[b"ltai"]) == 20_001  # the cap, and one to tell that there are more
    result = ENGINE.scan(Fragment("ltai.txt", text), verdict.rules, verdict.hits)
    assert not result.findings
    assert [w for w in result.warnings if "occurs more than 20,000 times" in w
            and w.startswith("ltai.txt: ") and "lower bound" in w]


def test_a_file_with_more_matches_than_kept_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """48 MB of distinct key-shaped values would be millions of findings held in memory: the
    matches kept per file are capped, and the cap is a warning (the count is a lower bound)."""
    monkeypatch.setattr(limits, "MAX_MATCHES_KEPT", 50)
    text = "".join(f"id = {random_id()}\n" for _ in range(120))
    result = ENGINE.scan(Fragment("many.txt", text))
    assert len(result.findings) == 50
    assert [w for w in result.warnings
            if w.startswith("many.txt: more than 50 matches") and "lower bound" in w]


def test_prefilter_finds_keywords_across_its_chunks() -> None:
    """The prefilter searches big contents a piece at a time: a keyword cut by a piece's end
    is still found, once."""
    size = engine_module._PREFILTER_CHUNK
    data = b"x" * (size - 2) + b"ltai" + b"y" * (size - 1) + b"secret" + b"z" * 5
    hits = ENGINE.prefilter(data).hits
    assert hits[b"ltai"] == [size - 2]
    assert hits[b"secret"] == [2 * size + 1]


# --- pairing and context ----------------------------------------------------------------------

def test_pairing_thousands_of_pairs_costs_linear_work() -> None:
    """20,000 pairs in one file took 115 s: each secret was compared with every ID."""
    texts = {n: id_secret_pairs(n) for n in (100, 400)}
    small = _steps(lambda: ENGINE.scan(Fragment("p", texts[100])))
    large = _steps(lambda: ENGINE.scan(Fragment("p", texts[400])))
    assert large / small < 6


def test_each_secret_pairs_with_its_own_id_among_thousands() -> None:
    text = id_secret_pairs(1000)
    findings = ENGINE.scan(Fragment("pairs.env", text)).findings
    by_line = {f.line: f for f in findings}
    assert len(findings) == 2000
    for line in range(2, 2001, 2):
        secret, key = by_line[line], by_line[line - 1]
        assert [p.secret_sha256 for p in secret.paired_with] == [key.secret_sha256]
        assert [p.secret_sha256 for p in key.paired_with] == [secret.secret_sha256]


def test_pairing_prefers_the_closest_id_and_the_one_above_on_a_tie() -> None:
    ids = [random_id() for _ in range(3)]
    secret = random_secret()
    text = (f"a = {ids[0]}\n\n\nb = {ids[1]}\nsecret_key = {secret}\nc = {ids[2]}\n")
    findings = ENGINE.scan(Fragment("t.env", text)).findings
    paired = next(f for f in findings if f.kind == "access-key-secret").paired_with
    assert [p.line for p in paired] == [4]


def test_sts_secret_pairs_with_the_sts_id_before_a_permanent_one() -> None:
    sts_id, key_id = random_sts_id(), random_id()
    secret = _alnum(random.Random(3), 40) + "aB3"
    text = (f'"AccessKeyId": "{key_id}",\n"AccessKeyId": "{sts_id}",\n'
            f'"AccessKeySecret": "{secret}",\n')
    findings = ENGINE.scan(Fragment("sts.json", text)).findings
    sts_secret = next(f for f in findings if f.kind == "sts-access-key-secret")
    assert [p.kind for p in sts_secret.paired_with] == ["sts-access-key-id"]


# --- rules that take too long -----------------------------------------------------------------

_SLOW = """
[[rules]]
id = "slow-rule"
description = "backtracks exponentially"
kind = "access-key-id"
pattern = '''{pattern}'''
placeholders = [{placeholders}]
remediation = "Fix it."
{extra}
"""


def _rule_file(tmp_path: Path, pattern: str, placeholders: str = "", extra: str = "") -> Path:
    path = tmp_path / "slow.toml"
    path.write_text(_SLOW.format(pattern=pattern, placeholders=placeholders, extra=extra),
                    encoding="utf-8")
    return path


def test_a_rule_that_keeps_timing_out_is_stopped_and_said_once(tmp_path: Path) -> None:
    rules = load_rule_file(_rule_file(tmp_path, "(?:a|aa)+b"))
    engine = Engine(rules, timeout=0.05)
    warnings = [w for n in range(6)
                for w in engine.scan(Fragment(f"f{n}.txt", "a" * 5000)).warnings]
    per_file = [w for w in warnings if "timed out after" in w]
    stopped = [w for w in warnings if "is not run on the rest of the scan" in w]
    assert [w.split(":")[0] for w in per_file] == ["f0.txt", "f1.txt", "f2.txt"]
    assert len(stopped) == 1 and "slow-rule" in stopped[0] and "lower bound" in stopped[0]


def test_a_catastrophic_placeholder_times_out_instead_of_hanging(tmp_path: Path) -> None:
    value = "".join(random.Random(4).choices(string.ascii_lowercase, k=40))
    rules = load_rule_file(_rule_file(tmp_path, "(?P<secret>[a-z]{40})",
                                      "'^(?:[a-z]|[a-z]{2})+\\d'"))
    result = Engine(rules, timeout=0.05).scan(Fragment("a.txt", value))
    assert any("'slow-rule' timed out" in w for w in result.warnings)


def test_a_rule_that_times_out_on_its_own_example_is_an_invalid_rule(tmp_path: Path) -> None:
    extra = 'keywords = ["a"]\n[rules.examples]\npositive = ["' + "a" * 60 + '"]'
    rules = load_rule_file(_rule_file(tmp_path, "(?P<secret>(?:a|aa)+b)", extra=extra))
    with pytest.raises(RuleError, match=r"slow-rule.*'pattern': timed out after 0.05s on one"):
        Engine(rules, timeout=0.05)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0"])
def test_a_timeout_that_is_not_a_finite_positive_number_is_refused(
    tmp_path: Path, value: str
) -> None:
    key_file = tmp_path / "a.env"
    key_file.write_text(f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n", encoding="utf-8")
    result = run_akscan(["scan", f"--regex-timeout={value}", str(key_file)], cwd=tmp_path)
    check(result, exit=2, error="--regex-timeout must be a finite number of seconds above 0")
    with pytest.raises(AkscanError, match="finite"):
        Engine(ENGINE.rules, timeout=float(value))


def test_an_infinite_timeout_in_the_settings_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".akscan.toml").write_text("regex_timeout = inf\n", encoding="utf-8")
    (tmp_path / "a.env").write_text(f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n",
                                    encoding="utf-8")
    result = run_akscan(["scan", "."], cwd=tmp_path)
    check(result, exit=2, error="regex_timeout.*finite")


# --- the same inputs as real processes, at CI size here and full size in the benchmark --------

def _scan_file(workdir: Path, name: str, text: str) -> Invocation:
    path = workdir / name
    path.write_text(text, encoding="utf-8")
    return Invocation(["scan", "--format", "json", "-o", "out.json", "-q",
                       str(path)], path.stat().st_size)


@case("detect-minified-json-of-base64", exit=1, max_rss_mib=400)
def _json_case(workdir: Path, large: bool) -> Invocation:
    return _scan_file(workdir, "min.json", minified_json_of_base64(25_000 if large else 1_000))


@case("detect-hex-text-with-encoded-ltai", exit=1, max_rss_mib=400)
def _hex_case(workdir: Path, large: bool) -> Invocation:
    return _scan_file(workdir, "hex.txt", hex_text(20_000 if large else 1_000))


@case("detect-ltai-repeated", exit=2, max_rss_mib=600)
def _ltai_case(workdir: Path, large: bool) -> Invocation:
    # 48 MB (large) or 1 MB: both past the cap of places followed, which is said (exit 2).
    return _scan_file(workdir, "ltai.txt", "LTAI" * ((48 if large else 1) * 250_000))


@case("detect-id-secret-pairs", exit=1, max_rss_mib=600)
def _pairs_case(workdir: Path, large: bool) -> Invocation:
    return _scan_file(workdir, "pairs.env", id_secret_pairs(20_000 if large else 500))


@pytest.mark.parametrize("hostile", cases_in(__name__), ids=lambda c: c.name)
def test_hostile_detection_input_as_a_process(hostile: Any, tmp_path: Path) -> None:
    _, result = hostile.run(tmp_path)
    hostile.check(result)


def test_a_megabyte_line_of_commented_assignments_is_read_in_time_linear_in_it(
    tmp_path: Path
) -> None:
    # Every `SECRET_KEY = 'dev'` starts a search for a literal that continues it, and a comment
    # after it ran on to the line's end: 100 KB of this line took 13 s, a megabyte would have
    # run past the harness's deadline (a hang detector, not a timing). A key split in two
    # literals at the line's end is still joined.
    secret = random_secret()
    line = ("SECRET_KEY = 'dev' # ß " * 45_000
            + f"ACCESS_KEY_SECRET = '{secret[:12]}' '{secret[12:]}'")
    (tmp_path / "settings.py").write_text(line + "\n", encoding="utf-8")
    result = run_akscan(["scan", "-f", "json", "settings.py"], cwd=tmp_path)
    check(result, exit=1, stdout_controls=True)
    found = json.loads(result.stdout)["findings"]
    assert [f["decoded"] for f in found if f["rule_id"] != "alibaba-access-key-id"] == [["concat"]]
