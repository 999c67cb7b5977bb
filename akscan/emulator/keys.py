"""The AccessKeys an emulator knows, and how each one behaves (a keys.json file by hand)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from akscan.errors import AkscanError


@dataclass(frozen=True)
class EmulatedKey:
    """One AccessKey pair as the service would hold it.

    `user_name` None is the account's own (root) key; with `security_token` it is an STS
    temporary key of the role `user_name`. `ram` says whether the key may call the RAM
    ListAccessKeys and GetAccessKeyLastUsed operations. The behaviours make every call with this
    key fail in one way: the first `throttle_n` calls are throttled, `error_500`/`error_503`
    answer a server error, `slow` sleeps that many seconds before answering. The hostile ones
    (issue 12): `redirect` answers a redirect to that URL, `flood` answers that many bytes of
    JSON, `no_arn` answers GetCallerIdentity with no `Arn`.
    """

    id: str
    secret: str
    status: str = "Active"
    account_id: str = "1234567890123456"
    user_name: str | None = "akscan-emulated"
    created: str = "2025-01-01T00:00:00Z"
    last_used: str | None = None
    ram: bool = True
    security_token: str | None = None
    throttle_n: int = 0
    error_500: bool = False
    error_503: bool = False
    slow: float = 0.0
    redirect: str | None = None
    flood: int = 0
    no_arn: bool = False

    @property
    def arn(self) -> str:
        if self.security_token:
            return f"acs:ram::{self.account_id}:assumed-role/{self.user_name}/akscan-session"
        if self.user_name is None:
            return f"acs:ram::{self.account_id}:root"
        return f"acs:ram::{self.account_id}:user/{self.user_name}"


def load_keys(path: Path) -> list[EmulatedKey]:
    """`[{"id": ..., "secret": ..., ...}, ...]` or `{"keys": [...]}`, fields as EmulatedKey."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AkscanError(f"{path}: cannot read keys: {exc}") from None
    items = data.get("keys") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise AkscanError(f"{path}: expected a list of keys or {{\"keys\": [...]}}")
    return [key_from(item, f"{path}: key {n}") for n, item in enumerate(items, 1)]


def key_from(item: Any, where: str = "key") -> EmulatedKey:
    names = {f.name for f in dataclasses.fields(EmulatedKey)}
    if not isinstance(item, dict) or not {"id", "secret"} <= set(item):
        raise AkscanError(f"{where}: needs at least \"id\" and \"secret\"")
    unknown = sorted(set(item) - names)
    if unknown:
        raise AkscanError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return EmulatedKey(**item)


def index(keys: Sequence[EmulatedKey]) -> dict[str, EmulatedKey]:
    return {key.id: key for key in keys}
