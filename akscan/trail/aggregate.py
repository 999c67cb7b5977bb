"""Fold calls into per-key counters whose size does not grow with the number of events.

Every table is capped: keys, distinct sources per key and in all, service and API names per
key, STS sessions; and every name kept is at most `events.MAX_TEXT` characters. What goes over
a cap is still counted (calls, and calls from unknown IPs, which decide the exit code), only not
named, and the report says which caps were reached (issue 12: a gigabyte of distinct key and IP
pairs once took 6.8 GB of memory). The caps are far above what one account's keys use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from akscan.trail.events import Call

STS_PREFIX = "STS."
MAX_KEYS = 10_000  # RAM allows 2 keys per user; this is thousands of users' worth
MAX_SOURCES = 1_000  # per key
MAX_TOTAL_SOURCES = 100_000  # in all: at most a few hundred bytes each
MAX_SERVICES = 64
MAX_APIS = 128
MAX_SOURCE_SERVICES = 16
MAX_NAMES = 8  # user names and account IDs per key
MAX_STS_SESSIONS = 100_000
MAX_STS_PRINCIPALS = 200


class Usage:
    """Calls, failed calls, and when they were first and last seen."""

    __slots__ = ("calls", "failed", "first", "last")

    def __init__(self) -> None:
        self.calls = 0
        self.failed = 0
        self.first: int | None = None
        self.last: int | None = None

    def add(self, call: Call) -> None:
        self.add_many(call, 1, call.time, call.time)

    def add_many(self, call: Call, calls: int, first: int | None, last: int | None) -> None:
        """`calls` calls like `call` (its time aside), timed from `first` to `last`."""
        self.calls += calls
        if call.failed:
            self.failed += calls
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last


class Counter:
    """Counts per name for up to `cap` names; calls for further names go to `other`."""

    __slots__ = ("cap", "counts", "other")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.counts: dict[str, int] = {}
        self.other = 0

    def add(self, name: str, count: int = 1) -> None:
        if not name:
            return
        counts = self.counts
        if name in counts:
            counts[name] += count
        elif len(counts) < self.cap:
            counts[name] = count
        else:
            self.other += count

    def top(self) -> list[tuple[str, int]]:
        """Most used first, then by name."""
        return sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))


class Source(Usage):
    """Calls from one VPC and IP, or from one Internet IP."""

    __slots__ = ("known", "services")

    def __init__(self, known: bool) -> None:
        super().__init__()
        self.known = known
        self.services = Counter(MAX_SOURCE_SERVICES)


@dataclass
class KeyUsage:
    """Everything seen of one permanent AccessKey."""

    usage: Usage = field(default_factory=Usage)
    vpc: dict[tuple[str, str], Source] = field(default_factory=dict)
    internet: dict[str, Source] = field(default_factory=dict)
    unlisted: Usage = field(default_factory=Usage)  # calls from sources over the cap
    unlisted_unknown: int = 0  # of those, calls through the Internet from unknown IPs
    unlisted_vpc: int = 0  # of those, calls from VPCs
    services: Counter = field(default_factory=lambda: Counter(MAX_SERVICES))
    apis: Counter = field(default_factory=lambda: Counter(MAX_APIS))
    users: Counter = field(default_factory=lambda: Counter(MAX_NAMES))
    accounts: Counter = field(default_factory=lambda: Counter(MAX_NAMES))


@dataclass
class StsUsage:
    """Calls signed with temporary (STS) keys: expected use, summarised rather than listed."""

    usage: Usage = field(default_factory=Usage)
    vpc_calls: int = 0
    sessions: set[str] = field(default_factory=set)
    sessions_capped: bool = False
    principals: Counter = field(default_factory=lambda: Counter(MAX_STS_PRINCIPALS))


@dataclass
class Trail:
    """The whole trail, folded. `is_known(ip)` says whether an Internet IP is the user's."""

    is_known: Callable[[str], bool]
    # Keys past MAX_KEYS are still listed if a scan found them leaked: that alert must not be
    # lost to a cap.
    is_leaked: Callable[[str], bool] = field(default=lambda key_id: False)
    keys: dict[str, KeyUsage] = field(default_factory=dict)
    sts: StsUsage = field(default_factory=StsUsage)
    events: int = 0
    without_key: int = 0  # events not signed with an AccessKey (console, services)
    untimed: int = 0  # calls without a usable time
    keys_over_cap: Usage = field(default_factory=Usage)
    keys_over_cap_unknown: int = 0  # of their calls, through the Internet from unknown IPs
    sources: int = 0  # sources listed, over all keys
    unlisted_calls: int = 0  # calls from sources over a source cap (per key or in all)
    first: int | None = None
    last: int | None = None

    def add(self, call: Call) -> None:
        when = call.time
        self.add_many(call, 1, when is None, when, when)

    def add_many(self, call: Call, calls: int, untimed: int, first: int | None,
                 last: int | None) -> None:
        """`calls` calls like `call` (its time aside), `untimed` of them without a time, the
        others from `first` to `last`. Adding calls grouped this way gives the same trail as
        adding them one by one, provided each group is added where its first call was: every
        cap admits names in the order they are first seen, and that order is kept."""
        self.events += calls
        self.untimed += untimed
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last
        if call.key_id.startswith(STS_PREFIX):
            self._add_sts(call, calls, first, last)
            return
        key = self.keys.get(call.key_id)
        if key is None:
            if len(self.keys) >= MAX_KEYS and not self.is_leaked(call.key_id):
                self.keys_over_cap.add_many(call, calls, first, last)
                if not call.vpc_id and not self.is_known(call.source_ip):
                    self.keys_over_cap_unknown += calls
                return
            key = self.keys[call.key_id] = KeyUsage()
        key.usage.add_many(call, calls, first, last)
        key.services.add(call.service, calls)
        key.apis.add(call.api, calls)
        key.users.add(call.user, calls)
        key.accounts.add(call.account, calls)
        self._add_source(key, call, calls, first, last)

    def add_without_key(self) -> None:
        self.events += 1
        self.without_key += 1

    def _add_source(self, key: KeyUsage, call: Call, calls: int, first: int | None,
                    last: int | None) -> None:
        if call.vpc_id:
            table: dict[Any, Source] = key.vpc
            where: Any = (call.vpc_id, call.source_ip)
        else:
            table, where = key.internet, call.source_ip
        source = table.get(where)
        if source is None:
            if len(key.vpc) + len(key.internet) >= MAX_SOURCES \
                    or self.sources >= MAX_TOTAL_SOURCES:
                self.unlisted_calls += calls
                key.unlisted.add_many(call, calls, first, last)
                if call.vpc_id:
                    key.unlisted_vpc += calls
                elif not self.is_known(call.source_ip):
                    key.unlisted_unknown += calls
                return
            known = not call.vpc_id and self.is_known(call.source_ip)
            source = table[where] = Source(known)
            self.sources += 1
        source.add_many(call, calls, first, last)
        source.services.add(call.service, calls)

    def _add_sts(self, call: Call, calls: int, first: int | None, last: int | None) -> None:
        sts = self.sts
        sts.usage.add_many(call, calls, first, last)
        if call.vpc_id:
            sts.vpc_calls += calls
        sts.principals.add(call.user, calls)
        if call.key_id not in sts.sessions:
            if len(sts.sessions) < MAX_STS_SESSIONS:
                sts.sessions.add(call.key_id)
            else:
                sts.sessions_capped = True
