"""The calls to Alibaba Cloud, through its official SDK: the only module that imports it.

The SDK costs about 0.4 s to import, so this module is loaded only when --validate is given.
The secret goes into the SDK's Config and leaves the machine only as an ACS3-HMAC-SHA256
signature; nothing here logs or formats the Config (its to_map() holds the secret).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

from akscan import __version__
from akscan.model import Validation
from akscan.validate import outcome, transport
from akscan.validate.health import Health
from akscan.validate.options import Endpoint, ValidateOptions
from akscan.validate.pairs import Pair

T = TypeVar("T")
_MAX_WAIT = 8.0  # seconds: the longest pause between two tries of a throttled call


class Checker:
    """Validates one pair at a time; safe to share between threads."""

    def __init__(self, options: ValidateOptions, health: Health | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options
        self.health = health or Health(options)
        self._sleep = sleep
        transport.install()

    def check(self, pair: Pair) -> Validation:
        """Never raises: whatever goes wrong is an `unknown` verdict with the reason. Once the
        endpoint is clearly down or the deadline has passed, answers at once (unknown)."""
        skip = self.health.skip_reason()
        if skip is not None:
            return outcome.no_answer(skip)
        try:
            return self._check(pair)
        except Exception as exc:  # a validation must never end the scan
            return outcome.no_answer(f"validation failed: {type(exc).__name__}")

    def _check(self, pair: Pair) -> Validation:
        sts = StsClient(self._config(pair, self.options.sts))
        try:
            body = self._call(lambda: sts.get_caller_identity_with_options(RuntimeOptions()).body)
        except TeaException as exc:
            return self._refused(exc)
        self.health.answered()
        arn = outcome.server_text(body.arn)
        if not arn:
            # A 200 without the caller's ARN is not STS's answer (a proxy, a portal, a fake
            # endpoint): it says nothing about the key.
            return outcome.no_answer("the endpoint answered without the caller's ARN: no verdict")
        details = None
        user = outcome.user_name(arn)
        if body.identity_type == "RAMUser" and user:
            details = self._details(pair, user)
        return outcome.live(outcome.server_text(body.account_id), arn,
                            outcome.server_text(body.identity_type), details, self.options.now)

    def _details(self, pair: Pair, user: str) -> outcome.Details:
        """Age, status and last use from RAM; each call needs its own permission."""
        ram = RamClient(self._config(pair, self.options.ram))
        details = outcome.Details()
        runtime = RuntimeOptions()
        try:
            listed = self._call(lambda: ram.list_access_keys_with_options(
                ram_models.ListAccessKeysRequest(user_name=user), runtime).body)
            keys = listed.access_keys.access_key if listed.access_keys else None
            for key in keys or []:
                if key.access_key_id == pair.key_id:
                    details.created = outcome.server_text(key.create_date)
                    details.key_status = outcome.server_text(key.status)
        except TeaException as exc:
            self._note(details, "ram:ListAccessKeys", exc)
        try:
            used = self._call(lambda: ram.get_access_key_last_used_with_options(
                ram_models.GetAccessKeyLastUsedRequest(user_access_key_id=pair.key_id,
                                                       user_name=user), runtime).body)
            if used.access_key_last_used:
                details.last_used = outcome.server_text(
                    used.access_key_last_used.last_used_date)
        except TeaException as exc:
            self._note(details, "ram:GetAccessKeyLastUsed", exc)
        return details

    def _call(self, request: Callable[[], T]) -> T:
        """`request()`, tried again with growing pauses while the service throttles."""
        attempt = 0
        while True:
            try:
                return request()
            except TeaException as exc:
                if _code(exc) not in outcome.THROTTLED or attempt >= self.options.retries:
                    raise
                wait = self._wait(attempt, exc)
                if not self.health.can_wait(wait):
                    raise  # the deadline comes first: throttled, unknown
                self._sleep(wait)
                attempt += 1

    def _wait(self, attempt: int, exc: TeaException) -> float:
        wait = min(self.options.backoff * 2 ** attempt, _MAX_WAIT) * random.uniform(0.5, 1.0)
        retry_after = getattr(exc, "retry_after", None)  # milliseconds, when the service says
        if isinstance(retry_after, int) and retry_after > 0:
            wait = max(wait, min(retry_after / 1000, _MAX_WAIT))
        return wait

    def _refused(self, exc: TeaException) -> Validation:
        code = _code(exc)
        if code:
            self.health.answered()
            return outcome.refused(code, getattr(exc, "status_code", None), self.options.retries)
        inner = getattr(exc, "inner_exception", None)
        if isinstance(inner, transport.AnswerRefused):  # an answer, but not one to trust
            self.health.answered()
            return outcome.no_answer(f"{self.options.sts.host} answered with {inner.reason}"
                                     if inner.reason.startswith("an answer")
                                     else f"{self.options.sts.host}: {inner.reason}")
        # No answer at all: the SDK wraps the network error (requests') without a code.
        text = str(getattr(inner, "message", None) or inner or exc)
        reason = _network_reason(text, self.options.sts.host, self.options.timeout)
        self.health.silent(reason)
        return outcome.no_answer(reason)

    def _note(self, details: outcome.Details, action: str, exc: TeaException) -> None:
        code = _code(exc)
        if code in outcome.NOT_PERMITTED:
            details.denied.append(action)
        else:
            details.failed.append(f"{action} ({code or 'no answer'})")

    def _config(self, pair: Pair, endpoint: Endpoint) -> Config:
        millis = max(int(self.options.timeout * 1000), 1)
        return Config(
            access_key_id=pair.key_id, access_key_secret=pair.secret,
            security_token=pair.token, endpoint=endpoint.host, protocol=endpoint.protocol,
            signature_algorithm="ACS3-HMAC-SHA256", connect_timeout=millis, read_timeout=millis,
            # Shows in the owner's ActionTrail, so they can tell a scanner's check from an attack.
            user_agent=f"akscan/{__version__}",
        )


def _network_reason(text: str, host: str, timeout: float) -> str:
    lowered = text.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return f"no answer from {host} within {timeout:g} s (timeout)"
    if "resolve" in lowered or "name or service not known" in lowered:
        return f"cannot resolve {host} (DNS)"
    if "refused" in lowered or "failed to establish a new connection" in lowered:
        return f"cannot connect to {host}"
    if "ssl" in lowered or "certificate" in lowered:
        return f"TLS error talking to {host}"
    first = outcome.server_text(text.splitlines()[0]) if text.strip() else "?"
    return f"network error talking to {host}: {first}"


def _code(exc: TeaException) -> str | None:
    code = getattr(exc, "code", None)
    return outcome.server_text(str(code)) if code and code != "None" else None
