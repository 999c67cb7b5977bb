"""`akscan trail` on hostile trails: odd times, bombs, floods of keys and sources, control
characters and secrets in what it quotes (issues 12 and 15). Each once raised a traceback, ran
for minutes, filled memory, printed raw escapes or echoed a secret."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import RunCli
from hostile.harness import raw_controls
from keys import random_id, random_secret

from akscan.trail import aggregate, reader
from akscan.trail.events import MAX_TEXT, format_time, parse_time

KEY = random_id()


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def event(key: str, ip: str, vpc: str = "", when: Any = "2024-05-01T00:00:00Z",
          user: str = "u", **extra: Any) -> dict[str, Any]:
    record = {"eventId": "e", "eventName": "DescribeInstances", "serviceName": "Ecs",
              "eventTime": when, "sourceIpAddress": ip,
              "userIdentity": {"type": "ram-user", "accessKeyId": key, "userName": user}, **extra}
    if vpc:
        record["vpcId"] = vpc
    return record


def lines(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                            for r in records))
    return path


def report(run_cli: RunCli, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(["trail", "--format", "json", *args])
    assert "Traceback" not in err, err
    return code, json.loads(out) if out.strip() else {}, err


# --------------------------------------------------------------------------- times

@pytest.mark.parametrize("value", [
    "²⁰²⁴", "¹⁷¹⁴⁵²¹⁶⁰⁰", "١٧١٤٥٢١٦٠٠", "１７１４５２１６００", "٢٠٢٤-٠٥-٠١T00:00:00Z",
    "9" * 5000, "1" + "0" * 20, 10 ** 400, float("inf"), float("nan"), -1,
    "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00",
])
def test_times_no_report_can_print_are_no_time(value: Any) -> None:
    assert parse_time(value) is None


def test_the_edges_of_printable_time_still_print() -> None:
    assert format_time(parse_time("9999-12-31T23:59:59Z")) == "9999-12-31T23:59:59Z"
    assert format_time(parse_time("0001-01-01T05:00:00+05:00")) == "0001-01-01T00:00:00Z"
    assert format_time(-1) == "1969-12-31T23:59:59Z"


def test_odd_times_in_a_trail_are_counted_not_a_traceback(run_cli: RunCli,
                                                          tmp_path: Path) -> None:
    sls = {"event": json.dumps({k: v for k, v in event(KEY, "10.0.0.1", "v").items()
                                if k != "eventTime"}), "__time__": "9" * 5000}
    path = lines(tmp_path / "t.jsonl", [
        event(KEY, "10.0.0.1", "v", when="²⁰²⁴"),
        event(KEY, "10.0.0.1", "v", when="9999-12-31T23:00:00-05:00"),
        '{"eventName": "x", "eventTime": ' + "9" * 5000 + "}",  # int() refuses 5,000 digits
        sls,
        event(KEY, "10.0.0.1", "v"),
    ])

    code, document, _ = report(run_cli, str(path))

    assert code == 0
    assert document["summary"]["calls_without_time"] == 3
    assert document["summary"]["malformed_records"] == 1
    assert document["keys"][0]["calls"] == 4
    assert document["keys"][0]["last_seen"] == "2024-05-01T00:00:00Z"


# --------------------------------------------------------------------------- bombs

def _newlines_gz(megabytes: int) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        for _ in range(megabytes):
            gz.write(b"\n" * (1 << 20))
    return out.getvalue()


def test_gzip_that_inflates_too_far_stops_with_a_warning_naming_the_option() -> None:
    data = _newlines_gz(8) + gzip.compress(json.dumps(event(KEY, "10.0.0.1")).encode())
    stats = reader.ReadStats()
    limits = reader.Limits(max_ratio=50, ratio_floor=1 << 20)

    records = list(reader.read_records(io.BytesIO(data), stats, limits))

    assert records == []
    assert stats.error and "--max-ratio" in stats.error and "50 times" in stats.error


def test_max_decompressed_stops_a_gzip_input_and_exits_2(run_cli: RunCli,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(_newlines_gz(3))

    code, _, err = run_cli(["trail", str(path), "--max-decompressed", "1MB"])

    assert code == 2
    assert "decompresses to more than 1 MiB (raise with --max-decompressed); read up to there" \
        in err


def test_bad_ratio_is_a_usage_error(run_cli: RunCli, tmp_path: Path) -> None:
    code, _, err = run_cli(["trail", "x.jsonl", "--max-ratio", "0"])
    assert code == 2 and "invalid ratio '0'" in err


def test_a_megabyte_of_blank_lines_before_the_events_hides_nothing(tmp_path: Path) -> None:
    data = b"\n" * (3 << 20) + json.dumps(event(KEY, "10.0.0.1")).encode() + b"\n{\n"

    stats = reader.ReadStats()
    records = list(reader.read_records(io.BytesIO(data), stats))

    assert [line for _, line in records] == [(3 << 20) + 1]
    assert (stats.malformed, stats.first_malformed) == (1, (3 << 20) + 2)


def test_an_input_with_no_events_at_all_is_a_warning_and_exit_2(run_cli: RunCli,
                                                                 tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    code, _, err = run_cli(["trail", str(empty)])
    assert code == 2 and "empty.jsonl: no ActionTrail events" in err


# --------------------------------------------------------------------------- caps

def test_keys_over_the_key_cap_are_counted_and_their_unknown_ips_still_alert(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aggregate, "MAX_KEYS", 2)
    keys = [random_id() for _ in range(5)]
    path = lines(tmp_path / "t.jsonl", [event(k, "10.0.0.1", "vpc-a") for k in keys[:3]]
                 + [event(keys[3], "192.0.2.9")])

    code, document, err = report(run_cli, str(path))

    assert len(document["keys"]) == 2
    summary = document["summary"]
    assert summary["keys_over_cap_calls"] == 2
    assert summary["calls_with_permanent_keys"] == 4
    assert "more than 2 permanent keys: 2 calls" in summary["caps_reached"][0]
    assert document["alerts"][-1]["keys_over_cap"] and document["alerts"][-1]["calls"] == 1
    assert code == 1
    assert "cap reached: more than 2 permanent keys" in err


def test_a_leaked_key_past_the_key_cap_is_still_listed(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aggregate, "MAX_KEYS", 1)
    leaked = random_id()
    path = lines(tmp_path / "t.jsonl", [event(random_id(), "10.0.0.1", "v"),
                                        event(leaked, "10.0.0.2", "v")])
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps({"version": 1, "findings": [
        {"kind": "access-key-id", "secret_sha256": sha(leaked), "path": "app.py", "line": 3}]}))

    code, document, _ = report(run_cli, str(path), "--findings", str(findings))

    assert code == 1 and document["alerts"][0]["type"] == "leaked-and-used"
    assert document["alerts"][0]["key_id_sha256"] == sha(leaked)


def test_sources_over_the_total_cap_are_counted_in_each_keys_unlisted_row(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aggregate, "MAX_TOTAL_SOURCES", 4)
    keys = [random_id() for _ in range(3)]
    path = lines(tmp_path / "t.jsonl", [event(k, f"10.0.0.{i}", "v") for k in keys
                                        for i in range(3)])

    _, document, err = report(run_cli, str(path))

    listed = sum(len(k["vpc_sources"]) for k in document["keys"])
    unlisted = sum(k["unlisted_sources"]["calls"] for k in document["keys"]
                   if k["unlisted_sources"])
    assert (listed, unlisted) == (4, 5)
    assert "2 key(s) over the source cap" in document["summary"]["caps_reached"][0]
    assert "cap reached: 2 key(s) over the source cap" in err


def test_overlong_names_are_cut(run_cli: RunCli, tmp_path: Path) -> None:
    path = lines(tmp_path / "t.jsonl", [event(KEY, "1" * 100_000, user="u" * 100_000)])

    _, document, _ = report(run_cli, str(path))

    [source] = document["keys"][0]["internet_sources"]
    assert len(source["source_ip"]) == MAX_TEXT and source["source_ip"].endswith("…")
    assert len(document["keys"][0]["user_names"][0]) == MAX_TEXT


def test_thirty_thousand_findings_of_one_key_list_twenty_places_and_count_the_rest(
    run_cli: RunCli, tmp_path: Path
) -> None:
    # Read in 66 s (a list searched for every finding) before; one pass now.
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps({"version": 1, "findings": [
        {"kind": "access-key-id", "secret_sha256": sha(KEY), "path": f"f{i % 29_000}.py",
         "line": 1} for i in range(30_000)]}))
    path = lines(tmp_path / "t.jsonl", [event(KEY, "10.0.0.1", "v")])

    code, document, _ = report(run_cli, str(path), "--findings", str(findings))

    [key] = document["keys"]
    assert len(key["leaked_in"]) == 20 and key["leaked_in_more"] == 28_980
    assert document["alerts"][0]["leaked_in_more"] == 28_980 and code == 1
    _, text, _ = run_cli(["trail", str(path), "--findings", str(findings)])
    assert "and 28980 more" in text


# --------------------------------------------------------------------------- what is printed

@pytest.mark.parametrize("form", ["text", "csv", "json"])
def test_control_characters_from_the_trail_never_reach_the_terminal(
    run_cli: RunCli, tmp_path: Path, form: str
) -> None:
    path = lines(tmp_path / "t.jsonl", [
        event(KEY, "192.0.2.1\x1b[2J", vpc="", user="u\x1b]0;owned\x07\u202e",
              serviceName="Ecs\r\x9b31m")])

    code, out, err = run_cli(["trail", str(path), "--format", form])

    assert code == 1
    assert raw_controls(out) == [] and raw_controls(err) == []
    if form == "json":  # still the same values, escaped as JSON
        user = json.loads(out)["keys"][0]["user_names"][0]
        assert user == "u\x1b]0;owned\x07\u202e"
    else:
        assert "\\x1b[2J" in out


def test_known_ips_error_quoting_a_secret_redacts_it(run_cli: RunCli, tmp_path: Path) -> None:
    key_id, secret = random_id(), random_secret()
    env = tmp_path / ".env"
    env.write_text(f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\n"
                   f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n")
    path = lines(tmp_path / "t.jsonl", [event(KEY, "10.0.0.1", "v")])

    for option in ("--known-ips", "--keys", "--findings"):
        code, out, err = run_cli(["trail", str(path), option, str(env)])
        assert secret not in out + err and secret[4:-4] not in out + err
        assert key_id not in out + err
    code, _, err = run_cli(["trail", str(path), "--known-ips", str(env)])
    assert code == 2 and ".env:1: not an IP address or CIDR block" in err
    assert err.count("\n") == 1


def test_a_lone_surrogate_in_a_key_id_is_replaced_not_a_crash(run_cli: RunCli,
                                                                tmp_path: Path) -> None:
    # Found by the fuzz target: json.loads keeps "\udc80", which no UTF-8 can encode (to hash).
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(event("LTAI5t\udc80abc", "10.0.0.1", "v", user="\ud800")) + "\n")

    code, document, _ = report(run_cli, str(path))

    assert code == 0 and document["keys"][0]["user_names"] == ["\ufffd"]
    assert document["keys"][0]["key_id_sha256"] == sha("LTAI5t\ufffdabc")


@pytest.mark.parametrize("option", ["--known-ips", "--keys"])
def test_a_list_file_that_never_ends_is_a_one_line_error(run_cli: RunCli, tmp_path: Path,
                                                         option: str) -> None:
    path = lines(tmp_path / "t.jsonl", [event(KEY, "10.0.0.1", "v")])

    code, _, err = run_cli(["trail", str(path), option, "/dev/zero"])

    assert code == 2 and err.count("\n") == 1 and "larger than 64 MB; not read" in err
