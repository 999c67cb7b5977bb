"""The report document: what the trail shows about each key, worst first, and what to do.

One document feeds every format (JSON is this document; text and CSV are views of it), so the
formats cannot disagree. Key IDs appear as a redacted form and a sha256, like scan findings,
unless the user asks for them in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from akscan.model import ACCESS_KEY_ID, redact, sha256_hex
from akscan.trail import aggregate
from akscan.trail.aggregate import Counter, KeyUsage, Source, Trail, Usage
from akscan.trail.events import format_time
from akscan.trail.inputs import Leak

FORMAT_VERSION = 1
LEAKED, UNKNOWN_IP, VPC, INTERNET = (
    "leaked-and-used", "unknown-internet-ip", "used-from-vpc", "used-from-own-ip")
_RANK = {LEAKED: 0, UNKNOWN_IP: 1, VPC: 2, INTERNET: 3}

ADVICE = {
    LEAKED: "Found in code and in use: disable this AccessKey in the RAM console now, give the "
            "programs that need it a new key (or a RAM role), and check the source IPs below: "
            "any you do not recognise is someone else using it.",
    UNKNOWN_IP: "Called from Internet IPs that are not among your public IPs and EIPs: unless "
                "they are yours, treat the key as compromised: disable it, rotate it, and review "
                "what these calls did.",
    VPC: "Used from an ECS instance in a VPC: replace the key with an instance RAM role. "
         "1) Attach a RAM role to the instance (ECS console: instance details, Attach/Detach "
         "RAM Role; or AttachInstanceRamRole), granting only what these calls need. "
         "2) Set the instance's metadata access mode to security hardening (enforced mode: "
         "token-protected, like IMDSv2). 3) Switch the program to the instance's credentials "
         "(the SDK's default credential chain or its ECS RAM role provider) instead of the "
         "AccessKey. 4) When the trail shows no more calls with the key, disable it, then "
         "delete it in the RAM console.",
    INTERNET: "Called from your own public IPs or EIPs: if such an IP belongs to an ECS "
              "instance, replace the key with an instance RAM role as for VPC calls; otherwise "
              "restrict the key with a network access control policy and rotate it every 90 "
              "days.",
}
UNUSED_ADVICE = ("No calls in this trail: if the key has not been used for long (the RAM console "
                 "shows its last use), disable it and then delete it.")
UNLISTED_ADVICE = "Not in the --keys list: a key of another account, or an out-of-date list."
MAX_LEAK_PLACES = 20  # places listed per leaked key; the rest are counted


@dataclass
class InputSummary:
    """How one input file was read."""

    path: str
    records: int = 0
    malformed: int = 0
    first_malformed: int | None = None
    error: str | None = None


@dataclass
class Context:
    """What the report needs besides the trail."""

    tool_version: str
    inputs: Sequence[InputSummary] = ()
    known_ips_given: bool = False
    key_list: Sequence[str] | None = None
    leaks: dict[str, list[Leak]] = field(default_factory=dict)
    show_key_ids: bool = False


def build(trail: Trail, context: Context) -> dict[str, Any]:
    """The report document (`--format json` writes exactly this)."""
    listed = None if context.key_list is None else frozenset(context.key_list)
    keys = sorted((_key(key_id, usage, context, listed) for key_id, usage in trail.keys.items()),
                  key=_key_order)
    unused = [_identity(k, context) for k in (context.key_list or ()) if k not in trail.keys]
    for entry in unused:
        entry["remediation"] = UNUSED_ADVICE
    alerts = _alerts(keys)
    if trail.keys_over_cap_unknown:
        alerts.append({"type": UNKNOWN_IP, "source_ip": None,
                       "calls": trail.keys_over_cap_unknown, "failed_calls": 0,
                       "first_seen": None, "last_seen": None, "keys": [],
                       "keys_over_cap": True})
    malformed = sum(i.malformed for i in context.inputs)
    return {
        "version": FORMAT_VERSION,
        "tool": {"name": "akscan", "version": context.tool_version},
        "summary": {
            "events": trail.events,
            "events_without_access_key": trail.without_key,
            "calls_with_permanent_keys": sum(k.usage.calls for k in trail.keys.values())
            + trail.keys_over_cap.calls,
            "calls_with_sts_keys": trail.sts.usage.calls,
            "calls_without_time": trail.untimed,
            "first_seen": format_time(trail.first) or None,
            "last_seen": format_time(trail.last) or None,
            "malformed_records": malformed,
            "known_ips_given": context.known_ips_given,
            "permanent_keys": len(keys),
            "keys_over_cap_calls": trail.keys_over_cap.calls,
            "caps_reached": caps_reached(trail, keys),
            "leaked_and_used": sum(1 for k in keys if LEAKED in k["status"]),
            "keys_used_from_vpc": sum(1 for k in keys if VPC in k["status"]),
            "unknown_internet_ips": len({a["source_ip"] for a in alerts
                                         if a["type"] == UNKNOWN_IP and a["source_ip"]}),
            "unused_keys": None if context.key_list is None else len(unused),
        },
        "inputs": [_input(i) for i in context.inputs],
        "alerts": alerts,
        "keys": keys,
        "unused_keys": unused,
        "sts": _sts(trail),
    }


def caps_reached(trail: Trail, keys: list[dict[str, Any]]) -> list[str]:
    """What the report leaves out because a cap was reached, one sentence each (issue 12)."""
    notes = []
    if trail.keys_over_cap.calls:
        notes.append(f"more than {aggregate.MAX_KEYS:,} permanent keys: "
                     f"{trail.keys_over_cap.calls} calls with the others are counted, not listed "
                     f"by key ({trail.keys_over_cap_unknown} of them from unknown Internet IPs)")
    if trail.unlisted_calls:
        capped = sum(1 for k in keys if k["unlisted_sources"])
        notes.append(f"{capped} key(s) over the source cap ({aggregate.MAX_SOURCES:,} per key, "
                     f"{aggregate.MAX_TOTAL_SOURCES:,} in all): {trail.unlisted_calls} calls from "
                     "further sources are counted in each key's 'unlisted' row")
    cut = sum(1 for k in keys if k["leaked_in_more"])
    if cut:
        notes.append(f"{cut} leaked key(s) found in more than {MAX_LEAK_PLACES} places: the "
                     "first are listed, the rest counted")
    names = sum(1 for k in keys if k["other_services_calls"] or k["other_api_names_calls"])
    if names:
        notes.append(f"{names} key(s) called more than {aggregate.MAX_SERVICES} services or "
                     f"{aggregate.MAX_APIS} APIs: calls to the others are counted")
    if trail.sts.sessions_capped:
        notes.append(f"more than {aggregate.MAX_STS_SESSIONS:,} STS sessions: counted as that")
    return notes


def _identity(key_id: str, context: Context) -> dict[str, Any]:
    entry: dict[str, Any] = {"key_id_sha256": sha256_hex(key_id),
                             "redacted": redact(key_id, ACCESS_KEY_ID)}
    if context.show_key_ids:
        entry["key_id"] = key_id
    return entry


def _key(
    key_id: str, key: KeyUsage, context: Context, listed: frozenset[str] | None
) -> dict[str, Any]:
    entry = _identity(key_id, context)
    all_leaks = context.leaks.get(entry["key_id_sha256"], [])
    leaks = all_leaks[:MAX_LEAK_PLACES]
    internet = [_source(s, ip=ip) for ip, s in key.internet.items()]
    status = []
    if leaks:
        status.append(LEAKED)
    if any(s["owner"] == "unknown" for s in internet) or key.unlisted_unknown:
        status.append(UNKNOWN_IP)
    if key.vpc or key.unlisted_vpc:
        status.append(VPC)
    if any(s["owner"] == "yours" for s in internet):
        status.append(INTERNET)
    entry.update(_usage(key.usage))
    entry.update({
        "user_names": sorted(key.users.counts),
        "account_ids": sorted(key.accounts.counts),
        "status": status,
        "leaked_in": [leak.to_dict() for leak in leaks],
        "leaked_in_more": len(all_leaks) - len(leaks),
        "in_key_list": None if listed is None else key_id in listed,
        "vpc_sources": sorted((_source(s, vpc=vpc, ip=ip) for (vpc, ip), s in key.vpc.items()),
                              key=_source_order),
        "internet_sources": sorted(internet, key=_source_order),
        "unlisted_sources": None if not key.unlisted.calls else {
            **_usage(key.unlisted),
            "from_vpc": key.unlisted_vpc, "from_unknown_ips": key.unlisted_unknown,
        },
        "services": _names(key.services),
        "other_services_calls": key.services.other,
        "api_names": _names(key.apis),
        "other_api_names_calls": key.apis.other,
        "remediation": [ADVICE[s] for s in status],
    })
    if listed is not None and key_id not in listed:
        entry["remediation"].append(UNLISTED_ADVICE)
    return entry


def _source(source: Source, ip: str, vpc: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"source_ip": ip}
    if vpc is None:
        entry["owner"] = "yours" if source.known else "unknown"
    else:
        entry["vpc_id"] = vpc
    entry.update(_usage(source))
    entry["services"] = _names(source.services)
    return entry


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "calls": usage.calls,
        "failed_calls": usage.failed,
        "error_rate": round(usage.failed / usage.calls, 4) if usage.calls else 0.0,
        "first_seen": format_time(usage.first) or None,
        "last_seen": format_time(usage.last) or None,
    }


def _names(counter: Counter) -> dict[str, int]:
    return dict(counter.top())  # most used first (for text; JSON sorts keys)


def _alerts(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The urgent lines: leaked keys in use, then every unknown Internet IP with its keys."""
    alerts: list[dict[str, Any]] = []
    for key in keys:
        if LEAKED in key["status"]:
            alerts.append({
                "type": LEAKED, "key_id_sha256": key["key_id_sha256"],
                "redacted": key["redacted"], "user_names": key["user_names"],
                "leaked_in": key["leaked_in"], "leaked_in_more": key["leaked_in_more"],
                "calls": key["calls"],
                "first_seen": key["first_seen"], "last_seen": key["last_seen"],
                "sources": [_where(s) for s in key["internet_sources"] + key["vpc_sources"]],
            })
    by_ip: dict[str | None, dict[str, Any]] = {}
    for key in keys:
        unknown = [s for s in key["internet_sources"] if s["owner"] == "unknown"]
        for source in unknown:
            _merge_ip(by_ip, source["source_ip"], source, key)
        unlisted = key["unlisted_sources"]
        if unlisted and unlisted["from_unknown_ips"]:
            _merge_ip(by_ip, None, {"calls": unlisted["from_unknown_ips"], "failed_calls": 0,
                                    "first_seen": None, "last_seen": None}, key)
    alerts.extend(sorted(by_ip.values(), key=lambda a: (a["source_ip"] is None, -a["calls"],
                                                         a["source_ip"] or "")))
    return alerts


def _merge_ip(by_ip: dict[str | None, dict[str, Any]], ip: str | None, source: dict[str, Any],
              key: dict[str, Any]) -> None:
    alert = by_ip.setdefault(ip, {"type": UNKNOWN_IP, "source_ip": ip, "calls": 0,
                                  "failed_calls": 0, "first_seen": None, "last_seen": None,
                                  "keys": []})
    alert["calls"] += source["calls"]
    alert["failed_calls"] += source["failed_calls"]
    for field_name, pick in (("first_seen", min), ("last_seen", max)):
        seen = [t for t in (alert[field_name], source[field_name]) if t]
        alert[field_name] = pick(seen) if seen else None  # same format: text order is time order
    alert["keys"].append({"key_id_sha256": key["key_id_sha256"], "redacted": key["redacted"],
                          "leaked": LEAKED in key["status"]})


def _where(source: dict[str, Any]) -> dict[str, Any]:
    if "vpc_id" in source:
        return {"endpoint": "vpc", "vpc_id": source["vpc_id"], "source_ip": source["source_ip"],
                "calls": source["calls"]}
    return {"endpoint": "internet", "source_ip": source["source_ip"], "owner": source["owner"],
            "calls": source["calls"]}


def _sts(trail: Trail) -> dict[str, Any]:
    sts = trail.sts
    return {
        **_usage(sts.usage),
        "vpc_calls": sts.vpc_calls,
        "internet_calls": sts.usage.calls - sts.vpc_calls,
        "sessions": len(sts.sessions),
        "sessions_capped": sts.sessions_capped,
        "principals": _names(sts.principals),
        "other_principals_calls": sts.principals.other,
    }


def _input(summary: InputSummary) -> dict[str, Any]:
    return {"path": summary.path, "records": summary.records, "malformed": summary.malformed,
            "first_malformed_line": summary.first_malformed, "error": summary.error}


def _key_order(entry: dict[str, Any]) -> tuple[int, int, str]:
    rank = min((_RANK[s] for s in entry["status"]), default=len(_RANK))
    return rank, -entry["calls"], entry["key_id_sha256"]


def _source_order(entry: dict[str, Any]) -> tuple[int, int, str, str]:
    return (entry.get("owner") == "yours", -entry["calls"], entry.get("vpc_id", ""),
            entry["source_ip"])
