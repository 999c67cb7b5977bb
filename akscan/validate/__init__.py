"""Ask Alibaba Cloud whether found credential pairs work (`--validate`, issue 7).

Off unless asked: validating is itself an authenticated call that the key's owner sees in
ActionTrail. Each distinct pair is checked once per run, a few at a time, through the official
SDK, which is imported only here and only then. See README "Validating found keys".
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from akscan.errors import AkscanError

if TYPE_CHECKING:  # imported where used: every scanning command's start-up imports this package
    from akscan.model import Finding, Validation
    from akscan.validate import pairs
    from akscan.validate.options import ValidateOptions

__all__ = ["ENDPOINT_ENV", "SDK_MODULES", "from_args", "require_sdk", "validate_findings"]

ENDPOINT_ENV = "AKSCAN_VALIDATE_ENDPOINT"

SDK_MODULES = ("alibabacloud_sts20150401", "alibabacloud_ram20150501")
INSTALL_HINT = "pip install 'akscan[validate]'"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def from_args(args: argparse.Namespace) -> ValidateOptions | None:
    """The options `--validate` asked for, or None without it (see options.from_args, which
    is imported only when there is something to check). Raises AkscanError."""
    if not getattr(args, "validate", False) and getattr(args, "fail_on", "any") != "live":
        return None
    from akscan.validate import options

    return options.from_args(args)


def require_sdk() -> None:
    """Fail early (before a long scan) when the SDK is not installed; imports nothing."""
    from importlib.util import find_spec

    missing = [name for name in SDK_MODULES if find_spec(name) is None]
    if missing:
        raise AkscanError(f"--validate needs the Alibaba Cloud SDK ({', '.join(missing)}): "
                          f"{INSTALL_HINT}")


def validate_findings(findings: Sequence[Finding], options: ValidateOptions) -> list[Finding]:
    """The findings, each with a `validation` verdict; a failed check is `unknown`, never lost."""
    from akscan.terminal import say
    from akscan.validate import pairs

    plan = pairs.plan(findings)
    verdicts: dict[pairs.CacheKey, Validation] = {}
    if plan.pairs:
        try:
            from akscan.validate.alibaba import Checker
        except ImportError as exc:
            raise AkscanError(f"--validate cannot load the Alibaba Cloud SDK ({exc}): "
                              f"{INSTALL_HINT}") from None
        checker = Checker(options)
        with _direct(options):
            results = _check_all(checker, plan.pairs, options)
        verdicts = {pair.cache_key: verdict for pair, verdict in zip(plan.pairs, results)}
        note = checker.health.summary()
        if note:
            say(note, "warning")
    return pairs.attach(findings, plan, verdicts)


def _check_all(checker: Any, todo: Sequence[pairs.Pair], options: ValidateOptions
               ) -> list[Validation]:
    """Each pair's verdict, a few at a time, all within the deadline: a check still running
    then (a server that never finishes its answer) is `unknown` and left behind in a daemon
    thread, which cannot keep akscan from exiting."""
    results: list[Validation | None] = [None] * len(todo)
    left = iter(range(len(todo)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                index = next(left, None)
            if index is None:
                return
            results[index] = checker.check(todo[index])

    threads = [threading.Thread(target=work, name="akscan-validate", daemon=True)
               for _ in range(max(1, min(options.workers, len(todo))))]
    for thread in threads:
        thread.start()
    # Past the deadline, checks already running get the time of one more answer to finish.
    until = time.monotonic() + options.deadline + 2 * options.timeout + 1
    for thread in threads:
        thread.join(max(0.0, until - time.monotonic()))
    from akscan.validate import outcome

    late = outcome.no_answer(f"no verdict within the validation deadline of "
                             f"{options.deadline:g} s")
    return [verdict or late for verdict in results]


@contextmanager
def _direct(options: ValidateOptions) -> Iterator[None]:
    """No proxy on the way to a loopback endpoint: the SDK reads HTTP(S)_PROXY and ignores
    NO_PROXY, so an emulator on 127.0.0.1 would otherwise be asked through the proxy."""
    if not options.loopback:
        yield
        return
    saved = {name: os.environ.pop(name) for name in _PROXY_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
