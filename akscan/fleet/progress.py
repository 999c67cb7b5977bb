"""One self-overwriting progress line on a terminal: repositories, bytes, findings, ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.done = 0
        self.bytes = 0
        self.findings = 0
        self._stream = stream
        self._started = time.monotonic()
        self._last = 0.0

    def update(self, scanned_bytes: int, new_findings: int) -> None:
        self.done += 1
        self.bytes += scanned_bytes
        self.findings += new_findings
        now = time.monotonic()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        self._stream.write(f"\r\033[K{self.line(now)}")
        self._stream.flush()

    def line(self, now: float) -> str:
        elapsed = now - self._started
        left = (elapsed / self.done * (self.total - self.done)) if self.done else 0.0
        return (f"akscan: {self.done}/{self.total} repositories, {self.bytes / 1e6:.1f} MB, "
                f"{self.findings} new finding(s), ETA {_duration(left)}")

    def clear(self) -> None:
        self._stream.write("\r\033[K")
        self._stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
