"""What the SDK may receive: no redirects, at most `MAX_ANSWER` bytes, whole within a deadline.

The SDK sends through `requests` and would follow a redirect to any host (with the signed
request's headers), read an answer of any size whole into memory, and wait for a server that
drips one byte every few seconds as long as it likes (issue 12). The one seam the SDK offers is
the HTTP adapter it mounts on its sessions (`DaraCore.get_adapter`): `install()` wraps each one
it makes so that every answer is checked before the SDK sees it. Answers refused here raise
`AnswerRefused`, which the SDK passes through as the cause of its own error.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from akscan.terminal import escape

MAX_ANSWER = 1 << 20  # GetCallerIdentity and the RAM answers are a few hundred bytes
_READ = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_lock = threading.Lock()
_installed = False


class AnswerRefused(Exception):
    """An answer akscan does not hand to the SDK; `reason` says why, safe to print."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def install() -> None:
    """Wrap the adapters the SDK makes from now on (and forget the sessions it made before)."""
    global _installed
    from darabonba.core import DaraCore

    with _lock:
        if _installed:
            return
        original = DaraCore.get_adapter

        def get_adapter(*args: Any, **kwargs: Any) -> Any:
            adapter = original(*args, **kwargs)
            adapter.send = functools.partial(_send, adapter.send)
            return adapter

        DaraCore.get_adapter = staticmethod(get_adapter)
        DaraCore._sessions.clear()
        _installed = True


def _send(send: Any, request: Any, **kwargs: Any) -> Any:
    timeout = kwargs.get("timeout")
    read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
    response = send(request, **{**kwargs, "stream": True})
    try:
        if response.status_code in _REDIRECTS:
            target = response.headers.get("Location", "")
            raise AnswerRefused(f"redirected to {_where(target)}; redirects are never followed")
        response._content = _body(response.raw, float(read_timeout or 10.0))
        response._content_consumed = True
    except BaseException:
        response.close()  # the connection is not reused after an answer left half read
        raise
    release = getattr(response.raw, "release_conn", None)
    if release is not None:  # read whole: the connection goes back to the pool
        release()
    return response


def _body(raw: Any, deadline_seconds: float) -> bytes:
    """The whole answer, at most MAX_ANSWER bytes, within `deadline_seconds` of its headers."""
    until = time.monotonic() + deadline_seconds
    read = getattr(raw, "read1", None) or raw.read  # read1: returns what has arrived
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = read(_READ)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > MAX_ANSWER:
            raise AnswerRefused(f"an answer larger than {MAX_ANSWER // 1024} KiB; not read")
        parts.append(chunk)
        if time.monotonic() > until:
            raise AnswerRefused(f"the answer did not arrive whole within {deadline_seconds:g} s")


def _where(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc or parts.path[:80]
    return escape(f"{parts.scheme}://{host}" if parts.scheme else host or "(no location)")
