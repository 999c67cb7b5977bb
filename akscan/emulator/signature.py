"""ACS3-HMAC-SHA256: how Alibaba Cloud's V3 API gateway signs a request, written from its spec.

The emulator verifies requests with this, and tests sign hand-made requests with it; the SDK
signs with its own code (alibabacloud_tea_openapi.utils), so the two meet only on the wire.
Every step, and where it is documented, is in docs/validation.md ("The signature").
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"
_AUTHORIZATION = re.compile(
    r"^(?P<algorithm>\S+)\s+Credential=(?P<credential>[^,]*),\s*SignedHeaders=(?P<signed>[^,]*),"
    r"\s*Signature=(?P<signature>\S*)$"
)


@dataclass(frozen=True)
class Authorization:
    """The parts of an `Authorization: ACS3-HMAC-SHA256 Credential=...` header."""

    algorithm: str
    credential: str  # the AccessKey ID
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    """The header's parts, or None when it is not of the ACS3 form at all."""
    match = _AUTHORIZATION.match(value.strip())
    if not match:
        return None
    signed = tuple(match["signed"].split(";")) if match["signed"] else ()
    return Authorization(match["algorithm"], match["credential"], signed, match["signature"])


def rfc3986(text: str) -> str:
    """Percent-encode all but unreserved characters (letters, digits, `-_.~`), as UTF-8."""
    return quote(text, safe="~", encoding="utf-8")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Decoded query parameters, encoded again by RFC 3986, sorted by name, joined with `&`."""
    return "&".join(f"{name}={value}" for name, value in
                    sorted((rfc3986(n), rfc3986(v)) for n, v in params))


def canonical_headers(headers: Mapping[str, Sequence[str]], signed: Sequence[str]) -> str:
    """`name:value\\n` for each signed header (lower-case names, sorted; repeated values sorted
    and comma-joined, each value trimmed)."""
    return "".join(
        f"{name}:{','.join(sorted(v.strip() for v in headers.get(name, ())))}\n"
        for name in signed
    )


def canonical_request(
    method: str, path: str, params: Iterable[tuple[str, str]],
    headers: Mapping[str, Sequence[str]], signed: Sequence[str], payload_sha256: str,
) -> str:
    return "\n".join([
        method.upper(), path or "/", canonical_query(params),
        canonical_headers(headers, signed), ";".join(signed), payload_sha256,
    ])


def string_to_sign(canonical: str) -> str:
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def signature(secret: str, canonical: str) -> str:
    """hex(HMAC-SHA256(secret, string to sign)): the secret itself never leaves the client."""
    text = string_to_sign(canonical).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), text, hashlib.sha256).hexdigest()


def authorization(key_id: str, signed: Sequence[str], sig: str) -> str:
    return f"{ALGORITHM} Credential={key_id},SignedHeaders={';'.join(signed)},Signature={sig}"


def sign(
    method: str, path: str, params: Sequence[tuple[str, str]], headers: Mapping[str, str],
    body: bytes, key_id: str, secret: str,
) -> dict[str, str]:
    """`headers` plus x-acs-content-sha256 and Authorization, signing every header given.

    A client-side signer for hand-made requests in tests; names must be lower-case.
    """
    out = {**headers, "x-acs-content-sha256": hashlib.sha256(body).hexdigest()}
    signed = sorted(out)
    canonical = canonical_request(method, path, params, {k: [v] for k, v in out.items()},
                                  signed, out["x-acs-content-sha256"])
    out["authorization"] = authorization(key_id, signed, signature(secret, canonical))
    return out
