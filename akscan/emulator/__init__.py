"""A local stand-in for Alibaba Cloud's STS and RAM endpoints, faithful enough for the real SDK.

It verifies every request's ACS3-HMAC-SHA256 signature with the secrets it knows, refuses old
or future x-acs-date values and reused nonces, and answers with the services' JSON, error codes
and HTTP statuses. akscan's tests validate keys against it; by hand:

    python -m akscan.emulator --port 0 --keys keys.json
    akscan scan --validate --validate-endpoint http://127.0.0.1:PORT .

Only the standard library is used: it runs without the SDK.
"""

from __future__ import annotations

from akscan.emulator.keys import EmulatedKey, load_keys
from akscan.emulator.server import Emulator

__all__ = ["EmulatedKey", "Emulator", "load_keys"]
