"""Synthetic ActionTrail events with planted patterns, deterministic for a seed.

The events follow ActionTrail's documented structure (eventId, eventName, eventSource,
eventTime, eventType, serviceName, sourceIpAddress, userAgent, userIdentity, acsRegion,
errorCode, errorMessage, requestId, vpcId) and are written the ways they reach users: the SLS
form (one JSON object per line, the event as a JSON *string* in `event`, plus `__time__`), the
event itself per line, OSS-style gzip files, JSON arrays and `{"Records": [...]}` documents.

Planted: keys used from VPCs (ECS instances that should use a RAM role), keys used from the
user's own public IPs, a key used now and then from unknown IPs, a key that a scan found leaked
(used from an unknown IP and a VPC), keys in the RAM list that are never used, STS sessions,
console events without an AccessKey, calls that failed, mixed time zones, and malformed lines.
`Truth` records what every generated event should add to the report, so tests compare exactly.

By hand (for the benchmark or a large check):

    python tests/trailgen.py --events 1000000 --out /tmp/trail

Every key is random letters and digits in the real shape: synthetic, never a real key.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from keys import is_plausible

START = 1714521600  # 2024-05-01T00:00:00Z
SPAN = 30 * 86400
ACCOUNT = "1234567890123456"
_ALNUM = string.ascii_letters + string.digits
KNOWN_IPS = """\
# office and ECS EIPs (synthetic documentation ranges)
203.0.113.0/26
198.51.100.10   # build server
2001:db8:1::/48
"""
OWN_IPS = ("203.0.113.5", "203.0.113.17", "198.51.100.10", "2001:db8:1::20")
UNKNOWN_IPS = ("192.0.2.77", "192.0.2.200", "2001:db8:ffff::9")
APIS = (
    ("Ecs", "ecs.cn-hangzhou.aliyuncs.com", ("DescribeInstances", "DescribeRegions",
                                              "RunInstances", "DescribeDisks")),
    ("Oss", "oss-cn-hangzhou.aliyuncs.com", ("GetObject", "PutObject", "ListObjects")),
    ("Kms", "kms.cn-hangzhou.aliyuncs.com", ("GetSecretValue", "Decrypt")),
    ("Rds", "rds.aliyuncs.com", ("DescribeDBInstances",)),
    ("Vpc", "vpc.aliyuncs.com", ("DescribeVpcs", "DescribeEipAddresses")),
)
USER_AGENTS = ("aliyun-sdk-java/4.6.3", "AlibabaCloud (Linux; x86_64) Python/3.11 Core/2.13",
               "aliyun-cli/3.0.200", "ossutil/1.7.19")


@dataclass
class KeySpec:
    """A permanent key and where it is used from: (vpc_id, ip) pairs and Internet IPs."""

    key_id: str
    user: str
    vpc: list[tuple[str, str]] = field(default_factory=list)
    own_ips: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """The planted patterns. `rare` events (unknown IPs, the leaked key) sit at fixed positions
    among the common traffic, so a million events hide a handful of them."""

    busy: list[KeySpec]  # everyday traffic: VPCs and own IPs
    vpc_keys: list[str]
    own_ip_keys: list[str]
    sometimes_unknown: KeySpec  # mostly own IPs, a few calls from unknown IPs
    leaked: KeySpec  # found leaked by a scan; used from an unknown IP and a VPC
    unused: list[str]  # in the RAM key list, no calls
    leaked_secret: str
    rare_per_ip: int = 3

    @property
    def all_keys(self) -> list[str]:
        return [k.key_id for k in (*self.busy, self.sometimes_unknown, self.leaked)] + self.unused


@dataclass
class Truth:
    """What the generated events should add up to, per key and source."""

    # (key, "vpc"|"internet", vpc_id, ip) -> [calls, failed, first, last]
    sources: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)
    events: int = 0
    without_key: int = 0
    sts_calls: int = 0
    sts_sessions: set[str] = field(default_factory=set)
    malformed: int = 0
    first_malformed: dict[str, int] = field(default_factory=dict)  # file name -> line

    def add(self, event: dict[str, Any], when: int) -> None:
        self.events += 1
        key = event["userIdentity"].get("accessKeyId")
        if not key:
            self.without_key += 1
            return
        if key.startswith("STS."):
            self.sts_calls += 1
            self.sts_sessions.add(key)
            return
        vpc = event.get("vpcId", "")
        where = (key, "vpc" if vpc else "internet", vpc, event["sourceIpAddress"])
        entry = self.sources.setdefault(where, [0, 0, when, when])
        entry[0] += 1
        entry[1] += bool(event.get("errorCode"))
        entry[2], entry[3] = min(entry[2], when), max(entry[3], when)

    def key_sources(self, key: str) -> set[tuple[str, str, str]]:
        return {(e, v, ip) for (k, e, v, ip) in self.sources if k == key}


def make_plan(seed: int = 1) -> Plan:
    rng = Random(seed)

    def key() -> str:
        return _key_id(rng)

    vpc_keys = [
        KeySpec(key(), "app-orders", vpc=[("vpc-bp1orders0001", "172.16.3.10"),
                                          ("vpc-bp1orders0001", "172.16.3.11")]),
        KeySpec(key(), "app-backup", vpc=[("vpc-bp1backup00002", "10.8.0.4")],
                own_ips=["203.0.113.5"]),
        KeySpec(key(), "app-reports", vpc=[("vpc-uf6reports0003", "192.168.20.7")]),
    ]
    own_ip_keys = [
        KeySpec(key(), "ci-deploy", own_ips=["198.51.100.10", "203.0.113.17"]),
        KeySpec(key(), "ops-alice", own_ips=["2001:db8:1::20"]),
    ]
    sometimes = KeySpec(key(), "legacy-sync", own_ips=["203.0.113.17"])
    leaked = KeySpec(key(), "old-intern", vpc=[("vpc-bp1orders0001", "172.16.3.99")])
    secret = ""
    while not (is_plausible(secret) and any(c.isdigit() for c in secret)
               and any(c.isupper() for c in secret) and any(c.islower() for c in secret)):
        secret = "".join(rng.choice(_ALNUM) for _ in range(30))
    return Plan(
        busy=vpc_keys + own_ip_keys, vpc_keys=[k.key_id for k in vpc_keys],
        own_ip_keys=[k.key_id for k in own_ip_keys], sometimes_unknown=sometimes,
        leaked=leaked, unused=[key(), key()], leaked_secret=secret,
    )


def _key_id(rng: Random) -> str:
    while True:
        value = "LTAI5t" + "".join(rng.choice(_ALNUM) for _ in range(18))
        tail = value[6:]
        if (is_plausible(value) and any(c.isdigit() for c in tail)
                and any(c.isupper() for c in tail) and any(c.islower() for c in tail)):
            return value


class Generator:
    """Events in time order: common traffic, STS sessions, console events, and the rare
    planted calls at positions fixed by the seed."""

    def __init__(self, plan: Plan, count: int, seed: int = 1) -> None:
        self.plan, self.count, self.rng = plan, count, Random(seed * 7919 + count)
        rare: list[tuple[KeySpec, str, str]] = []
        for ip in UNKNOWN_IPS[:2]:
            rare += [(plan.sometimes_unknown, "", ip)] * plan.rare_per_ip
        rare += [(plan.leaked, "", UNKNOWN_IPS[2])] * plan.rare_per_ip
        rare += [(plan.leaked, vpc, ip) for vpc, ip in plan.leaked.vpc] * plan.rare_per_ip
        positions = self.rng.sample(range(count), min(len(rare), count))
        self.rare = dict(zip(positions, rare))
        self.sts_key, self.sts_left, self.sts_vpc = "", 0, False

    def __iter__(self) -> Iterator[tuple[dict[str, Any], int]]:
        rng = self.rng
        for index in range(self.count):
            when = START + index * SPAN // self.count + rng.randrange(60)
            planted = self.rare.get(index)
            if planted is not None:
                spec, vpc, ip = planted
                yield self._call(spec.key_id, spec.user, vpc, ip, when), when
                continue
            roll = rng.random()
            if roll < 0.04:
                yield self._console(when), when
            elif roll < 0.2:
                yield self._sts(when), when
            else:
                spec = self.plan.busy[int(roll * 1000) % len(self.plan.busy)]
                if roll > 0.995:
                    spec = self.plan.sometimes_unknown  # its everyday calls are from own IPs
                places = [(v, ip) for v, ip in spec.vpc] + [("", ip) for ip in spec.own_ips]
                vpc, ip = places[rng.randrange(len(places))]
                yield self._call(spec.key_id, spec.user, vpc, ip, when), when

    def _call(self, key_id: str, user: str, vpc: str, ip: str, when: int) -> dict[str, Any]:
        rng = self.rng
        service, host, names = APIS[rng.randrange(len(APIS))]
        event = self._base(names[rng.randrange(len(names))], service, host, ip, when)
        event["userIdentity"] = {"type": "ram-user", "principalId": f"2{rng.getrandbits(56)}",
                                 "accountId": ACCOUNT, "accessKeyId": key_id, "userName": user}
        if vpc:
            event["vpcId"] = vpc
        if rng.random() < 0.02:
            event["errorCode"], event["errorMessage"] = "Forbidden.RAM", "User not authorized"
        return event

    def _sts(self, when: int) -> dict[str, Any]:
        rng = self.rng
        if not self.sts_left:
            self.sts_key = "STS." + "".join(rng.choice(_ALNUM) for _ in range(25))
            self.sts_left = rng.randrange(20, 80)
            self.sts_vpc = rng.random() < 0.7
        self.sts_left -= 1
        service, host, names = APIS[rng.randrange(len(APIS))]
        ip = "172.16.9.8" if self.sts_vpc else "203.0.113.40"
        event = self._base(names[0], service, host, ip, when)
        event["userIdentity"] = {
            "type": "assumed-role", "principalId": f"3{rng.getrandbits(56)}:i-bp1worker",
            "accountId": ACCOUNT, "accessKeyId": self.sts_key,
            "userName": "EcsWorkerRole:i-bp1worker",
            "sessionContext": {"attributes": {"mfaAuthenticated": "false",
                                              "creationDate": _iso(when - 60)}},
        }
        if self.sts_vpc:
            event["vpcId"] = "vpc-bp1workers0009"
        return event

    def _console(self, when: int) -> dict[str, Any]:
        event = self._base("ConsoleSignin", "Ims", "signin.aliyun.com", "203.0.113.5", when)
        event["eventType"] = "ConsoleSignin"
        event["userIdentity"] = {"type": "ram-user", "principalId": "2000001",
                                 "accountId": ACCOUNT, "userName": "alice"}
        return event

    def _base(self, name: str, service: str, host: str, ip: str, when: int) -> dict[str, Any]:
        rng = self.rng
        request = _uuid(rng)
        return {
            "eventId": _uuid(rng), "eventVersion": 1, "eventName": name,
            "eventSource": host, "eventTime": _iso(when, rng.randrange(4)),
            "eventType": "ApiCall", "eventRW": "Read", "acsRegion": "cn-hangzhou",
            "requestId": request, "apiVersion": "2014-05-26", "serviceName": service,
            "sourceIpAddress": ip, "userAgent": USER_AGENTS[rng.randrange(len(USER_AGENTS))],
            "requestParameters": {"RegionId": "cn-hangzhou", "RequestId": request,
                                  "AcsHost": host},
            "errorCode": "", "errorMessage": "",
        }


def _uuid(rng: Random) -> str:
    h = f"{rng.getrandbits(128):032X}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _iso(when: int, style: int = 0) -> str:
    """ActionTrail writes UTC with Z; other exports shift zones. Styles: Z, +08:00, -0500,
    fractional seconds with Z."""
    import datetime

    utc = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
    if style == 1:
        return utc.astimezone(datetime.timezone(datetime.timedelta(hours=8))).isoformat()
    if style == 2:
        local = utc.astimezone(datetime.timezone(datetime.timedelta(hours=-5)))
        return local.strftime("%Y-%m-%dT%H:%M:%S-0500")
    if style == 3:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.250Z")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- writing files

FORMS = ("sls", "nested", "array", "records", "pretty")


def write_trail(out: Path, plan: Plan, count: int, seed: int = 1,
                files: tuple[tuple[str, str, bool], ...] = (
                    ("sls.jsonl", "sls", False), ("nested.jsonl.gz", "nested", True),
                    ("oss-array.json.gz", "array", True), ("records.json", "records", False),
                    ("pretty.json", "pretty", False)),
                malformed_every: int = 997) -> Truth:
    """Write `count` events spread over `files` (name, form, gzip) in `out`; the truth.

    Line forms (sls, nested) get a malformed line every `malformed_every` events: a truncated
    record, a line of garbage, or an SLS record whose event string is cut short."""
    out.mkdir(parents=True, exist_ok=True)
    truth = Truth()
    events = iter(Generator(plan, count, seed))
    for number, (name, form, compressed) in enumerate(files):
        share = count * (number + 1) // len(files) - count * number // len(files)
        path = out / name
        opener: Any = gzip.open if compressed else open
        with opener(path, "wt", encoding="utf-8", newline="\n") as stream:
            _write(stream, form, name, events, share, truth, malformed_every)
    return truth


def _write(stream: TextIO, form: str, name: str, events: Iterator[tuple[dict[str, Any], int]],
           share: int, truth: Truth, malformed_every: int) -> None:
    line = 0
    items = []
    for index in range(share):
        event, when = next(events)
        truth.add(event, when)
        if form in ("sls", "nested"):
            if malformed_every and index % malformed_every == malformed_every - 1:
                line += 1
                stream.write(_malformed(form, event, index) + "\n")
                truth.malformed += 1
                truth.first_malformed.setdefault(name, line)
            line += 1
            stream.write(json.dumps(_sls(event, when, index) if form == "sls" else event,
                                    separators=(",", ":")) + "\n")
        else:
            items.append(event)
    if form == "array":
        json.dump(items, stream)
    elif form == "records":
        stream.write('{"Records": [\n' + ",\n".join(json.dumps(e) for e in items) + "\n]}\n")
    elif form == "pretty":
        for event in items:
            stream.write(json.dumps(event, indent=2) + "\n")


def _sls(event: dict[str, Any], when: int, index: int) -> dict[str, Any]:
    if index % 50 == 7:
        event = {k: v for k, v in event.items() if k != "eventTime"}  # __time__ only
    return {"__topic__": "actiontrail_event", "__source__": "actiontrail",
            "__time__": str(when) if index % 2 else when, "owner_id": ACCOUNT,
            "event": json.dumps(event, separators=(",", ":"))}


def _malformed(form: str, event: dict[str, Any], index: int) -> str:
    kind = index % 3
    if kind == 0:
        return json.dumps(event)[:80]  # cut short, as by a full disk
    if kind == 1:
        return "\x00\x00 not json at all"
    if form == "sls":  # the SLS envelope parses; the event string inside does not
        return json.dumps({"__time__": 0, "event": json.dumps(event)[:60]})
    return "{"


def write_lists(out: Path, plan: Plan) -> dict[str, Path]:
    """The user's lists: known IPs, the RAM key list (CSV, as exported), a repository with the
    leaked key and a findings JSON in akscan's format for it."""
    out.mkdir(parents=True, exist_ok=True)
    known = out / "known-ips.txt"
    known.write_text(KNOWN_IPS)
    keys = out / "ram-keys.csv"
    rows = ["UserName,AccessKeyId,Status,CreateDate"]
    users = {k.key_id: k.user for k in (*plan.busy, plan.sometimes_unknown, plan.leaked)}
    rows += [f"{users.get(k, 'retired')},{k},Active,2023-01-01T00:00:00Z" for k in plan.all_keys]
    keys.write_text("\n".join(rows) + "\n")
    repo = out / "repo"
    repo.mkdir(exist_ok=True)
    (repo / ".env").write_text(f"ALIBABA_CLOUD_ACCESS_KEY_ID={plan.leaked.key_id}\n"
                               f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={plan.leaked_secret}\n")
    findings = out / "findings.json"
    key_id = plan.leaked.key_id
    findings.write_text(json.dumps({"version": 1, "tool": {"name": "akscan"}, "findings": [{
        "rule_id": "alibaba-access-key-id", "kind": "access-key-id", "path": ".env", "line": 1,
        "secret_sha256": hashlib.sha256(key_id.encode()).hexdigest(),
        "redacted": f"{key_id[:6]}…{key_id[-2:]}",
    }]}, indent=2))
    return {"known_ips": known, "keys": keys, "repo": repo, "findings": findings}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic ActionTrail trail.")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--form", choices=FORMS, default="sls")
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args(argv)
    plan = make_plan(args.seed)
    name = f"trail.{'json' if args.form in ('array', 'records', 'pretty') else 'jsonl'}"
    name += ".gz" if args.gzip else ""
    truth = write_trail(args.out, plan, args.events, args.seed,
                        files=((name, args.form, args.gzip),))
    lists = write_lists(args.out, plan)
    expected = {
        "events": truth.events, "malformed": truth.malformed,
        "vpc_keys": sorted(k for k in plan.all_keys
                           if any(e == "vpc" for e, _, _ in truth.key_sources(k))),
        "unknown_ips": sorted(UNKNOWN_IPS), "leaked": plan.leaked.key_id,
        "unused": plan.unused, "files": [name, *(p.name for p in lists.values())],
    }
    (args.out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(json.dumps(expected, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
