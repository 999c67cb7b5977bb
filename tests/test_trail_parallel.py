"""JSON lines folded in worker processes (`akscan trail -j N`, past `Folder.after` characters)
give the same trail as folding them in one process: same report, records, malformed count and
first malformed line, caps reached or not; a worker's death is said; no worker outlives the
read; a small input starts none."""

from __future__ import annotations

import gzip
import io
import json
import multiprocessing
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trail_fast import _LINE, _document, _known

from akscan.commands.trail import _read
from akscan.pipeline import workers
from akscan.trail import aggregate, fast, reader
from akscan.trail.aggregate import Trail
from akscan.trail.report import InputSummary

_CAPS = (("MAX_KEYS", 3), ("MAX_SOURCES", 2), ("MAX_TOTAL_SOURCES", 5), ("MAX_SERVICES", 2),
         ("MAX_APIS", 2), ("MAX_SOURCE_SERVICES", 1), ("MAX_NAMES", 1),
         ("MAX_STS_SESSIONS", 1), ("MAX_STS_PRINCIPALS", 1))


@pytest.fixture(autouse=True)
def _small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks of 256 characters and batches of 1,000: a few KB of lines make many of each.
    monkeypatch.setattr(reader, "CHUNK", 256)
    monkeypatch.setattr(fast, "BATCH", 1000)


def _report(data: bytes, jobs: int, after: int = 0) -> tuple[dict[str, Any], int]:
    trail, summary = Trail(_known), InputSummary("trail")
    events = _read(io.BytesIO(data), summary, trail, None, jobs, after=after)
    return _document(trail, summary), events


def _same(data: bytes) -> dict[str, Any]:
    one, events = _report(data, 1)
    assert _report(data, 2) == (one, events)
    assert multiprocessing.active_children() == []
    return one


def _event(n: int, key: str = "LTAI5tKeyAbcdefghijkl0") -> dict[str, Any]:
    return {"eventId": f"E{n}", "eventName": f"Api{n % 7}", "serviceName": f"S{n % 3}",
            "eventTime": f"2024-05-01T10:{n % 60:02d}:00Z",
            "sourceIpAddress": f"192.0.2.{n % 9}", "vpcId": "vpc-a" if n % 5 == 0 else "",
            "userIdentity": {"accessKeyId": key if n % 11 else f"STS.s{n % 4}",
                             "userName": f"u{n % 3}", "accountId": "1"}}


def _sls(n: int) -> str:
    return json.dumps({"__time__": 1714557600 + n, "event": json.dumps(_event(n))})


def _trail_lines(count: int) -> list[str]:
    lines = []
    for n in range(count):
        key = f"LTAI5tKey{n % 13:03d}xyzabcdefg"
        lines.append(_sls(n) if n % 3 else json.dumps(_event(n, key)))
        if n % 17 == 3:
            lines.append('{"__time__": 1, "event": "{\\"eventName\\": \\"cut')  # malformed
        if n % 23 == 4:
            lines.append("")
        if n % 29 == 5:
            lines.append(json.dumps({"Records": [_event(n), _event(n + 1), 7]}))
    return lines


def test_an_ordinary_trail_folds_the_same_in_workers() -> None:
    data = ("\n".join(_trail_lines(600)) + "\n").encode()
    document = _same(data)
    assert document["summary"]["events"] > 600
    assert document["inputs"][0]["malformed"] > 30


def test_a_gzip_trail_with_crlf_lines_folds_the_same_in_workers() -> None:
    _same(gzip.compress("\r\n".join(_trail_lines(400)).encode()))


def test_small_caps_are_reached_as_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _CAPS:
        monkeypatch.setattr(aggregate, name, value)
    document = _same(("\n".join(_trail_lines(500))).encode())
    assert document["summary"]["caps_reached"]


def test_overlong_lines_are_malformed_and_numbered_as_in_one_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_RECORD", 700)
    lines = _trail_lines(300)
    for at in (50, 120, 121, 260):
        lines.insert(at, json.dumps({"eventName": "Long", "pad": "x" * 3000}))
    _same(("\n".join(lines) + "\n").encode())


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(_LINE, min_size=1, max_size=80), st.booleans(), st.booleans())
def test_any_lines_fold_the_same_in_workers(lines: list[str], compressed: bool,
                                            crlf: bool) -> None:
    data = ("\r\n" if crlf else "\n").join(lines).encode("utf-8", "surrogatepass")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _CAPS:
            patch.setattr(aggregate, name, value)
        _same(gzip.compress(data) if compressed else data)


def test_a_small_input_starts_no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a pool was started")

    monkeypatch.setattr(workers, "run_batches", no_pool)
    data = ("\n".join(_trail_lines(200)) + "\n").encode()
    trail, summary = Trail(_known), InputSummary("trail")
    assert _read(io.BytesIO(data), summary, trail, None, 2, after=len(data)) > 200


def test_a_batch_whose_worker_dies_twice_is_said_and_the_rest_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = fast._fold_batch

    def dies_on_the_second_batch(batch: list[tuple[int, list[reader.Piece]]]) -> Any:
        if batch[0][0] == 1:
            os._exit(9)  # as the OOM killer would end it
        return real(batch)

    monkeypatch.setattr(fast, "_fold_batch", dies_on_the_second_batch)
    lines = [json.dumps(_event(n)) for n in range(200)]
    lines[150] = "{"  # a malformed line after the lost batch: still numbered right
    trail, summary = Trail(_known), InputSummary("trail")
    events = _read(io.BytesIO(("\n".join(lines) + "\n").encode()), summary, trail, None, 2,
                   after=0)
    assert summary.error and "not read: the worker process reading them died" in summary.error
    lost = int(summary.error.split()[0])
    assert 0 < lost < 199 and events == 199 - lost
    assert summary.malformed == 1 and summary.first_malformed == 151
    assert multiprocessing.active_children() == []


def test_jobs_must_be_a_whole_number_from_one(run_cli: Any) -> None:
    code, _, err = run_cli(["trail", "x.jsonl", "-j", "0"])
    assert code == 2 and "invalid jobs '0'" in err
