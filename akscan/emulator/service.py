"""What the STS and RAM endpoints answer, request by request, without the HTTP around it.

Checks run in the order a gateway can run them: the header's form, the clock, the key, the
signature, the nonce, then the key's state and the operation. docs/validation.md lists every
error code with its HTTP status and source.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from akscan.emulator import signature
from akscan.emulator.keys import EmulatedKey, index

MAX_SKEW_SECONDS = 15 * 60  # x-acs-date may be this far from the server's clock, either way

STS_VERSION = "2015-04-01"
RAM_VERSION = "2015-05-01"

Headers = Mapping[str, Sequence[str]]  # lower-case name -> every value received


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class RawAnswer(Exception):
    """An answer that is not the service's JSON: a redirect, or a flood of `size` bytes. The
    server writes it (streamed: a flood is never held in memory)."""

    def __init__(self, status: int, headers: dict[str, str], size: int = 0) -> None:
        super().__init__(status)
        self.status, self.headers, self.size = status, headers, size


class Service:
    """STS GetCallerIdentity, RAM ListAccessKeys and GetAccessKeyLastUsed for known keys."""

    def __init__(
        self, keys: Sequence[EmulatedKey], clock: Callable[[], float] = time.time
    ) -> None:
        self.keys = index(keys)
        self._clock = clock
        self._lock = threading.Lock()
        self._nonces: dict[str, float] = {}  # nonce -> when it may be forgotten
        self._counts: dict[str, int] = {}
        # (key id, action) of every call that passed authentication, in order: for tests.
        self.calls: list[tuple[str, str]] = []
        self.flood_sent = 0  # bytes of flood answers written before the client hung up

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON body for one request."""
        host = _one(headers, "host") or "127.0.0.1"
        request_id = str(uuid.uuid4()).upper()
        try:
            key = self._authenticate(method, target, headers, body)
            action = _one(headers, "x-acs-action") or ""
            self._behave(key, action)
            params = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
            if "application/x-www-form-urlencoded" in (_one(headers, "content-type") or ""):
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            answer = self._operation(key, action, _one(headers, "x-acs-version") or "", params)
        except ApiError as err:
            return err.status, {
                "RequestId": request_id, "HostId": host, "Code": err.code,
                "Message": err.message,
                "Recommend": f"https://api.aliyun.com/troubleshoot?q={err.code}"
                             f"&requestId={request_id}",
                **err.extra,
            }
        return 200, {"RequestId": request_id, **answer}

    def _authenticate(self, method: str, target: str, headers: Headers, body: bytes
                      ) -> EmulatedKey:
        auth = signature.parse_authorization(_one(headers, "authorization") or "")
        if auth is None or auth.algorithm != signature.ALGORITHM:
            raise ApiError(400, "IncompleteSignature",
                           "The request signature does not conform to Aliyun standards. "
                           "(this emulator knows only ACS3-HMAC-SHA256)")
        # Every common header sent must be signed: host, x-acs-*, content-type.
        must = {"host"} | {h for h in headers if h.startswith("x-acs-") or h == "content-type"}
        unsigned = sorted(must - set(auth.signed_headers))
        if unsigned or list(auth.signed_headers) != sorted(auth.signed_headers):
            raise ApiError(400, "IncompleteSignature",
                           "The request signature does not conform to Aliyun standards. "
                           f"Unsigned or unsorted headers: {', '.join(unsigned) or 'order'}")
        self._check_date(_one(headers, "x-acs-date"))
        nonce = _one(headers, "x-acs-signature-nonce")
        if not nonce:
            raise ApiError(400, "MissingParameter",
                           'The input parameter "x-acs-signature-nonce" that is mandatory for '
                           "processing this request is not supplied.")
        key = self.keys.get(auth.credential)
        if key is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        split = urlsplit(target)
        payload = hashlib.sha256(body).hexdigest()
        canonical = signature.canonical_request(
            method, split.path, parse_qsl(split.query, keep_blank_values=True), headers,
            auth.signed_headers, payload)
        expected = signature.signature(key.secret, canonical)
        claimed = _one(headers, "x-acs-content-sha256")
        if claimed != payload or not hmac.compare_digest(expected, auth.signature.lower()):
            raise ApiError(400, "SignatureDoesNotMatch",
                           "Specified signature is not matched with our calculation. server "
                           f"string to sign is:{signature.string_to_sign(canonical)}")
        self._use_nonce(nonce)
        if key.security_token and _one(headers, "x-acs-security-token") != key.security_token:
            raise ApiError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                           "The Security Token does not match the AccessKey.")
        if key.status != "Active":
            raise ApiError(400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
        return key

    def _check_date(self, value: str | None) -> None:
        try:
            sent = datetime.strptime(value or "", "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise ApiError(400, "InvalidTimeStamp.Format",
                           "Specified time stamp or date value is not well formatted.") from None
        skew = abs(self._clock() - sent.replace(tzinfo=timezone.utc).timestamp())
        if skew > MAX_SKEW_SECONDS:
            raise ApiError(400, "InvalidTimeStamp.Expired",
                           "Specified time stamp or date value is expired.")

    def _use_nonce(self, nonce: str) -> None:
        now = self._clock()
        with self._lock:
            for old in [n for n, until in self._nonces.items() if until < now]:
                del self._nonces[old]
            if nonce in self._nonces:
                raise ApiError(400, "SignatureNonceUsed",
                               "Specified signature nonce was used already.")
            # Kept as long as a request with it could still pass the clock check.
            self._nonces[nonce] = now + 2 * MAX_SKEW_SECONDS

    def _behave(self, key: EmulatedKey, action: str) -> None:
        with self._lock:
            self._counts[key.id] = count = self._counts.get(key.id, 0) + 1
            self.calls.append((key.id, action))
        if count <= key.throttle_n:
            raise ApiError(400, "Throttling.User", "Request was denied due to user flow control.")
        if key.error_500:
            raise ApiError(500, "InternalError", "The request processing has failed due to some "
                                                 "unknown error, exception or failure.")
        if key.error_503:
            raise ApiError(503, "ServiceUnavailable",
                           "The request has failed due to a temporary failure of the server.")
        if key.slow:
            time.sleep(key.slow)
        if key.redirect:
            raise RawAnswer(302, {"Location": key.redirect})
        if key.flood:
            raise RawAnswer(200, {"Content-Type": "application/json;charset=utf-8"}, key.flood)

    def _operation(self, key: EmulatedKey, action: str, version: str, params: dict[str, str]
                   ) -> dict[str, Any]:
        if (action, version) == ("GetCallerIdentity", STS_VERSION):
            return _identity(key)
        if (action, version) in {("ListAccessKeys", RAM_VERSION),
                                 ("GetAccessKeyLastUsed", RAM_VERSION)}:
            if not key.ram:
                raise _no_permission(key, f"ram:{action}")
            user = params.get("UserName") or key.user_name
            keys = [k for k in self.keys.values()
                    if k.account_id == key.account_id and k.user_name == user
                    and not k.security_token]
            if not keys:
                raise ApiError(404, "EntityNotExist.User", "The user does not exist.")
            if action == "ListAccessKeys":
                return {"AccessKeys": {"AccessKey": [
                    {"AccessKeyId": k.id, "Status": k.status, "CreateDate": k.created}
                    for k in keys]}}
            wanted = [k for k in keys if k.id == params.get("UserAccessKeyId")]
            if not wanted:
                raise ApiError(404, "EntityNotExist.User.AccessKey",
                               "The access key does not exist.")
            used = wanted[0].last_used
            return {"AccessKeyLastUsed": {"LastUsedDate": used} if used else {}}
        raise ApiError(404, "InvalidAction.NotFound",
                       "Specified api is not found, please check your url and method.")


def _identity(key: EmulatedKey) -> dict[str, Any]:
    principal = str(int(hashlib.sha256(key.id.encode()).hexdigest()[:12], 16))
    answer = {"AccountId": key.account_id, "Arn": key.arn, "PrincipalId": principal}
    if key.no_arn:
        del answer["Arn"]
    if key.security_token:
        return {**answer, "IdentityType": "AssumedRoleUser", "RoleId": principal,
                "PrincipalId": f"{principal}:akscan-session"}
    if key.user_name is None:
        return {**answer, "IdentityType": "Account", "UserId": key.account_id}
    return {**answer, "IdentityType": "RAMUser", "UserId": principal}


def _no_permission(key: EmulatedKey, action: str) -> ApiError:
    return ApiError(
        403, "NoPermission",
        "You are not authorized to do this action. You should be authorized by RAM.",
        AccessDeniedDetail={
            "AuthAction": action, "AuthPrincipalOwnerId": key.account_id,
            "AuthPrincipalType": "SubUser", "AuthPrincipalDisplayName": key.user_name or "",
            "NoPermissionType": "ImplicitDeny", "PolicyType": "AccountLevelIdentityBasedPolicy",
        },
    )


def _one(headers: Headers, name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None
