"""When to stop asking: an overall deadline, and an endpoint that is clearly not answering.

A black-holed endpoint made every pair wait the whole timeout, four at a time: 500 pairs took
about 20 minutes (issue 12). Once `give_up_after` checks in a row got no answer at all, or once
the deadline has passed, every pair not yet checked is `unknown` at once, with the reason; the
summary says how many.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from akscan.validate.options import ValidateOptions


class Health:
    """Shared by the validating threads: answers, silences, and the deadline."""

    def __init__(self, options: ValidateOptions,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline = options.deadline
        self._until = clock() + options.deadline
        self._give_up_after = options.give_up_after
        self._host = options.sts.host
        self._lock = threading.Lock()
        self._in_a_row = 0
        self.down: str | None = None  # why the endpoint counts as down
        self.skipped = 0  # pairs answered `unknown` without a call
        self.late = False  # the deadline passed with pairs left

    def answered(self) -> None:
        with self._lock:
            self._in_a_row = 0

    def silent(self, reason: str) -> None:
        with self._lock:
            self._in_a_row += 1
            if self.down is None and self._in_a_row >= self._give_up_after:
                self.down = reason

    def can_wait(self, seconds: float) -> bool:
        return self._clock() + seconds < self._until

    def skip_reason(self) -> str | None:
        """Why a pair should not be asked about (it is then counted as skipped), or None."""
        with self._lock:
            if self.down is not None:
                reason = (f"not checked: {self._host} did not answer {self._give_up_after} "
                          f"checks in a row ({self.down})")
            elif self._clock() >= self._until:
                self.late = True
                reason = f"not checked: the validation deadline of {self._deadline:g} s passed"
            else:
                return None
            self.skipped += 1
            return reason

    def summary(self) -> str | None:
        """One line for the user when pairs went unchecked, or None."""
        if not self.skipped:
            return None
        why = (f"{self._host} did not answer {self._give_up_after} checks in a row ({self.down})"
               if self.down is not None
               else f"the validation deadline of {self._deadline:g} s passed")
        return (f"validation stopped early: {why}; {self.skipped} pair(s) not checked are "
                "unknown (--validate-deadline to allow more time)")
