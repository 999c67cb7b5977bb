"""The lists the user gives `akscan trail`: their own IPs, their keys, and a scan's findings."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from akscan import userfile
from akscan.errors import AkscanError
from akscan.model import ACCESS_KEY_ID
from akscan.redaction import redact_credentials
from akscan.terminal import escape, escape_path

_MAX_LIST = 64 * 1024 * 1024  # far beyond any list of IPs or keys
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# An AccessKey ID anywhere on a line: a bare list, or a CSV exported from the RAM console.
_KEY_ID = re.compile(r"(?<![A-Za-z0-9])LTA[A-Za-z0-9]{10,30}(?![A-Za-z0-9])")


class KnownIps:
    """The user's public IPs and EIPs (addresses or CIDR blocks): `ip in known`."""

    def __init__(self, networks: list[Network]) -> None:
        self.networks = networks
        self._cache: dict[str, bool] = {}

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, str):
            return False
        hit = self._cache.get(ip)
        if hit is None:
            hit = self._lookup(ip)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[ip] = hit
        return hit

    def _lookup(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip.strip("[]").split("%", 1)[0])
        except ValueError:
            return False  # masked ("192.168.XX.XX") or not an address: not provably yours
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks
                   if network.version == address.version)


def load_known_ips(path: str) -> KnownIps:
    """One IP or CIDR per line; `#` starts a comment. A bad line is an error naming it."""
    networks: list[Network] = []
    for number, line in _lines(path, "--known-ips"):
        try:
            networks.append(ipaddress.ip_network(line, strict=False))
        except ValueError:
            # The line may be a secret (a .env given by mistake, issue 15): quoted redacted.
            message = (f"{escape_path(path)}:{number}: not an IP address or CIDR block: "
                       f"{escape(redact_credentials(repr(line)[:120]))}")
            raise AkscanError(message) from None
    return KnownIps(networks)


def load_key_list(path: str) -> list[str]:
    """The AccessKey IDs in `path`, in order, each once: one per line, or a RAM console CSV."""
    keys: dict[str, None] = {}
    for _, line in _lines(path, "--keys"):
        for match in _KEY_ID.finditer(line):
            keys.setdefault(match.group(), None)
    if not keys:
        raise AkscanError(f"{path}: no AccessKey IDs (LTA...) found")
    return list(keys)


@dataclass(frozen=True)
class Leak:
    """Where a scan found an AccessKey ID (never the ID itself)."""

    path: str
    line: int
    commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "line": self.line}
        if self.commit:
            data["commit"] = self.commit
        return data


def load_leaks(path: str) -> dict[str, list[Leak]]:
    """AccessKey ID findings of an akscan JSON report, by `secret_sha256`."""
    text = userfile.read_text(path, "--findings report", 512 * 1024 * 1024)
    try:
        document = userfile.parse_json(text)
    except ValueError as exc:
        raise AkscanError(f"{path}: not an akscan JSON report: {exc}") from None
    if not isinstance(document, dict) or document.get("version") != 1 \
            or not isinstance(document.get("findings"), list):
        raise AkscanError(f"{path}: not an akscan JSON report (version 1, with findings)")
    places: dict[str, dict[Leak, None]] = {}
    for finding in document["findings"]:
        if not isinstance(finding, dict) or finding.get("kind") != ACCESS_KEY_ID:
            continue
        digest, where, line = (finding.get(k) for k in ("secret_sha256", "path", "line"))
        if not isinstance(digest, str) or not isinstance(where, str) \
                or isinstance(line, bool) or not isinstance(line, int):
            raise AkscanError(f"{path}: not an akscan JSON report (an access-key-id finding "
                              "without string secret_sha256 and path and a whole-number line)")
        commit = finding.get("commit")
        # A dict per digest: 30,000 findings of one key once took a quadratic 66 s (issue 12).
        places.setdefault(digest, {})[Leak(where, line,
                                           commit if isinstance(commit, str) else None)] = None
    return {digest: list(found) for digest, found in places.items()}


def _lines(path: str, option: str) -> list[tuple[int, str]]:
    # Bounded and non-blocking (a FIFO or /dev/zero is an error, not a hang); any encoding is
    # read, undecodable bytes as U+FFFD (a RAM console CSV may not be UTF-8).
    data = userfile.read_bytes(path, f"{option} file", _MAX_LIST)
    text = data.decode("utf-8-sig", errors="replace")
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append((number, line))
    return lines
