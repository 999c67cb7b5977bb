"""The fast lane of `akscan trail`: JSON lines decoded by msgspec into only the fields used, and
calls folded in groups.

Profiled on a million SLS events (issue 14), the generic reader spent 43% of its time in
`json.loads` (twice per record: the SLS line, then the event string inside it), 15% parsing
times and most of the rest building a `Call` and folding it. Here a line is decoded into typed
structs that keep only the fields `to_call` reads (msgspec skips the rest without building
them), a time in ActionTrail's fixed ISO form is parsed from two cached slices, and calls that
agree on everything but their time are counted together before they reach the `Trail`.

Whatever this lane is not sure to read exactly as the generic reader would, it hands back to it
(`Folder.take` stops at that line): a line that does not decode or has a field of another type
than ActionTrail writes, a record without event fields, containers of events, lines long or
nested enough to meet `json`'s limits on digits and depth, which msgspec does not share. So a
malformed record is counted, with its line, exactly as before; only ordinary events go faster.
"""

from __future__ import annotations

import datetime
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from akscan.trail.aggregate import Trail
from akscan.trail.events import Call, make_call, parse_time
from akscan.trail.reader import Piece, ReadStats

UNSET = msgspec.UNSET
_Unset = msgspec.UnsetType
_Text = str | None  # ActionTrail writes strings; null reads as no value, like a missing field
# `json` refuses an int of more than 4,300 digits and nesting past the recursion limit; msgspec
# reads both, so a text where either could happen goes to the generic reader. Nesting N deep
# takes 2N characters: short texts (most events) need no counting.
_LONG = 4300
_DIGITS = re.compile(r"[0-9]{4301}")
_DEEP = 600  # brackets: well inside json's limit (about 1,000 less the stack's depth)
_SHORT = 2 * _DEEP
MAX_GROUPS = 4096  # calls grouped at once (memory: a few hundred bytes per group)
# JSON lines are folded in worker processes only past this many characters of an input (about
# 30,000 events, 0.2 s): a smaller input is done before a pool would have started.
PARALLEL_AFTER = 32 << 20
# Characters of lines given to a worker at a time: fewer groups to merge than smaller batches
# (on a million SLS events, 5% of the events against 13% for 1 MiB), and with one batch per
# worker in flight (besides the one being read), memory stays a few times this.
BATCH = 4 << 20
_CACHE = 4096


class _Identity(msgspec.Struct):
    accessKeyId: _Text = None
    userName: _Text = None
    accountId: _Text = None


class _Event(msgspec.Struct):
    # The fields read, in the order ActionTrail writes them (msgspec finds each key fastest
    # then). Those whose presence makes a record an event (events._EVENT_FIELDS) default to
    # UNSET, the others to None.
    eventId: msgspec.Raw | _Unset = UNSET
    eventName: _Text | _Unset = UNSET
    eventSource: _Text | _Unset = UNSET
    eventTime: _Text = None
    eventType: msgspec.Raw | _Unset = UNSET
    serviceName: _Text = None
    sourceIpAddress: _Text = None
    errorCode: _Text = None
    errorMessage: _Text = None
    userIdentity: _Identity | _Unset | None = UNSET
    vpcId: _Text = None


class _Line(_Event):
    """A line: an event itself, or the SLS form (then only `event` and `__time__` count)."""

    event: str | _Unset = UNSET  # the SLS form: the event as a JSON string
    sls_time: int | str | _Unset | None = msgspec.field(default=UNSET, name="__time__")
    # Containers of events (reader.CONTAINER_KEYS): left to the generic reader.
    Records: msgspec.Raw | _Unset = UNSET
    Events: msgspec.Raw | _Unset = UNSET
    records: msgspec.Raw | _Unset = UNSET
    events: msgspec.Raw | _Unset = UNSET


class _Sls(msgspec.Struct):
    """A line of the SLS form, read as such: its other fields are not looked at (nor are they
    by to_call when `event` is a string); without `event`, the line is read as a `_Line`."""

    event: str | _Unset = UNSET
    sls_time: int | str | _Unset | None = msgspec.field(default=UNSET, name="__time__")


_decode_line = msgspec.json.Decoder(_Line).decode
_decode_sls = msgspec.json.Decoder(_Sls).decode
_decode_event = msgspec.json.Decoder(_Event).decode
_NOT_TAKEN = (msgspec.MsgspecError, RecursionError, ValueError, OverflowError)


def _plain(text: str) -> bool:
    """Whether `json.loads` reads `text` as msgspec does: little nesting, no 4,301-digit run."""
    if len(text) <= _SHORT:
        return True
    if text.count("{") + text.count("[") > _DEEP:
        return False
    return len(text) < _LONG or not _DIGITS.search(text)


class Folder:
    """Folds the events of one input into a `Trail`: lines through the fast lane (`take`),
    records the generic reader decoded (`add_record`), in the order they come; with `jobs`
    over 1, JSON lines past the first `after` characters in worker processes (`fold`)."""

    def __init__(self, trail: Trail, stats: ReadStats, jobs: int = 1,
                 after: int = PARALLEL_AFTER) -> None:
        self.trail, self.stats = trail, stats
        self.jobs, self.after = jobs, after
        self.events = 0
        # A group of calls: raw fields (fast lane) or a Call (generic reader) -> [calls,
        # untimed, first, last]. Insertion order is the order groups were first seen.
        self._groups: dict[Any, list[Any]] = {}
        self._sls = True  # the last line read was of the SLS form

    def take(self, buf: str, pos: int, end: int, number: int) -> tuple[int, int]:
        """Fold the lines of `buf[pos:end]` (`number` is the line number at `pos`) up to the
        first one the fast lane does not read: where that line starts, and its number."""
        groups, trail = self._groups, self.trail
        decode_line, decode_sls, decode_event = _decode_line, _decode_sls, _decode_event
        when_of, find = _time, buf.find
        hour_of, rest_of, miss = _hours.get, _rests.get, _miss
        taken, without_key, sls = 0, 0, self._sls
        try:
            while pos < end:
                stop = find("\n", pos, end)
                if stop < 0:
                    stop = end
                line = buf[pos:stop]
                if len(line) > _SHORT and not _plain(line):
                    break
                try:
                    # Lines of one form follow each other: try the form of the last one first.
                    if sls:
                        record: _Line | _Sls = decode_sls(line)
                        if record.event is UNSET:
                            record, sls = decode_line(line), False
                    else:
                        record = decode_line(line)
                        sls = record.event is not UNSET
                    text = record.event
                    if text is UNSET:
                        assert isinstance(record, _Line)
                        if (record.Records is not UNSET or record.Events is not UNSET
                                or record.records is not UNSET or record.events is not UNSET):
                            break
                        event: _Event = record
                    elif len(text) <= _SHORT or _plain(text):
                        event = decode_event(text)
                    else:
                        break
                except _NOT_TAKEN:
                    break
                identity = event.userIdentity
                if identity is UNSET:
                    if (event.eventName is UNSET and event.eventId is UNSET
                            and event.eventSource is UNSET and event.eventType is UNSET):
                        break  # not an event: the generic reader counts it
                    identity = None
                taken += 1
                pos = stop + 1
                if identity is None or not identity.accessKeyId:
                    without_key += 1
                    continue
                clock, when = event.eventTime, None
                if clock is not None:
                    hour, rest = hour_of(clock[:14], miss), rest_of(clock[14:], miss)
                    if hour is miss or rest is miss or hour is None or rest is None:
                        when = when_of(clock)
                    elif _MIN_SECONDS <= hour + rest <= _MAX_SECONDS:
                        when = hour + rest
                if when is None and record.sls_time is not UNSET:
                    when = parse_time(record.sls_time)
                group = (identity.accessKeyId, event.vpcId, event.sourceIpAddress,
                         event.serviceName, event.eventSource, event.eventName, event.errorCode,
                         event.errorMessage, identity.userName, identity.accountId)
                counts = groups.get(group)
                if counts is None:
                    if len(groups) >= MAX_GROUPS:
                        self.flush()
                    groups[group] = [1, 0, when, when] if when is not None else [1, 1, None, None]
                else:
                    counts[0] += 1
                    if when is None:
                        counts[1] += 1
                    elif counts[2] is None:
                        counts[2] = counts[3] = when
                    elif when < counts[2]:
                        counts[2] = when
                    elif when > counts[3]:
                        counts[3] = when
        finally:
            self.stats.records += taken
            self.events += taken
            trail.events += without_key  # as trail.add_without_key() does, once each
            trail.without_key += without_key
            self._sls = sls
        return pos, number + taken

    def add_record(self, record: dict[str, Any], line: int) -> None:
        """A record the generic reader decoded: its call joins the groups in order."""
        from akscan.trail.events import NotAnEvent, to_call

        try:
            call = to_call(record)
        except NotAnEvent:
            self.stats.bad(line)
            return
        self.events += 1
        if call is None:
            self.trail.add_without_key()
            return
        group, when = call._replace(time=None), call.time
        counts = self._groups.get(group)
        if counts is None:
            if len(self._groups) >= MAX_GROUPS:
                self.flush()
            self._groups[group] = counts = [0, 0, None, None]
        counts[0] += 1
        if when is None:
            counts[1] += 1
        else:
            if counts[2] is None or when < counts[2]:
                counts[2] = when
            if counts[3] is None or when > counts[3]:
                counts[3] = when

    def parallel(self) -> Folder | None:
        """Itself, for `read_records`, if it may start workers."""
        return self if self.jobs > 1 else None

    def fold(self, pieces: Iterator[Piece], number: int) -> None:
        """Fold the rest of an input's JSON lines (`pieces`, the first on line `number`) in
        worker processes, a batch of about `BATCH` characters each; their calls join the trail
        batch after batch, in order: the same trail as folding them here (`Trail.add_many`)."""
        from akscan.pipeline import workers

        batches = _batches(pieces)
        ahead = next(batches, None)
        if ahead is None:  # nothing left: no pool
            return
        self.flush()  # what came before first
        stats, trail = self.stats, self.trail
        lines = number  # the line the next batch starts on
        counted = 0  # batches whose lines are counted in `lines`
        lost: dict[int, int] = {}  # lines of the batches whose worker died, by batch

        def merge(result: _Folded) -> None:
            nonlocal lines, counted
            index, calls, events, without_key, records, malformed, first, count = result
            while counted < index:  # a batch lost before this one
                lines += lost.pop(counted, 0)
                counted += 1
            for call in calls:
                trail.add_many(*call)
            trail.events += without_key
            trail.without_key += without_key
            self.events += events
            stats.records += records
            if malformed:
                stats.malformed += malformed
                if stats.first_malformed is None:
                    stats.first_malformed = lines + first
            lines, counted = lines + count, index + 1

        def dropped(batch: list[tuple[int, list[Piece]]]) -> None:
            # Its worker died twice (the OOM killer): said, never silently skipped.
            index, batch_pieces = batch[0]
            count = sum(1 if piece is None else piece[0].count("\n", 0, piece[1])
                        for piece in batch_pieces)
            lost[index] = count
            if stats.error is None:
                stats.error = f"{count} line(s) not read: the worker process reading them died"

        workers.run_batches(_fold_batch, itertools.chain((ahead,), batches),
                            min(self.jobs, workers.usable_cpus()), _nothing, (), merge, dropped,
                            ahead=1)  # large batches: each one in flight is held in memory

    def flush(self) -> None:
        """Fold the groups into the trail, in the order they were first seen."""
        trail = self.trail
        for group, (calls, untimed, first, last) in self._groups.items():
            if isinstance(group, Call):
                call = group
            else:
                call = make_call(*(None if v is UNSET else v for v in group))
                if not call.key_id:  # a key ID of blanks: no key, as for the generic reader
                    trail.events += calls
                    trail.without_key += calls
                    continue
            trail.add_many(call, calls, untimed, first, last)
        self._groups.clear()


# ----------------------------------------------------------------------------------- workers


# (batch index, calls, events, events without a key, records, malformed records, the first of
# those (line within the batch), lines in the batch)
_Folded = tuple[int, list[tuple[Call, int, int, "int | None", "int | None"]], int, int, int, int,
                int, int]


def _batches(pieces: Iterator[Piece]) -> Iterator[list[tuple[int, list[Piece]]]]:
    """Pieces in batches of about `BATCH` characters, each numbered (one job per batch)."""
    batch: list[Piece] = []
    size = index = 0
    for piece in pieces:
        if piece is not None:
            size += piece[1]  # sent whole, with the start of the next line: no copy made
        batch.append(piece)
        if size >= BATCH:
            yield [(index, batch)]
            batch, size, index = [], 0, index + 1
    if batch:
        yield [(index, batch)]


class _Calls:
    """Stands for the `Trail` in a worker: the calls folded, in order, and the events that had
    no key, to be added to the real trail by the parent."""

    def __init__(self) -> None:
        self.calls: list[tuple[Call, int, int, int | None, int | None]] = []
        self.events = self.without_key = 0

    def add_many(self, call: Call, calls: int, untimed: int, first: int | None,
                 last: int | None) -> None:
        self.calls.append((call, calls, untimed, first, last))

    def add_without_key(self) -> None:
        self.events += 1
        self.without_key += 1


def _fold_batch(batch: list[tuple[int, list[Piece]]]) -> _Folded:
    """In a worker: a batch of lines folded as `read_records` would, lines numbered from 0."""
    from akscan.trail.reader import fold_piece

    (index, pieces), = batch
    stats, calls = ReadStats(), _Calls()
    folder = Folder(calls, stats)  # type: ignore[arg-type]
    number = 0
    for piece in pieces:
        number = fold_piece(piece, number, stats, folder.take, folder.add_record)
    folder.flush()
    return (index, calls.calls, folder.events, calls.without_key, stats.records,
            stats.malformed, stats.first_malformed or 0, number)


def _nothing() -> None:
    """A worker needs no setting up."""


# ------------------------------------------------------------------------------------- times

# `events.parse_time` for "YYYY-MM-DDTHH:" plus "MM:SS[.fff][zone]", as two cached parts: the
# hour (date checked; seconds since 1970) and the rest (seconds less the zone's offset).
_HOUR = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):", re.ASCII)
_REST = re.compile(r"(\d{2}):(\d{2})(?:[.,]\d+)?[ \t\n\r\f\v]*"
                   r"(?:(Z|z|UTC)|([+-])(\d{2}):?(\d{2})?)?[ \t\n\r\f\v]*", re.ASCII)
_UNIX_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_MIN_SECONDS = parse_time("0001-01-01T00:00:00Z")
_MAX_SECONDS = parse_time("9999-12-31T23:59:59Z")
_HOURS_CACHED = 4096  # 170 days of hours
_RESTS_CACHED = 16384  # an hour's minutes and seconds in four zones
_miss: Any = object()
_hours: dict[str, int | None] = {}
_rests: dict[str, int | None] = {}


def _time(value: str | None) -> int | None:
    """`parse_time(value)` for a string or None; the common forms from the caches."""
    if value is None:
        return None
    hour = _hours.get(value[:14], _miss)
    if hour is _miss:
        hour = _learn(_hours, value[:14], _hour, _HOURS_CACHED)
    rest = _rests.get(value[14:], _miss)
    if rest is _miss:
        rest = _learn(_rests, value[14:], _rest, _RESTS_CACHED)
    if hour is None or rest is None:
        return parse_time(value)
    seconds: int = hour + rest
    return seconds if _MIN_SECONDS <= seconds <= _MAX_SECONDS else None  # type: ignore[operator]


def _learn(cache: dict[str, int | None], key: str, parse: Callable[[str], int | None],
           size: int) -> int | None:
    if len(cache) >= size:
        cache.clear()
    value = cache[key] = parse(key)
    return value


def _hour(text: str) -> int | None:
    match = _HOUR.fullmatch(text)
    if not match:
        return None
    year, month, day, hour = (int(part) for part in match.groups())
    try:
        days = datetime.date(year, month, day).toordinal() - _UNIX_ORDINAL
    except ValueError:
        return None
    return days * 86400 + hour * 3600 if hour <= 23 else None


def _rest(text: str) -> int | None:
    match = _REST.fullmatch(text)
    if not match:
        return None
    minute, second, utc, sign, off_h, off_m = match.groups()
    if int(minute) > 59 or int(second) > 60:
        return None
    seconds = int(minute) * 60 + int(second)
    if sign and not utc:
        offset = int(off_h) * 3600 + int(off_m or 0) * 60
        seconds += -offset if sign == "+" else offset
    return seconds
