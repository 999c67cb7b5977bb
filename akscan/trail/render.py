"""Write the trail report as text (tables), JSON (the document itself) or CSV (one row per key
and source). Nothing here computes anything the document does not already hold.

Every string in the document can come from the trail (user names, VPC IDs, "IPs", service and
API names) or from a scan's report (paths): the text and CSV writers escape control characters
and bidi overrides in every line they write, and the JSON writer writes the C1 ones and bidi
overrides as \\uNNNN, so no trail can rewrite a terminal's screen (issue 12)."""

from __future__ import annotations

import csv
import json
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from akscan.terminal import escape, json_safe
from akscan.trail.report import LEAKED, UNKNOWN_IP

Writer = Callable[[TextIO, dict[str, Any]], None]
CSV_COLUMNS = (
    "key_id_sha256", "key", "user_names", "status", "leaked_in", "endpoint", "vpc_id",
    "source_ip", "owner", "calls", "failed_calls", "error_rate", "first_seen", "last_seen",
    "services",
)


class _Escaped:
    """A stream whose every write is escaped (newlines and tabs kept: they are the layout)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write("\n".join("\t".join(escape(part) for part in line.split("\t"))
                                            for line in text.split("\n")))


def write_json(stream: TextIO, document: dict[str, Any]) -> None:
    stream.write(json_safe(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)))
    stream.write("\n")


def write_csv(stream: TextIO, document: dict[str, Any]) -> None:
    # Cells are escaped one by one, so a newline inside a value cannot start a fake row.
    writer = csv.writer(stream, lineterminator="\n")

    class _Rows:
        @staticmethod
        def writerow(row: Sequence[object]) -> None:
            writer.writerow([escape(c) if isinstance(c, str) else c for c in row])

    out = _Rows()
    out.writerow(CSV_COLUMNS)
    for key in document["keys"]:
        common = [key["key_id_sha256"], _shown(key), " ".join(key["user_names"]),
                  " ".join(key["status"]), " ".join(_leak(x) for x in key["leaked_in"])]
        for source in key["vpc_sources"] + key["internet_sources"]:
            endpoint = "vpc" if "vpc_id" in source else "internet"
            out.writerow([*common, endpoint, source.get("vpc_id", ""), source["source_ip"],
                          source.get("owner", ""), *_numbers(source),
                          " ".join(source["services"])])
        if key["unlisted_sources"]:
            out.writerow([*common, "unlisted", "", "", "", *_numbers(key["unlisted_sources"]),
                          ""])
    for key in document["unused_keys"]:
        out.writerow([key["key_id_sha256"], _shown(key), "", "unused", "", "none", "", "", "",
                      0, 0, 0.0, "", "", ""])


def write_text(raw: TextIO, document: dict[str, Any]) -> None:
    stream: Any = _Escaped(raw)
    write = stream.write
    summary, sts = document["summary"], document["sts"]
    span = (f", {summary['first_seen']} to {summary['last_seen']}"
            if summary["first_seen"] else "")
    write(f"akscan trail: {summary['events']} events from {len(document['inputs'])} input(s)"
          f"{span}\n")
    write(f"  {summary['calls_with_permanent_keys']} calls with {summary['permanent_keys']} "
          f"permanent AccessKey(s), {summary['calls_with_sts_keys']} with STS keys, "
          f"{summary['events_without_access_key']} without an AccessKey\n")
    if not summary["known_ips_given"]:
        write("  no --known-ips given: every Internet IP counts as unknown\n")
    for note in summary["caps_reached"]:
        write(f"  cap reached: {note}\n")
    if document["alerts"]:
        write("\n")
        for alert in document["alerts"]:
            write(_alert_line(alert) + "\n")
    keys = document["keys"]
    if keys:
        write("\n")
        _table(stream, ("KEY", "USER", "CALLS", "ERRORS", "FIRST SEEN", "LAST SEEN", "VPC",
                        "INTERNET", "UNKNOWN", "STATUS"),
               [(_shown(k), ",".join(k["user_names"]) or "-", k["calls"], _rate(k),
                 k["first_seen"] or "-", k["last_seen"] or "-", len(k["vpc_sources"]),
                 len(k["internet_sources"]),
                 sum(1 for s in k["internet_sources"] if s["owner"] == "unknown"),
                 ", ".join(k["status"])) for k in keys], indent="")
    for key in keys:
        _key_section(stream, key)
    if document["unused_keys"]:
        write("\nUnused keys (in --keys, no calls in this trail):\n")
        for key in document["unused_keys"]:
            write(f"  {_shown(key)}  sha256 {key['key_id_sha256']}\n")
        write(_wrapped(document["unused_keys"][0]["remediation"], "  "))
    if sts["calls"]:
        principals = ", ".join(f"{n} {c}" for n, c in _top(sts["principals"], 5))
        capped = "+" if sts["sessions_capped"] else ""
        write(f"\nSTS temporary keys (expected use, not leaks): {sts['calls']} calls, "
              f"{sts['sessions']}{capped} sessions, {sts['vpc_calls']} from VPCs, "
              f"{sts['internet_calls']} through the Internet"
              + (f"; by {principals}" if principals else "") + "\n")


def _key_section(stream: TextIO, key: dict[str, Any]) -> None:
    write = stream.write
    write(f"\n{_shown(key)}  sha256 {key['key_id_sha256']}")
    if key["user_names"]:
        write(f"  user {', '.join(key['user_names'])}")
    if key["account_ids"]:
        write(f"  account {', '.join(key['account_ids'])}")
    write("\n")
    if key["leaked_in"]:
        write(f"  leaked in: {_leaks(key)}\n")
    write(f"  services: {_counts(key['services'], key['other_services_calls'])}\n")
    write(f"  APIs: {_counts(key['api_names'], key['other_api_names_calls'], 8)}\n")
    rows: list[Sequence[object]] = []
    for source in key["vpc_sources"]:
        rows.append(("vpc", source["vpc_id"], source["source_ip"], "", *_cells(source)))
    for source in key["internet_sources"]:
        rows.append(("internet", "", source["source_ip"], source["owner"], *_cells(source)))
    unlisted = key["unlisted_sources"]
    if unlisted:
        rows.append(("more", "", "(over the source cap)",
                     f"{unlisted['from_unknown_ips']} unknown", *_cells(unlisted, services=False)))
    _table(stream, ("FROM", "VPC", "SOURCE IP", "OWNER", "CALLS", "ERRORS", "FIRST SEEN",
                    "LAST SEEN", "SERVICES"), rows, indent="  ")
    write("  what to do:\n")
    for advice in key["remediation"]:
        write(_wrapped(advice, "    - ", "      "))


def _alert_line(alert: dict[str, Any]) -> str:
    if alert["type"] == LEAKED:
        users = f" ({', '.join(alert['user_names'])})" if alert["user_names"] else ""
        sources = ", ".join(
            f"{s['vpc_id']}/{s['source_ip']}" if s["endpoint"] == "vpc"
            else f"{s['source_ip']} ({s['owner']})" for s in alert["sources"][:10])
        more = f" and {len(alert['sources']) - 10} more" if len(alert["sources"]) > 10 else ""
        return (f"LEAKED AND IN USE: {alert['redacted']}{users} found in "
                f"{_leaks(alert)}; {alert['calls']} calls "
                f"{_span(alert)} from {sources}{more}")
    assert alert["type"] == UNKNOWN_IP
    keys = ", ".join(k["redacted"] + (" (leaked)" if k["leaked"] else "") for k in alert["keys"])
    if alert.get("keys_over_cap"):
        keys = "keys over the key cap (not listed)"
    ip = alert["source_ip"] or "IPs over a source cap"
    return f"UNKNOWN INTERNET IP: {ip}: {alert['calls']} calls {_span(alert)} with {keys}"


def _span(entry: dict[str, Any]) -> str:
    if not entry["first_seen"]:
        return "(no times)"
    return f"{entry['first_seen']} to {entry['last_seen']}"


def _cells(source: dict[str, Any], services: bool = True) -> tuple[object, ...]:
    return (source["calls"], _rate(source), source["first_seen"] or "-",
            source["last_seen"] or "-", " ".join(source["services"]) if services else "")


def _numbers(source: dict[str, Any]) -> list[object]:
    return [source["calls"], source["failed_calls"], source["error_rate"],
            source["first_seen"] or "", source["last_seen"] or ""]


def _rate(entry: dict[str, Any]) -> str:
    return f"{entry['error_rate'] * 100:.1f}%"


def _shown(key: dict[str, Any]) -> str:
    return str(key.get("key_id") or key["redacted"])


def _leaks(entry: dict[str, Any]) -> str:
    more = f" and {entry['leaked_in_more']} more" if entry.get("leaked_in_more") else ""
    return ", ".join(_leak(x) for x in entry["leaked_in"]) + more


def _leak(leak: dict[str, Any]) -> str:
    where = f"{leak['path']}:{leak['line']}"
    return f"{where} (commit {leak['commit'][:12]})" if leak.get("commit") else where


def _top(counts: dict[str, int], limit: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _counts(counts: dict[str, int], other: int, limit: int = 10) -> str:
    shown = _top(counts, limit)
    text = ", ".join(f"{name} {count}" for name, count in shown) or "-"
    rest = sum(counts.values()) - sum(count for _, count in shown) + other
    return f"{text} (and {rest} calls to others)" if rest else text


def _table(stream: TextIO, header: Sequence[str], rows: Sequence[Sequence[object]],
           indent: str) -> None:
    cells = [list(header), *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        stream.write(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")


def _wrapped(text: str, first: str, rest: str | None = None) -> str:
    return textwrap.fill(text, width=100, initial_indent=first,
                         subsequent_indent=rest if rest is not None else first) + "\n"


WRITERS: dict[str, Writer] = {"text": write_text, "json": write_json, "csv": write_csv}
