"""`akscan trail`: ActionTrail events in, per-key usage, alerts and exit codes out."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trailgen
from helpers import RunCli
from keys import random_id, random_sts_id

from akscan.trail import aggregate, reader
from akscan.trail.events import format_time, parse_time

KEY = random_id()  # synthetic, fresh for every run: no key is committed


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Fixture:
    dir: Path
    plan: trailgen.Plan
    truth: trailgen.Truth
    files: list[str]
    lists: dict[str, Path]


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    """3,000 events in five files, one per form (SLS lines, nested lines in gzip, a gzip OSS
    array, a Records document, pretty-printed objects), malformed lines in the line forms."""
    out = tmp_path_factory.mktemp("trail")
    plan = trailgen.make_plan(seed=7)
    truth = trailgen.write_trail(out, plan, 3000, seed=7, malformed_every=199)
    files = sorted(str(p) for p in out.iterdir() if p.is_file())
    return Fixture(out, plan, truth, files, trailgen.write_lists(out / "lists", plan))


def report(run_cli: RunCli, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(["trail", "--format", "json", *args])
    assert "Traceback" not in err, err
    return code, json.loads(out) if out.strip() else {}, err


def by_key(document: dict[str, Any], key_id: str) -> dict[str, Any]:
    [entry] = [k for k in document["keys"] if k["key_id_sha256"] == sha(key_id)]
    return entry


# --------------------------------------------------------------------------- the report


def test_every_source_of_every_key_adds_up_to_what_was_generated(
    run_cli: RunCli, trail: Fixture
) -> None:
    code, document, _ = report(run_cli, *trail.files, "--known-ips",
                               str(trail.lists["known_ips"]))

    seen: dict[tuple[str, str, str, str], list[Any]] = {}
    ids = {sha(k): k for k in trail.plan.all_keys}
    for key in document["keys"]:
        key_id = ids[key["key_id_sha256"]]
        for source in key["vpc_sources"]:
            seen[(key_id, "vpc", source["vpc_id"], source["source_ip"])] = [
                source["calls"], source["failed_calls"], source["first_seen"],
                source["last_seen"]]
        for source in key["internet_sources"]:
            seen[(key_id, "internet", "", source["source_ip"])] = [
                source["calls"], source["failed_calls"], source["first_seen"],
                source["last_seen"]]
    expected = {where: [calls, failed, format_time(first), format_time(last)]
                for where, (calls, failed, first, last) in trail.truth.sources.items()}
    assert seen == expected
    summary = document["summary"]
    assert summary["events"] == trail.truth.events
    assert summary["events_without_access_key"] == trail.truth.without_key
    assert summary["calls_with_sts_keys"] == trail.truth.sts_calls
    assert document["sts"]["sessions"] == len(trail.truth.sts_sessions)
    assert summary["malformed_records"] == trail.truth.malformed
    assert code == 1  # the planted unknown IPs


def test_keys_used_from_vpcs_are_named_with_vpc_and_ip_and_told_to_use_a_ram_role(
    run_cli: RunCli, trail: Fixture
) -> None:
    _, document, _ = report(run_cli, *trail.files, "--known-ips",
                            str(trail.lists["known_ips"]))

    for key_id in trail.plan.vpc_keys:
        entry = by_key(document, key_id)
        assert "used-from-vpc" in entry["status"]
        spec = next(k for k in trail.plan.busy if k.key_id == key_id)
        assert {(s["vpc_id"], s["source_ip"]) for s in entry["vpc_sources"]} == set(spec.vpc)
        advice = " ".join(entry["remediation"])
        for step in ("Attach a RAM role", "security hardening", "instance's credentials",
                     "delete it"):
            assert step in advice
    for key_id in trail.plan.own_ip_keys:
        assert "used-from-vpc" not in by_key(document, key_id)["status"]
    assert document["summary"]["keys_used_from_vpc"] == len(trail.plan.vpc_keys) + 1  # leaked


def test_every_unknown_internet_ip_is_an_alert_and_own_ips_are_marked_yours(
    run_cli: RunCli, trail: Fixture
) -> None:
    code, document, _ = report(run_cli, *trail.files, "--known-ips",
                               str(trail.lists["known_ips"]))

    alerts = [a for a in document["alerts"] if a["type"] == "unknown-internet-ip"]
    assert sorted(a["source_ip"] for a in alerts) == sorted(trailgen.UNKNOWN_IPS)
    for alert in alerts:
        assert alert["calls"] == trail.plan.rare_per_ip
    owners = {s["source_ip"]: s["owner"] for k in document["keys"]
              for s in k["internet_sources"]}
    assert {ip for ip, owner in owners.items() if owner == "yours"} == set(trailgen.OWN_IPS)
    assert code == 1


def test_without_known_ips_every_internet_ip_is_unknown(run_cli: RunCli, trail: Fixture) -> None:
    code, document, _ = report(run_cli, *trail.files)

    ips = {a["source_ip"] for a in document["alerts"] if a["type"] == "unknown-internet-ip"}
    assert ips == set(trailgen.OWN_IPS) | set(trailgen.UNKNOWN_IPS)
    assert document["summary"]["known_ips_given"] is False
    assert code == 1


def test_key_found_leaked_by_a_scan_and_in_use_is_the_first_alert(
    run_cli: RunCli, trail: Fixture, tmp_path: Path
) -> None:
    findings = tmp_path / "findings.json"
    code, _, _ = run_cli(["scan", str(trail.lists["repo"]), "--format", "json",
                          "-o", str(findings), "-q"])
    assert code == 1

    code, document, _ = report(run_cli, *trail.files, "--known-ips",
                               str(trail.lists["known_ips"]), "--findings", str(findings))

    first = document["alerts"][0]
    leaked = trail.plan.leaked
    assert first["type"] == "leaked-and-used"
    assert first["key_id_sha256"] == sha(leaked.key_id)
    assert first["redacted"] == f"{leaked.key_id[:6]}…{leaked.key_id[-2:]}"
    assert first["leaked_in"] == [{"path": ".env", "line": 1}]
    assert {(s["endpoint"], s["source_ip"]) for s in first["sources"]} == {
        ("internet", trailgen.UNKNOWN_IPS[2]), *(("vpc", ip) for _, ip in leaked.vpc)}
    assert document["keys"][0]["key_id_sha256"] == sha(leaked.key_id)
    assert document["summary"]["leaked_and_used"] == 1
    assert code == 1


def test_generated_findings_file_matches_the_same_key(run_cli: RunCli, trail: Fixture) -> None:
    _, document, _ = report(run_cli, *trail.files, "--findings", str(trail.lists["findings"]))

    assert [a["key_id_sha256"] for a in document["alerts"] if a["type"] == "leaked-and-used"] \
        == [sha(trail.plan.leaked.key_id)]


def test_keys_in_the_ram_list_without_calls_are_cleanup_candidates(
    run_cli: RunCli, trail: Fixture
) -> None:
    _, document, _ = report(run_cli, *trail.files, "--keys", str(trail.lists["keys"]))

    assert [k["key_id_sha256"] for k in document["unused_keys"]] == \
        [sha(k) for k in trail.plan.unused]
    assert "delete" in document["unused_keys"][0]["remediation"]
    assert all(k["in_key_list"] is True for k in document["keys"])
    assert document["summary"]["unused_keys"] == 2


def test_sts_keys_are_summarised_and_never_reported_as_keys(
    run_cli: RunCli, trail: Fixture
) -> None:
    _, document, _ = report(run_cli, *trail.files)

    assert {k["key_id_sha256"] for k in document["keys"]} <= {sha(k) for k in trail.plan.all_keys}
    sts = document["sts"]
    assert sts["calls"] == trail.truth.sts_calls
    assert sts["vpc_calls"] + sts["internet_calls"] == sts["calls"]
    assert list(sts["principals"]) == ["EcsWorkerRole:i-bp1worker"]


def test_key_ids_appear_only_redacted_unless_asked_for(run_cli: RunCli, trail: Fixture) -> None:
    for fmt in ("text", "json", "csv"):
        _, out, _ = run_cli(["trail", *trail.files, "--keys", str(trail.lists["keys"]),
                             "--format", fmt])
        assert not any(k in out for k in trail.plan.all_keys), fmt
    _, document, _ = report(run_cli, *trail.files, "--show-key-ids")
    assert {k["key_id"] for k in document["keys"]} == set(trail.plan.all_keys) - set(
        trail.plan.unused)


def test_text_report_leads_with_alerts_then_a_table_of_keys(
    run_cli: RunCli, trail: Fixture
) -> None:
    code, out, err = run_cli(["trail", *trail.files, "--known-ips", str(trail.lists["known_ips"]),
                              "--findings", str(trail.lists["findings"])])

    lines = out.splitlines()
    leaked = trail.plan.leaked.key_id
    redacted = f"{leaked[:6]}…{leaked[-2:]}"
    alert_lines = [line for line in lines if line.startswith(("LEAKED", "UNKNOWN"))]
    assert alert_lines[0].startswith(f"LEAKED AND IN USE: {redacted} (old-intern) found in .env:1")
    assert len(alert_lines) == 1 + len(trailgen.UNKNOWN_IPS)
    header = next(line for line in lines if line.startswith("KEY "))
    assert header.split() == ["KEY", "USER", "CALLS", "ERRORS", "FIRST", "SEEN", "LAST", "SEEN",
                              "VPC", "INTERNET", "UNKNOWN", "STATUS"]
    first_row = lines[lines.index(header) + 1]
    assert first_row.startswith(redacted) and "leaked-and-used" in first_row
    assert "vpc-bp1orders0001  172.16.3.10" in out
    assert "STS temporary keys (expected use, not leaks)" in out
    assert "alert(s)" in err and code == 1


def test_csv_has_one_row_per_key_and_source(run_cli: RunCli, trail: Fixture) -> None:
    code, out, _ = run_cli(["trail", *trail.files, "--known-ips", str(trail.lists["known_ips"]),
                            "--keys", str(trail.lists["keys"]), "--format", "csv"])

    rows = list(csv.DictReader(io.StringIO(out)))
    used = [r for r in rows if r["endpoint"] != "none"]
    assert len(used) == len(trail.truth.sources)
    assert sum(int(r["calls"]) for r in used) == sum(v[0] for v in trail.truth.sources.values())
    assert {r["source_ip"] for r in used if r["owner"] == "unknown"} == set(trailgen.UNKNOWN_IPS)
    assert [r["key_id_sha256"] for r in rows if r["endpoint"] == "none"] == \
        [sha(k) for k in trail.plan.unused]
    assert code == 1


def test_output_file(run_cli: RunCli, trail: Fixture, tmp_path: Path) -> None:
    target = tmp_path / "trail.json"
    _, out, _ = run_cli(["trail", trail.files[0], "-f", "json", "-o", str(target)])
    assert out == ""
    assert json.loads(target.read_text())["version"] == 1


# --------------------------------------------------------------------------- exit codes


def _events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def _event(key: str, ip: str, vpc: str = "", when: str = "2024-05-01T00:00:00Z",
           **extra: Any) -> dict[str, Any]:
    event = {"eventId": "e", "eventName": "DescribeInstances", "serviceName": "Ecs",
             "eventTime": when, "sourceIpAddress": ip,
             "userIdentity": {"type": "ram-user", "accessKeyId": key, "userName": "u"}, **extra}
    if vpc:
        event["vpcId"] = vpc
    return event


def test_clean_trail_exits_0(run_cli: RunCli, tmp_path: Path) -> None:
    key = trailgen.make_plan(3).busy[0].key_id
    path = _events(tmp_path / "t.jsonl", [_event(key, "172.16.0.1", "vpc-a"),
                                          _event(key, "203.0.113.5")])
    known = tmp_path / "ips"
    known.write_text("203.0.113.0/24  # office\n")

    code, document, err = report(run_cli, str(path), "--known-ips", str(known))

    assert code == 0 and document["alerts"] == []
    assert "no alerts" in err


@pytest.mark.parametrize(("content", "message"), [
    ("10.0.0.1\nnot-an-ip\n", ":2: not an IP address or CIDR block: 'not-an-ip'"),
    ("", None),
])
def test_known_ips_file_errors_name_the_line(
    run_cli: RunCli, tmp_path: Path, content: str, message: str | None
) -> None:
    path = _events(tmp_path / "t.jsonl", [_event(KEY, "192.0.2.1")])
    known = tmp_path / "ips"
    known.write_text(content)

    code, _, err = run_cli(["trail", str(path), "--known-ips", str(known)])

    if message:
        assert code == 2 and message in err and err.count("\n") == 1
    else:  # an empty list is valid: nothing is yours
        assert code == 1


def test_errors_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n{broken\n")
    good = _events(tmp_path / "t.jsonl", [_event(KEY, "10.0.0.1", "v")])
    notreport = tmp_path / "findings.json"
    notreport.write_text('{"findings": "no"}')

    assert run_cli(["trail", str(tmp_path / "missing.jsonl")])[0] == 2
    code, _, err = run_cli(["trail", str(garbage)])
    assert code == 2 and "no ActionTrail events (2 malformed record(s))" in err
    assert run_cli(["trail", str(good), "--findings", str(notreport)])[0] == 2
    assert run_cli(["trail", str(good), "--keys", str(garbage)])[0] == 2
    assert run_cli(["trail", str(good), "--format", "xml"])[0] == 2
    assert run_cli(["trail"])[0] == 2
    # One unreadable input among good ones: reported, the rest still read.
    code, _, err = run_cli(["trail", str(good), str(tmp_path / "missing.jsonl")])
    assert code == 2 and "missing.jsonl: cannot read" in err


def test_alerts_win_over_errors(run_cli: RunCli, tmp_path: Path) -> None:
    path = _events(tmp_path / "t.jsonl", [_event(KEY, "192.0.2.1")])
    assert run_cli(["trail", str(path), str(tmp_path / "missing")])[0] == 1


# --------------------------------------------------------------------------- real-world input


def test_malformed_records_are_one_warning_with_count_and_first_line(
    run_cli: RunCli, trail: Fixture
) -> None:
    sls = next(f for f in trail.files if f.endswith("sls.jsonl"))
    _, document, err = report(run_cli, *trail.files)

    warnings = [line for line in err.splitlines() if "malformed" in line]
    assert warnings == [f"akscan: warning: {trail.truth.malformed} malformed record(s) skipped "
                        f"(first: {trail.files[0]} line "
                        f"{trail.truth.first_malformed[Path(trail.files[0]).name]})"]
    [entry] = [i for i in document["inputs"] if i["path"] == sls]
    assert entry["first_malformed_line"] == trail.truth.first_malformed["sls.jsonl"]


def test_truncated_gzip_keeps_what_was_read_and_says_so(run_cli: RunCli, tmp_path: Path) -> None:
    events = [_event(KEY, f"10.0.{i // 250}.{i % 250}", "vpc-a")
              for i in range(2000)]
    data = gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode())
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])

    code, document, err = report(run_cli, str(path))

    assert 0 < document["summary"]["events"] < 2000
    assert code == 2 and "cut.gz:" in err and "read up to there" in err


def test_standard_input_gzip_is_detected_by_magic_bytes(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = gzip.compress(json.dumps([_event(KEY, "10.0.0.1", "vpc-a")])
                         .encode())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    code, document, _ = report(run_cli, "-")

    assert code == 0 and document["keys"][0]["vpc_sources"][0]["vpc_id"] == "vpc-a"


def test_times_in_any_zone_are_normalised_to_utc(run_cli: RunCli, tmp_path: Path) -> None:
    key = KEY
    path = _events(tmp_path / "t.jsonl", [
        _event(key, "10.0.0.1", "v", when="2024-05-01T08:00:00+08:00"),  # 00:00Z
        _event(key, "10.0.0.1", "v", when="2024-04-30T18:59:59-0500"),  # 23:59:59Z
        {"__time__": "1714608000", "event": json.dumps(  # 2024-05-02T00:00:00Z, no eventTime
            {k: v for k, v in _event(key, "10.0.0.1", "v").items() if k != "eventTime"})},
    ])

    _, document, _ = report(run_cli, str(path))

    entry = document["keys"][0]
    assert (entry["first_seen"], entry["last_seen"]) == ("2024-04-30T23:59:59Z",
                                                         "2024-05-02T00:00:00Z")


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-05-01T00:00:00Z", 1714521600),
    ("2024-05-01T00:00:00.123456Z", 1714521600),
    ("2024-05-01T08:00:00+08:00", 1714521600),
    ("2024-05-01T08:00:00+0800", 1714521600),
    ("2024-04-30T19:00:00-05:00", 1714521600),
    ("2024-05-01 00:00:00", 1714521600),  # no zone: UTC, as ActionTrail writes
    ("2024-05-01T00:00Z", 1714521600),
    (1714521600, 1714521600),
    ("1714521600", 1714521600),
    (1714521600123, 1714521600),  # milliseconds
    ("2024-02-30T00:00:00Z", None),
    ("2024-05-01T24:00:00Z", None),
    ("yesterday", None),
    (True, None),
    (None, None),
])
def test_parse_time(value: Any, expected: int | None) -> None:
    assert parse_time(value) == expected


def _read(data: bytes) -> tuple[list[tuple[dict[str, Any], int]], reader.ReadStats]:
    stats = reader.ReadStats()
    return list(reader.read_records(io.BytesIO(data), stats)), stats


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_documents_are_read_in_chunks_whatever_their_layout(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(reader, "CHUNK", chunk)
    events = [{"eventId": str(i), "eventName": "x" * (i * 13 % 50), "n": [i, {"s": "é\\\"}"}]}
              for i in range(40)]
    layouts = {
        "array": json.dumps(events),
        "pretty array": json.dumps(events, indent=2),
        "records": json.dumps({"Records": events}, indent=1),
        "lookup events": json.dumps({"Events": events, "RequestId": "r"}),
        "pretty objects": "\n".join(json.dumps(e, indent=2) for e in events),
        "lines": "\n".join(json.dumps(e) for e in events),
        "lines with bom and blanks": "\ufeff\n\n" + "\n\n".join(json.dumps(e) for e in events),
    }
    for name, text in layouts.items():
        for data in (text.encode(), gzip.compress(text.encode())):
            records, stats = _read(data)
            assert [r for r, _ in records] == events, name
            assert stats.malformed == 0, name


def test_malformed_array_element_is_counted_and_the_rest_read() -> None:
    good = [json.dumps({"eventId": str(i)}) for i in range(5)]
    text = "[\n" + ",\n".join([*good[:2], '{"eventId": "2", oops}', *good[3:]]) + "\n]\n"

    records, stats = _read(text.encode())

    assert [r["eventId"] for r, _ in records] == ["0", "1", "3", "4"]
    assert (stats.malformed, stats.first_malformed) == (1, 4)
    assert [line for _, line in records] == [2, 3, 5, 6]


def test_overlong_line_is_one_malformed_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_RECORD", 100)
    text = '{"eventId": "a"}\n{"eventId": "' + "x" * 500 + '"}\n{"eventId": "b"}\n'

    records, stats = _read(text.encode())

    assert [r["eventId"] for r, _ in records] == ["a", "b"]
    assert (stats.malformed, stats.first_malformed) == (1, 2)
    assert [line for _, line in records] == [1, 3]


def test_sources_over_the_cap_are_counted_and_unknown_ones_still_alert(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aggregate, "MAX_SOURCES", 3)
    key = KEY
    path = _events(tmp_path / "t.jsonl", [_event(key, f"10.0.0.{i}", "vpc-a") for i in range(3)]
                   + [_event(key, f"192.0.2.{i}") for i in range(5)])

    code, document, _ = report(run_cli, str(path))

    entry = document["keys"][0]
    assert len(entry["vpc_sources"]) + len(entry["internet_sources"]) == 3
    assert entry["unlisted_sources"]["calls"] == 5
    assert entry["unlisted_sources"]["from_unknown_ips"] == 5
    assert entry["calls"] == 8
    assert document["alerts"][-1]["source_ip"] is None and code == 1


def test_events_without_an_access_key_and_other_json_are_not_keys(
    run_cli: RunCli, tmp_path: Path
) -> None:
    console = _event("", "203.0.113.5")
    del console["userIdentity"]["accessKeyId"]
    path = _events(tmp_path / "t.jsonl", [console, {"hello": "world"},
                                          _event(random_sts_id(), "192.0.2.1")])

    code, document, _ = report(run_cli, str(path))

    assert document["keys"] == [] and document["alerts"] == []
    assert document["summary"]["events_without_access_key"] == 1
    assert document["summary"]["malformed_records"] == 1  # the JSON that is not an event
    assert document["sts"]["calls"] == 1 and code == 0
