"""Where and how to validate: endpoints, timeout, retries, from the command line and env."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

from akscan.errors import AkscanError
from akscan.validate import ENDPOINT_ENV

__all__ = ["ENDPOINT_ENV", "Endpoint", "ValidateOptions", "from_args", "parse_endpoint"]
STS_HOST = "sts.aliyuncs.com"  # global endpoints; the SDK's own defaults for these services
RAM_HOST = "ram.aliyuncs.com"


@dataclass(frozen=True)
class Endpoint:
    protocol: str  # "https", or "http" for a loopback emulator
    host: str  # host[:port]; signed as the Host header

    @property
    def loopback(self) -> bool:
        name = urlsplit(f"//{self.host}").hostname or ""
        if name == "localhost":
            return True
        import ipaddress  # only to validate: every command's start-up imports this module

        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class ValidateOptions:
    sts: Endpoint = Endpoint("https", STS_HOST)
    ram: Endpoint = Endpoint("https", RAM_HOST)
    timeout: float = 10.0  # seconds, to connect and again to read each answer
    workers: int = 4  # pairs checked at once
    retries: int = 3  # more tries of a throttled call
    backoff: float = 0.25  # seconds before the first retry; doubles, with jitter
    deadline: float = 300.0  # seconds for the whole validation; pairs left then are unknown
    give_up_after: int = 4  # checks in a row with no answer: the endpoint is down
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def loopback(self) -> bool:
        return self.sts.loopback and self.ram.loopback


def parse_endpoint(url: str) -> Endpoint:
    """`https://host[:port]`, or `http://` to a loopback address only (an emulator)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise AkscanError(f"--validate-endpoint {url!r}: expected http(s)://HOST[:PORT]")
    if parts.path not in {"", "/"} or parts.query or parts.username or parts.password:
        raise AkscanError(f"--validate-endpoint {url!r}: give only scheme, host and port")
    endpoint = Endpoint(parts.scheme, parts.netloc)
    if parts.scheme == "http" and not endpoint.loopback:
        # A signed request is replayable for 15 minutes by whoever sees it.
        raise AkscanError(f"--validate-endpoint {url!r}: plain http is allowed only to a "
                          "loopback address; use https")
    return endpoint


def from_args(args: argparse.Namespace) -> ValidateOptions | None:
    """The options `--validate` asked for, or None without it. Raises AkscanError."""
    fail_on = getattr(args, "fail_on", "any")
    if not getattr(args, "validate", False):
        if fail_on == "live":
            raise AkscanError("--fail-on live needs --validate")
        return None
    timeout = args.validate_timeout
    if not 0 < timeout < float("inf"):
        raise AkscanError("--validate-timeout must be more than 0 seconds, and finite")
    deadline = getattr(args, "validate_deadline", ValidateOptions.deadline)
    if not 0 < deadline < float("inf"):
        raise AkscanError("--validate-deadline must be more than 0 seconds, and finite")
    url = args.validate_endpoint or os.environ.get(ENDPOINT_ENV)
    if not url:
        return ValidateOptions(timeout=timeout, deadline=deadline)
    endpoint = parse_endpoint(url)
    return ValidateOptions(sts=endpoint, ram=endpoint, timeout=timeout, deadline=deadline)
