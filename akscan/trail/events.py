"""Turn ActionTrail records into calls: who signed them, from where, what, when (in UTC).

Two shapes reach us. The event itself (OSS delivery, the LookupEvents API, Alibaba's examples),
and the SLS log of it, where the event is the JSON *string* in the `event` field and SLS adds
`__time__` (epoch seconds, a number or a string) and `__topic__`. Field names follow
ActionTrail's event structure: `userIdentity.accessKeyId`, `sourceIpAddress`, `vpcId`,
`serviceName`, `eventName`, `eventTime` (UTC, ISO 8601), `errorCode` (empty on success).
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any, NamedTuple

# Fields that mark a dict as an ActionTrail event rather than some other JSON.
_EVENT_FIELDS = ("eventName", "eventId", "userIdentity", "eventSource", "eventType")
# ASCII digits only: int() also reads Arabic-Indic or full-width digits, and str.isdigit()
# accepts superscripts that int() then rejects; neither is a time ActionTrail writes.
_ISO = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
    r"\s*(?:(Z|z|UTC)|([+-])(\d{2}):?(\d{2})?)?\s*$", re.ASCII,
)
# The times a report can print: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_TIME = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)
_MAX_TIME = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MIN_SECONDS = int((_MIN_TIME - _EPOCH).total_seconds())
_MAX_SECONDS = int((_MAX_TIME - _EPOCH).total_seconds())
_PRODUCT = re.compile(r"[A-Za-z0-9]+")
# Longer than any ID, IP, name or API ActionTrail writes: a value past it is cut, so that a
# trail of megabyte-long "IPs" cannot fill memory through the per-key tables.
MAX_TEXT = 256
# A JSON string may hold a lone surrogate ("\ud800"): no UTF-8 can encode it (to hash or print
# it), so it becomes U+FFFD.
_SURROGATE = re.compile("[\ud800-\udfff]")
_EPOCH_DAYS: dict[tuple[int, int, int], int] = {}
_UNIX_ORDINAL = datetime.date(1970, 1, 1).toordinal()


class Call(NamedTuple):
    """One API call signed with an AccessKey."""

    key_id: str
    vpc_id: str  # "" for a call through an Internet endpoint
    source_ip: str
    service: str
    api: str
    failed: bool
    time: int | None  # epoch seconds, UTC; None if the record has no usable time
    user: str
    account: str


class NotAnEvent(ValueError):
    """A record that is not an ActionTrail event (or whose `event` string does not parse)."""


def to_call(record: dict[str, Any]) -> Call | None:
    """The call `record` describes; None for an event signed without an AccessKey (console
    sign-ins, Alibaba Cloud services acting for you)."""
    event = record.get("event")
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except (ValueError, RecursionError):
            raise NotAnEvent("the event field is not JSON") from None
    if not isinstance(event, dict):
        event = record
    if not any(name in event for name in _EVENT_FIELDS):
        raise NotAnEvent("no ActionTrail event fields")
    identity = event.get("userIdentity")
    if not isinstance(identity, dict):
        return None
    key_id = _text(identity.get("accessKeyId"))
    if not key_id:
        return None
    when = parse_time(event.get("eventTime"))
    if when is None:
        when = parse_time(record.get("__time__"))
    return make_call(key_id, event.get("vpcId"), event.get("sourceIpAddress"),
                     event.get("serviceName"), event.get("eventSource"), event.get("eventName"),
                     event.get("errorCode"), event.get("errorMessage"),
                     identity.get("userName"), identity.get("accountId"), when)


def make_call(key_id: Any, vpc_id: Any, source_ip: Any, service: Any, event_source: Any,
              api: Any, error_code: Any, error_message: Any, user: Any, account: Any,
              when: int | None = None) -> Call:
    """The call from an event's fields as decoded (any JSON value): the one place that decides
    how each field is cleaned, for the generic reader and the fast one (`trail.fast`) alike."""
    return Call(
        key_id=_text(key_id),
        vpc_id=_text(vpc_id),
        source_ip=_text(source_ip),
        service=_text(service) or _service_from_host(event_source),
        api=_text(api),
        failed=bool(_text(error_code) or _text(error_message)),
        time=when,
        user=_text(user),
        account=_text(account),
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        text = value[:MAX_TEXT * 2].strip()
    elif value is None or isinstance(value, (dict, list)):
        return ""
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 64:
        return ""  # str() of a 4,300-digit int is slow, and no field holds one
    else:
        text = str(value)
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _service_from_host(source: Any) -> str:
    # eventSource is the endpoint called: ecs.cn-hangzhou.aliyuncs.com, oss-cn-hangzhou...,
    # ims-share.aliyuncs.com; the product is its leading word.
    match = _PRODUCT.match(_text(source))
    return match.group() if match else ""


def parse_time(value: Any) -> int | None:
    """Epoch seconds (UTC) from ISO 8601 (`Z`, `+08:00`, `+0800` or no zone, read as UTC, which
    is what ActionTrail writes) or from epoch seconds (SLS `__time__`), or milliseconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return _from_epoch(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        # Longer than any epoch in milliseconds: no time (and no 5,000-digit int to convert).
        return _from_epoch(int(text)) if len(text) <= 15 else None
    match = _ISO.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, utc, sign, off_h, off_m = match.groups()
    days = _days(int(year), int(month), int(day))
    if days is None or int(hour) > 23 or int(minute) > 59 or int(second or 0) > 60:
        return None
    seconds = days * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second or 0)
    if sign and not utc:
        offset = int(off_h) * 3600 + int(off_m or 0) * 60
        seconds += -offset if sign == "+" else offset
    # 9999-12-31T23:00:00-05:00 is in year 10000: no time a report could print.
    return seconds if _MIN_SECONDS <= seconds <= _MAX_SECONDS else None


def format_time(seconds: int | None) -> str:
    """ISO 8601 in UTC with a `Z`, or "" for no time."""
    if seconds is None or not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        return ""
    # No platform limits (unlike fromtimestamp() before 1970), and a four-digit year always
    # (strftime's %Y writes year 1 as "1" on glibc).
    return (_EPOCH + datetime.timedelta(seconds=seconds)).replace(tzinfo=None).isoformat() + "Z"


def _from_epoch(value: float) -> int | None:
    """Seconds, or milliseconds (past 1e11), since 1970; None for anything else (NaN, inf,
    negative, or a number too large to be either: no float overflow dividing it)."""
    if not 0 < value < 1e14:
        return None
    if value > 1e11:  # milliseconds
        value = value / 1000
    return int(value)


def _days(year: int, month: int, day: int) -> int | None:
    key = (year, month, day)
    days = _EPOCH_DAYS.get(key)
    if days is None:
        try:
            days = datetime.date(year, month, day).toordinal() - _UNIX_ORDINAL
        except ValueError:
            return None
        if len(_EPOCH_DAYS) > 10_000:  # a cache of dates seen, bounded
            _EPOCH_DAYS.clear()
        _EPOCH_DAYS[key] = days
    return days
