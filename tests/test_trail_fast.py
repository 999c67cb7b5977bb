"""The fast lane of `akscan trail` (msgspec, cached times, grouped calls) reads every trail
exactly as the generic reader does, record by record: same report, same records, same malformed
count and first malformed line, caps reached or not."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest
from fuzz.targets import EVENT, SLS_RECORD, TIMES, TRAIL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from akscan.commands.trail import _read
from akscan.trail import aggregate, fast
from akscan.trail.aggregate import Trail
from akscan.trail.events import NotAnEvent, parse_time, to_call
from akscan.trail.reader import ReadStats, read_records
from akscan.trail.report import Context, InputSummary, build

_SETTINGS = settings(max_examples=300, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))


def _known(ip: str) -> bool:
    return ip.startswith("203.0.113.")


def _document(trail: Trail, summary: InputSummary) -> dict[str, Any]:
    return build(trail, Context(tool_version="0", inputs=[summary], known_ips_given=True,
                                key_list=["LTAI5tUnusedKeyForTheList0"], show_key_ids=True))


def _record_by_record(data: bytes) -> dict[str, Any]:
    """The reader as it was before the fast lane: every record through `to_call`, one call at
    a time into the trail."""
    stats, trail = ReadStats(), Trail(_known)
    for record, line in read_records(io.BytesIO(data), stats):
        try:
            call = to_call(record)
        except NotAnEvent:
            stats.bad(line)
            continue
        if call is None:
            trail.add_without_key()
        else:
            trail.add(call)
    summary = InputSummary("trail", stats.records, stats.malformed, stats.first_malformed,
                           stats.error)
    return _document(trail, summary)


def _fast(data: bytes) -> dict[str, Any]:
    trail, summary = Trail(_known), InputSummary("trail")
    _read(io.BytesIO(data), summary, trail)
    return _document(trail, summary)


def _same(data: bytes) -> None:
    assert _fast(data) == _record_by_record(data)


@_SETTINGS
@given(TRAIL)
def test_any_trail_reads_the_same_through_the_fast_lane(data: bytes) -> None:
    _same(data)


# Ordinary events, the kind the fast lane takes, from a handful of keys, IPs and VPCs, with
# odd records among them: enough distinct names to reach small caps in a few dozen events.
_KEYS = [f"LTAI5tKey{n:02d}abcdefghijkl" for n in range(6)] + ["STS.session1", "STS.session2",
                                                                 "  ", ""]
_ORDINARY = st.fixed_dictionaries({
    "eventName": st.sampled_from(["DescribeInstances", "GetObject", "PutObject", "Decrypt"]),
    "userIdentity": st.fixed_dictionaries({
        "accessKeyId": st.sampled_from(_KEYS),
        "userName": st.sampled_from(["alice", "bob", "carol", "dave"]),
        "accountId": st.sampled_from(["1234567890123456", "2"]),
    }),
    "eventTime": st.one_of(st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01T18:00:07+08:00",
                                            "2024-05-02T05:00:59-0500", "2024-05-01T10:01:02.5Z",
                                            "2024-13-01T10:00:00Z", ""]), TIMES),
    "sourceIpAddress": st.sampled_from(["203.0.113.5", "192.0.2.1", "192.0.2.2", "10.0.0.9",
                                        "2001:db8::1"]),
    "serviceName": st.sampled_from(["Ecs", "Oss", "Kms", "Rds", ""]),
    "eventSource": st.sampled_from(["ecs.aliyuncs.com", "oss-cn-hangzhou.aliyuncs.com"]),
}, optional={
    "vpcId": st.sampled_from(["vpc-a", "vpc-b", ""]),
    "errorCode": st.sampled_from(["", "Forbidden.RAM"]),
    "eventId": st.just("E1"),
})


def _sls(event: dict[str, Any], when: Any) -> dict[str, Any]:
    return {"__topic__": "actiontrail_event", "__time__": when, "event": json.dumps(event)}


_LINE = st.one_of(
    _ORDINARY.map(json.dumps), st.builds(_sls, _ORDINARY, TIMES).map(json.dumps),
    EVENT.map(json.dumps), SLS_RECORD.map(json.dumps),
    st.sampled_from(["", "{", "not json", '{"Records": []}', '{"__time__": 1, "event": "{"}',
                     "  ", "null", "[1, 2]", '{"eventName": NaN}']),
)


@_SETTINGS
@given(st.lists(_LINE, max_size=60), st.booleans(), st.booleans())
def test_grouped_calls_fill_small_caps_as_calls_one_by_one_would(
        lines: list[str], compressed: bool, crlf: bool) -> None:
    data = ("\r\n" if crlf else "\n").join(lines).encode("utf-8", "surrogatepass")
    if compressed:
        data = gzip.compress(data)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (("MAX_KEYS", 3), ("MAX_SOURCES", 2), ("MAX_TOTAL_SOURCES", 5),
                            ("MAX_SERVICES", 2), ("MAX_APIS", 2), ("MAX_SOURCE_SERVICES", 1),
                            ("MAX_NAMES", 1), ("MAX_STS_SESSIONS", 1), ("MAX_STS_PRINCIPALS", 1)):
            patch.setattr(aggregate, name, value)
        patch.setattr(fast, "MAX_GROUPS", 3)  # groups folded in mid-input, many times
        _same(data)


def test_a_nesting_json_refuses_is_malformed_in_the_fast_lane_too() -> None:
    deep = 5000
    lines = [json.dumps({"eventName": "A", "userIdentity": {"accessKeyId": "LTAI5tKey01abc"},
                         "x": "PLACEHOLDER"}).replace('"PLACEHOLDER"', "[" * deep + "]" * deep),
             json.dumps(_sls({"eventName": "A", "userIdentity": {"accessKeyId": "LTAI5tK"},
                              "x": "9" * 4400}, 1)).replace('"' + "9" * 4400 + '"', "9" * 4400),
             json.dumps({"eventName": "A", "x": "PLACEHOLDER"}).replace('"PLACEHOLDER"',
                                                                       "9" * 4400)]
    data = "\n".join(lines).encode()
    document = _fast(data)
    assert document == _record_by_record(data)
    assert document["inputs"][0]["malformed"] == 2


_CLOCK = st.builds(
    lambda *parts: "".join(parts),
    st.sampled_from(["", " "]), st.integers(0, 10000).map(lambda y: f"{y:04d}"[:4]),
    st.just("-"), st.integers(0, 14).map(lambda m: f"{m:02d}"), st.just("-"),
    st.integers(0, 33).map(lambda d: f"{d:02d}"), st.sampled_from(["T", " ", "t"]),
    st.integers(0, 25).map(lambda h: f"{h:02d}"), st.just(":"),
    st.integers(0, 61).map(lambda m: f"{m:02d}"), st.sampled_from([":", "", "::"]),
    st.integers(0, 62).map(lambda s: f"{s:02d}"),
    st.sampled_from(["", ".250", ",5", ".", ".x"]),
    st.sampled_from(["Z", "z", "UTC", "+08:00", "-0500", "+14", "-12:00", "+99:99", "", " Z",
                     "Z ", "\tZ\n", "\u3000", "+8", "Zz"]),
)


@_SETTINGS
@given(st.one_of(_CLOCK, TIMES.filter(lambda t: isinstance(t, str)), st.text(max_size=30),
                 st.none()))
def test_cached_times_are_parse_time(value: str | None) -> None:
    # Twice: once learning the parts, once from the caches.
    assert fast._time(value) == parse_time(value)
    assert fast._time(value) == parse_time(value)


def test_reading_a_gzip_input_early_stopped_ends_its_read_ahead_thread() -> None:
    import sys
    import threading

    interval = sys.getswitchinterval()
    lines = [json.dumps({"eventName": "A", "userIdentity": {"accessKeyId": f"LTAI5tKey{n}"}})
             for n in range(200_000)]
    records = read_records(io.BytesIO(gzip.compress("\n".join(lines).encode())), ReadStats())
    assert next(records)[0]["eventName"] == "A"
    assert any(t.name == "akscan-trail-gunzip" for t in threading.enumerate())
    records.close()
    assert not any(t.name == "akscan-trail-gunzip" for t in threading.enumerate())
    assert sys.getswitchinterval() == interval


def test_a_truncated_gzip_input_read_ahead_keeps_what_came_before() -> None:
    data = gzip.compress("\n".join(json.dumps({"eventName": "A", "n": n})
                                   for n in range(50_000)).encode())
    stats = ReadStats()
    count = sum(1 for _ in read_records(io.BytesIO(data[:len(data) // 2]), stats))
    assert 0 < count < 50_000 and count == stats.records
    assert stats.error and "end-of-stream" in stats.error
