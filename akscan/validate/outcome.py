"""From what the service answered to a Validation: the error codes, the dates and the flags.

Classification goes by the error code, never by HTTP status or exception class (the statuses
differ between services and documentation pages). Sources: docs/validation.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from akscan.model import INACTIVE, INVALID, LIVE, UNKNOWN, UNVERIFIABLE, Validation
from akscan.terminal import escape

MAX_SERVER_TEXT = 200  # characters of any one string a server sent that a report keeps

ROTATE_AFTER_DAYS = 90  # Alibaba's guidance: rotate AccessKeys every 90 days
UNUSED_AFTER_DAYS = 90  # unused this long: delete it rather than rotate it

FLAG_OLD = "older-than-90-days"
FLAG_UNUSED = "unused-over-90-days"
FLAG_NO_DETAILS = "details-not-permitted"
FLAG_ROOT = "root-account-key"

NOT_FOUND = frozenset({"InvalidAccessKeyId.NotFound", "InvalidAccessKeyId"})
DISABLED = frozenset({"InvalidAccessKeyId.Inactive"})
WRONG_SECRET = frozenset({"SignatureDoesNotMatch"})
BAD_TOKEN = {
    "InvalidSecurityToken.Expired": "its STS SecurityToken has expired",
    "InvalidSecurityToken.MismatchWithAccessKey": "the STS SecurityToken found with it belongs "
                                                  "to another key",
    "InvalidSecurityToken.Malformed": "the STS SecurityToken found with it is malformed",
}
THROTTLED = frozenset({"Throttling", "Throttling.User", "Throttling.Api"})
NOT_PERMITTED = frozenset({"NoPermission", "Forbidden.RAM", "NotAuthorized", "Forbidden"})

# Which verdict speaks for an ID seen with several secrets: the most alarming one.
_RANK = {LIVE: 0, INACTIVE: 1, UNKNOWN: 2, INVALID: 3, UNVERIFIABLE: 4}


def refused(code: str, status: int | None, retries: int) -> Validation:
    """The verdict when GetCallerIdentity answered with error `code`."""
    if code in NOT_FOUND:
        return Validation(INVALID, f"unknown AccessKey ID: Alibaba Cloud has no such key ({code})")
    if code in WRONG_SECRET:
        return Validation(INVALID, "wrong secret: the AccessKey ID exists but this secret does "
                                   f"not sign for it ({code})")
    if code in BAD_TOKEN:
        return Validation(INVALID, f"{BAD_TOKEN[code]} ({code})")
    if code in DISABLED:
        return Validation(INACTIVE, f"the key exists but is disabled ({code}); delete it if "
                                    "nothing needs it")
    if code in THROTTLED:
        return Validation(UNKNOWN, f"throttled ({code}), still after {retries} retries")
    where = f"HTTP {status}, " if status else ""
    return Validation(UNKNOWN, f"no verdict: the service answered {where}{code}")


def server_text(value: object) -> str | None:
    """A string from the server as reports may show it: control characters and bidi overrides
    escaped (an ARN or error code could clear a screen, issue 12), cut to a sane length."""
    if value is None:
        return None
    text = escape(str(value))
    return text if len(text) <= MAX_SERVER_TEXT else text[:MAX_SERVER_TEXT - 1] + "…"


def no_answer(reason: str) -> Validation:
    return Validation(UNKNOWN, reason)


def unverifiable(reason: str) -> Validation:
    return Validation(UNVERIFIABLE, reason)


@dataclass
class Details:
    """What RAM told about the key (ListAccessKeys, GetAccessKeyLastUsed), and what it would not."""

    created: str | None = None
    key_status: str | None = None
    last_used: str | None = None
    denied: list[str] = field(default_factory=list)  # "ram:ListAccessKeys", ...
    failed: list[str] = field(default_factory=list)  # "ram:ListAccessKeys (InternalError)", ...


def live(
    account_id: str | None, arn: str | None, identity_type: str | None, details: Details | None,
    now: datetime,
) -> Validation:
    """The verdict for a pair that authenticated, with what RAM added."""
    user = user_name(arn)
    flags: list[str] = []
    notes = [f"it authenticates as {arn or 'an unnamed principal'}"]
    if identity_type == "Account":
        flags.append(FLAG_ROOT)
        notes.append("the account's own root key, with every permission: disable it now")
    details = details or Details()
    age = _days_since(details.created, now)
    if age is not None:
        notes.append(f"created {details.created} ({age} days ago)")
        if age > ROTATE_AFTER_DAYS:
            flags.append(FLAG_OLD)
            notes.append("older than 90 days: rotate it")
    idle = _days_since(details.last_used, now)
    if idle is not None:
        notes.append(f"last used {details.last_used} ({idle} days ago)")
        if idle > UNUSED_AFTER_DAYS:
            flags.append(FLAG_UNUSED)
            notes.append("unused for over 90 days: delete it")
    if details.denied:
        flags.append(FLAG_NO_DETAILS)
        notes.append(f"the key may not call {', '.join(details.denied)}, so its age and last "
                     "use are unknown; it is live all the same")
    if details.failed:
        notes.append(f"details unavailable: {', '.join(details.failed)}")
    return Validation(
        LIVE, "; ".join(notes), account_id=account_id, arn=arn, user_name=user,
        created=details.created, age_days=age, last_used=details.last_used,
        key_status=details.key_status, flags=tuple(flags),
    )


def user_name(arn: str | None) -> str | None:
    """`bob` from `acs:ram::123:user/bob`; None for root keys and roles."""
    if not arn:
        return None
    resource = arn.split(":", 4)[-1]
    kind, _, name = resource.partition("/")
    return name if kind == "user" and name else None


def best(verdicts: Sequence[Validation]) -> Validation:
    return min(verdicts, key=lambda v: _RANK.get(v.status, len(_RANK)))


def _days_since(stamp: str | None, now: datetime) -> int | None:
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((now - when).days, 0)
