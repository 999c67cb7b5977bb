"""`akscan trail` as a real process on hostile trails (issue 12): bombs, floods of distinct
keys and IPs, one key in 30,000 findings, odd times, escapes. The same generators run at full
size in `python benchmarks/bench_hostile.py --large -k trail`."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import string
from pathlib import Path

import pytest

from hostile.harness import Case, Invocation, case, cases_in, check, run_akscan

_ALNUM = string.ascii_letters + string.digits


def _key(rng: random.Random) -> str:  # random, in the real shape; never a real key
    return "LTAI5t" + "".join(rng.choice(_ALNUM) for _ in range(18))


def _event(key: str, ip: str, when: object = "2024-05-01T00:00:00Z", user: str = "u") -> str:
    return json.dumps({"eventId": "e", "eventName": "DescribeInstances", "serviceName": "Ecs",
                       "eventTime": when, "sourceIpAddress": ip,
                       "userIdentity": {"type": "ram-user", "accessKeyId": key,
                                        "userName": user}}) + "\n"


@case("trail-gzip-of-newlines", exit=2, max_rss_mib=400)
def _newline_bomb(work: Path, large: bool) -> Invocation:
    # 4 GB of newlines in a 4 MB gzip ran for 18 minutes; the ratio bound stops it at 256 MiB.
    megabytes = 4096 if large else 48
    path = work / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        block = b"\n" * (1 << 20)
        for _ in range(megabytes):
            out.write(block)
    extra = [] if large else ["--max-decompressed", "32MB"]
    return Invocation(["trail", str(path), *extra], path.stat().st_size)


@case("trail-distinct-key-ip-pairs", exit=1, max_rss_mib=1024)
def _distinct_pairs(work: Path, large: bool) -> Invocation:
    # 1 GB of distinct key x IP pairs peaked at 6.8 GB RSS with a 2.4 GB report.
    rng = random.Random(12)
    path = work / "pairs.jsonl"
    target = (1 << 30) if large else (6 << 20)
    keys = [_key(rng) for _ in range(20_000 if large else 2_000)]
    written = 0
    with path.open("w") as out:
        n = 0
        while written < target:
            line = _event(keys[n % len(keys)], f"{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}.1")
            out.write(line)
            written += len(line)
            n += 1
    return Invocation(["trail", str(path), "-f", "json", "-o", str(work / "report.json")],
                      written)


@case("trail-one-key-in-many-findings", exit=1, max_rss_mib=1024)
def _same_digest(work: Path, large: bool) -> Invocation:
    # 30,000 findings with the same digest took 66 s (quadratic).
    rng = random.Random(3)
    key = _key(rng)
    count = 300_000 if large else 30_000
    digest = hashlib.sha256(key.encode()).hexdigest()
    findings = work / "findings.json"
    findings.write_text(json.dumps({"version": 1, "findings": [
        {"kind": "access-key-id", "secret_sha256": digest, "path": f"src/f{i}.py", "line": i}
        for i in range(count)]}))
    trail = work / "t.jsonl"
    trail.write_text(_event(key, "10.0.0.1"))
    return Invocation(["trail", str(trail), "--findings", str(findings)],
                      findings.stat().st_size)


@case("trail-odd-times", exit=1)
def _odd_times(work: Path, large: bool) -> Invocation:
    rng = random.Random(5)
    key = _key(rng)
    times: list[object] = ["²⁰²⁴", "9" * 5000, "9999-12-31T23:00:00-05:00", "١٧١٤٥٢١٦٠٠",
                           "0001-01-01T00:00:00+14:00", 1e308, -1, "2024-02-30T00:00:00Z"]
    path = work / "t.jsonl"
    with path.open("w") as out:
        for i in range(1000 if large else 1):
            for when in times:
                out.write(_event(key, f"192.0.2.{i % 250}", when))
            out.write('{"eventName": "x", "eventTime": ' + "9" * 5000 + "}\n")
    return Invocation(["trail", str(path)], path.stat().st_size)


@case("trail-escapes-in-every-field", exit=1)
def _escapes(work: Path, large: bool) -> Invocation:
    rng = random.Random(9)
    path = work / "t.jsonl"
    nasty = "\x1b[1A\x1b[2K\rno alerts\x9b2J\u202e\x07"
    with path.open("w") as out:
        for _ in range(10_000 if large else 3):
            out.write(_event(_key(rng), "198.51.100.7" + nasty, when=nasty, user=nasty))
    return Invocation(["trail", str(path)], path.stat().st_size)


@pytest.mark.parametrize("hostile", cases_in(__name__), ids=lambda c: c.name)
def test_hostile_trail(hostile: Case, tmp_path: Path) -> None:
    _, result = hostile.run(tmp_path)
    hostile.check(result)


def test_a_secret_in_the_known_ips_file_is_not_echoed(tmp_path: Path) -> None:
    rng = random.Random()
    secret = "".join(rng.choice(_ALNUM) for _ in range(30)) + "aA1"
    env = tmp_path / ".env"
    env.write_text(f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n")
    trail = tmp_path / "t.jsonl"
    trail.write_text(_event(_key(rng), "10.0.0.1"))

    result = run_akscan(["trail", str(trail), "--known-ips", str(env)], cwd=tmp_path)

    check(result, exit=2, error=r"\.env:1: not an IP address or CIDR block")
    assert secret not in result.stderr and secret[3:-3] not in result.stderr
