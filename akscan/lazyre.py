"""Regular expressions (`re`) compiled the first time they are used.

A module's patterns are compiled when it is imported, so every run pays for all of them,
whether it uses them or not: the decoders' thirty-odd patterns cost a commit hook milliseconds
for contents with nothing to decode (issue 14). `compile` returns an object that compiles its
pattern on first use and then keeps the compiled pattern's methods as its own, so that later
uses cost what a compiled pattern's do. `.pattern`, the source, is there from the start.
"""

from __future__ import annotations

import re
from typing import Any, cast

_made: list[_Lazy] = []  # every pattern made, for `compile_all`


class _Lazy:
    def __init__(self, pattern: str, flags: int) -> None:
        self.pattern = pattern
        self._flags = flags
        _made.append(self)

    def __getattr__(self, name: str) -> Any:  # only for attributes not set yet
        if name.startswith("__"):
            raise AttributeError(name)  # copy and pickle probing: not a reason to compile
        compiled = re.compile(self.pattern, self._flags)
        for attribute in dir(compiled):
            if not attribute.startswith("_"):
                self.__dict__[attribute] = getattr(compiled, attribute)
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazyre.compile({self.pattern!r})"


def compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`re.compile(pattern, flags)`, done when the pattern is first used."""
    return cast("re.Pattern[str]", _Lazy(pattern, flags))


def compile_all() -> None:
    """Compile now every pattern made so far: in a process about to fork workers, which then
    share them rather than each compile its own."""
    for lazy in _made:
        lazy.match  # noqa: B018 (the attribute compiles it)
