"""Fuzz targets: each takes one generated input and must return or raise akscan's own error.

A target "crashes" when it raises anything else: that exception would reach the user as a
traceback or an exit 2 for the wrong reason. The same targets run briefly in CI
(tests/fuzz/test_fuzz.py) and for long by hand (`python benchmarks/fuzz.py --count N`).

Inputs are built from pieces that wake each reader (keywords, encodings, archive magic, JSON
event fields, odd times), mixed with arbitrary bytes; archives start from valid seeds and are
then damaged (bytes flipped, cut, inserted), so the readers get past their first check.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import lzma
import re
import string
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from helpers import tar_of, zip_of
from hypothesis import strategies as st

from akscan.errors import AkscanError

_WORK = Path(tempfile.mkdtemp(prefix="akscan-fuzz-"))
_ALNUM = string.ascii_letters + string.digits


def _fake_id(n: int) -> str:  # shape only; deterministic filler, never a real key
    return "LTAI5t" + "".join(_ALNUM[(n * 7 + i * 13) % 62] for i in range(18))


def _fake_secret(n: int) -> str:
    return "".join(_ALNUM[(n * 11 + i * 17 + 5) % 62] for i in range(30))


# --- text that wakes the engine and its decoders ------------------------------------------------

TRIGGERS = [
    "LTAI", "LTAI5t", "STS.", "CAIS", "secret", "access_key_secret = ", "AccessKeySecret: ",
    "AccessKeyId=", "ALIBABA_CLOUD_ACCESS_KEY_ID=", "AcsClient(", 'oss2.Auth("', "akscan:allow",
    "# akscan:allow-next-line\n", "\n", "\r\n", "\r", "\t", '"', "'", "`", "=", ":", "+", "/",
    "%2B", "%3D", "\ufeff", "\x00", "\x1b[2J", "\u202e", "\u2028", "é", "\U0001f600",
    "TFRBSTV0", "U1RTL", "c2VjcmV0", "4c544149", "\\u004c", "\\x4c", "\\u{4c}", "\\U0000004c",
    "\\n", '" + "', "' + '", "\\\n", "akSecret: ", "==", "0x", "\\", "%", "{", "}", "[", "]",
]
_IDS = st.integers(0, 60).map(_fake_id)
_SECRETS = st.integers(0, 60).map(_fake_secret)
_PIECE = st.one_of(
    st.sampled_from(TRIGGERS), st.text(max_size=16), _IDS, _SECRETS,
    st.text(alphabet="ABCDEFabcdef0123456789LTAISsx+/=", min_size=8, max_size=80),
)
TEXT = st.lists(_PIECE, max_size=60).map("".join)


def _encoded(text: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be", "latin-1",
                            "utf-8-sig"]).map(lambda enc: text.encode(enc, "replace"))


ENCODED_TEXT = TEXT.flatmap(_encoded)


# --- archives, from valid seeds, then damaged ----------------------------------------------------

@lru_cache(maxsize=1)
def archive_seeds() -> list[bytes]:
    env = f"ALIBABA_CLOUD_ACCESS_KEY_ID={_fake_id(1)}\nSECRET={_fake_secret(1)}\n".encode()
    members = {"app/.env": env, "../escape.txt": env, "/abs/x.yml": b"a: 1\n" * 40}
    tar = tar_of(members)
    inner_zip = zip_of({"inner.env": env})
    return [
        zip_of(members), tar, gzip.compress(tar), bz2.compress(tar), lzma.compress(tar),
        gzip.compress(env), bz2.compress(env), lzma.compress(env),
        zip_of({"nested.zip": inner_zip, "nested.tgz": gzip.compress(tar_of({"n.env": env}))}),
        b"MZ-prefix" + zip_of(members), gzip.compress(tar)[:-9],
    ]


_EDIT = st.tuples(st.sampled_from(["flip", "cut", "insert", "delete", "repeat"]),
                  st.floats(0, 1), st.binary(min_size=1, max_size=8))


def _damage(data: bytes, edits: list[tuple[str, float, bytes]]) -> bytes:
    for op, where, blob in edits:
        at = int(where * len(data))
        if op == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ (blob[0] or 1)]) + data[at + 1:]
        elif op == "cut":
            data = data[:at]
        elif op == "insert":
            data = data[:at] + blob + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + len(blob):]
        elif op == "repeat":
            data = data[:at] + data[at:at + 64] * 3 + data[at:]
    return data


ARCHIVE = st.builds(_damage, st.integers(0, 10).map(lambda i: archive_seeds()[i]),
                    st.lists(_EDIT, max_size=4))
FILE_BYTES = st.one_of(ENCODED_TEXT, ARCHIVE, st.binary(max_size=2048))


# --- TOML and JSON documents -------------------------------------------------------------------

_TOML_PIECES = [
    "[allowlist]\n", "[[rules]]\n", "[tool.akscan]\n", "[tool]\n", "paths = ", "exclude = ",
    "fingerprints = ", "regexes = ", "max_file_size = ", "max-file-size = ", "jobs = ",
    "regex_timeout = ", "gitignore = ", "disable = ", "rules = ", "id = ", "regex = ",
    "keywords = ", "placeholders = ", "entropy = ", "secret_group = ", "kind = ",
    "examples = ", "negative_examples = ", "context = ", "window = ", "severity = ",
    '"a"', "'b'", '"""x"""', "[", "]", "{", "}", ",", "=", "\n", "1", "-1", "0", "1e999",
    "nan", "inf", "true", "1979-05-27", '"10MB"', '"100GB"', '"(a+)+$"', '"[9-0]"', '"**"',
    '"!"', '"LTAI[A-Za-z0-9]{20}"', '"(?P<secret>x)"', '"\\u0000"', "#", " ", '"' + "[" * 50,
]
TOML = st.lists(st.one_of(st.sampled_from(_TOML_PIECES), st.text(max_size=8)),
                max_size=40).map("".join)

JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from(["", "sha256", "path", "rule_id", "alibaba-access-key-id", "0" * 64]),
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=20,
)


def _baseline_doc(entries: list[Any], version: Any) -> dict[str, Any]:
    return {"version": version, "findings": entries}


BASELINE_ENTRY = st.one_of(
    JSON_VALUE,
    st.fixed_dictionaries({"path": JSON_SCALAR, "rule_id": JSON_SCALAR,
                           "secret_sha256": JSON_SCALAR}),
)
BASELINE = st.one_of(
    st.builds(_baseline_doc, st.lists(BASELINE_ENTRY, max_size=6),
              st.one_of(st.just(1), JSON_SCALAR)).map(lambda d: json.dumps(d).encode()),
    JSON_VALUE.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=256),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
)


# --- ActionTrail events --------------------------------------------------------------------------

TIMES = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.none(),
    st.integers(1, 5000).map(lambda n: "9" * n), st.integers(1, 5000).map(lambda n: f"\0{n}\0"),
    st.sampled_from(["2024-05-01T10:00:00Z", "9999-12-31T23:59:59-12:00",
                     "0001-01-01T00:00:00+14:00", "2024-02-30T00:00:00Z", "²⁰²⁴",
                     "٢٠٢٤-٠٥-٠١T10:00:00Z", "１７１４５６００００", "1714560000", "1714560000123",
                     "2024-05-01 10:00:00+0800", "2024-05-01T24:61:61Z", "-1", "1e400", "NaN"]),
    st.text(alphabet="0123456789-+:TZ ²³¹⁰.,", max_size=30),
)
_IPS = st.sampled_from(["203.0.113.7", "198.51.100.1", "10.0.0.1", "::1", "2001:db8::1",
                        "::ffff:203.0.113.7", "[2001:db8::1]", "fe80::1%eth0", "192.168.XX.XX",
                        "", "not an ip", "\x1b[2J"])
_TEXTISH = st.one_of(st.text(max_size=12), st.sampled_from(["", "ecs", "Ecs.DescribeInstances",
                                                            "\x1b]0;title\x07", "\u202e"]))
EVENT = st.fixed_dictionaries(
    {"eventName": _TEXTISH},
    optional={
        "userIdentity": st.one_of(
            st.fixed_dictionaries({}, optional={
                "accessKeyId": st.one_of(_IDS, st.sampled_from(["STS.abcdefghijklmnopqrstuvwxy",
                                                                "", "LTAI"]), JSON_SCALAR),
                "userName": _TEXTISH, "accountId": JSON_SCALAR, "type": _TEXTISH}),
            JSON_VALUE),
        "sourceIpAddress": st.one_of(_IPS, JSON_SCALAR), "vpcId": st.one_of(_TEXTISH, JSON_SCALAR),
        "eventTime": TIMES, "serviceName": _TEXTISH, "eventSource": JSON_SCALAR,
        "errorCode": JSON_SCALAR, "errorMessage": JSON_SCALAR, "extra": JSON_VALUE,
    },
)
SLS_RECORD = st.builds(lambda e, t: {"event": _dumps(e), "__time__": t, "__topic__": "x"},
                       EVENT, TIMES)
RECORD = st.one_of(EVENT, SLS_RECORD, JSON_VALUE)


_BIG = re.compile(r'"\\u0000(\d+)\\u0000"')


def _dumps(value: Any, indent: int | None = None) -> str:
    """JSON, with "\0N\0" strings written as bare numbers of N digits (json.dumps cannot
    write an int of more than 4,300 digits; a trail can hold one)."""
    return _BIG.sub(lambda m: "9" * int(m.group(1)), json.dumps(value, indent=indent))


def _jsonl(records: list[Any], junk: list[str]) -> bytes:
    lines = [_dumps(r) for r in records] + junk
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def _array(records: list[Any]) -> bytes:
    return _dumps(records, indent=1).encode("utf-8", "surrogatepass")


def _container(records: list[Any]) -> bytes:
    return _dumps({"Records": records}).encode("utf-8", "surrogatepass")


_TRAIL_PLAIN = st.one_of(
    st.builds(_jsonl, st.lists(RECORD, max_size=12),
              st.lists(st.sampled_from(["", "{", "[", "]", "}", "{\"eventName\": 1", "\x00",
                                        "\ufeff{}", "  ", "null"]), max_size=3)),
    st.lists(RECORD, max_size=12).map(_array),
    st.lists(RECORD, max_size=12).map(_container),
    st.binary(max_size=512),
)
TRAIL = st.one_of(_TRAIL_PLAIN, _TRAIL_PLAIN.map(gzip.compress),
                  st.builds(_damage, _TRAIL_PLAIN.map(gzip.compress),
                            st.lists(_EDIT, min_size=1, max_size=3)))
LIST_FILE = st.lists(st.one_of(st.sampled_from(["203.0.113.0/24", "2001:db8::/32", "# c", "",
                                                "10.0.0.1", "999.1.1.1", "1.2.3.4/33", "::/0"]),
                               _IDS, st.text(max_size=20)),
                     max_size=8).map(lambda lines: "\n".join(lines).encode("utf-8", "replace"))


# --- the targets -------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _engine() -> Any:
    from akscan.detect.engine import Engine
    from akscan.rules import builtin_rules_dir, load_rules

    return Engine(load_rules([builtin_rules_dir()]), timeout=5.0)


def scan_bytes(data: bytes) -> None:
    """The whole file path: archive detection, archive readers, decoding, engine, decoders."""
    from akscan.pipeline.files import scan_bytes as scan

    result = scan(data, "fuzz.txt", _engine())
    for finding in result.findings:
        assert finding.secret, finding


def archive_members(data: bytes) -> None:
    """The archive readers alone, on any kind the magic bytes claim (or each kind in turn)."""
    from akscan.sources import archives

    kinds = [archives.kind(data)] if archives.kind(data) else [
        archives.ZIP, archives.TAR, archives.GZIP, archives.BZIP2, archives.XZ]
    for kind in kinds:
        budget = archives.Budget(archives.DEFAULT_LIMITS)
        try:
            for member in archives.members(data, kind, "fuzz.bin", archives.DEFAULT_LIMITS,
                                           budget):
                assert member.name and "\x00" not in member.name, member
        except (archives.ArchiveError, archives.LimitReached):
            pass


def decode_text(data: bytes) -> None:
    """Byte decoding, then each span decoder on the spans its finder gives (base64 and hex
    runs around a position) or on any span (escapes, percent-encoding, split literals)."""
    from akscan.detect import codec
    from akscan.sources.decode import BinaryContent, decode

    try:
        text = decode(data)
    except BinaryContent:
        return
    points = sorted({0, len(text), *range(0, len(text), 7)})
    for pos in points[:-1]:
        if text[pos].isascii() and (text[pos].isalnum() or text[pos] in "+/-_"):
            codec.decode_base64(text, *codec.base64_run_at(text, pos))
        if text[pos] in string.hexdigits:
            start, end = codec.hex_run_at(text, pos, 4096)
            if end - start >= 8:  # the decoders ask only where an 8-digit keyword form is
                codec.decode_hex(text, start, end)
    for match in codec.HEX_RUN.finditer(text):
        codec.decode_hex(text, match.start(), match.end())
    for decoder in (codec.decode_escapes, codec.decode_percent, codec.join_literals):
        for start in points[:12]:
            for end in points[-4:]:
                if start <= end:
                    decoder(text, start, end)


def _file(name: str, data: bytes) -> Path:
    path = _WORK / name
    path.write_bytes(data)
    return path


def config_file(data: bytes) -> None:
    from akscan.config import load_config

    for name in (".akscan.toml", "pyproject.toml"):
        with contextlib.suppress(AkscanError):
            load_config(_file(name, data))


def rule_file(data: bytes) -> None:
    from akscan.rules import load_rule_file

    with contextlib.suppress(AkscanError):
        load_rule_file(_file("rules.toml", data))


def baseline_file(data: bytes) -> None:
    from akscan.baseline import load

    with contextlib.suppress(AkscanError):
        load(_file("baseline.json", data))


def trail_reader(data: bytes) -> None:
    """Reader, events, aggregation, report and every output format, on one input."""
    from akscan.commands.trail import _read
    from akscan.trail.aggregate import Trail
    from akscan.trail.render import WRITERS
    from akscan.trail.report import Context, InputSummary, build

    trail = Trail(lambda ip: ip.startswith("203.0.113."))
    summary = InputSummary("fuzz.jsonl")
    _read(io.BytesIO(data), summary, trail)
    document = build(trail, Context(tool_version="0", inputs=[summary], known_ips_given=True,
                                    key_list=[_fake_id(1)], leaks={}, show_key_ids=False))
    for write in WRITERS.values():
        write(io.StringIO(), document)


def trail_lists(data: bytes) -> None:
    """--known-ips, --keys and --findings files."""
    from akscan.trail import inputs

    path = str(_file("list.txt", data))
    for load in (inputs.load_known_ips, inputs.load_key_list, inputs.load_leaks):
        with contextlib.suppress(AkscanError):
            load(path)


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    inputs: st.SearchStrategy[bytes]


TARGETS = {t.name: t for t in [
    Target("scan_bytes", scan_bytes, FILE_BYTES),
    Target("archives", archive_members, st.one_of(ARCHIVE, st.binary(max_size=1024))),
    Target("decoders", decode_text, ENCODED_TEXT),
    Target("config", config_file, TOML.map(lambda t: t.encode("utf-8", "surrogatepass"))),
    Target("rules", rule_file, TOML.map(lambda t: t.encode("utf-8", "surrogatepass"))),
    Target("baseline", baseline_file, BASELINE),
    Target("trail", trail_reader, TRAIL),
    Target("trail_lists", trail_lists, st.one_of(LIST_FILE, BASELINE)),
]}
