"""Where the benchmarks find the peers they compare akscan with (the `[bench]` extra installs
them as Python wrapper packages around native binaries)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path


def program(name: str) -> str | None:
    """A program on PATH or next to this interpreter."""
    here = str(Path(sys.executable).parent)
    return shutil.which(name, path=os.pathsep.join([here, os.environ.get("PATH", "")]))


def peer_binary(package: str, name: str) -> str | None:
    """The native binary a wrapper package bundles in its `bin/` folder (what its console
    script would run, without the wrapper's start-up, and without the clash of two packages
    that both install a `gitleaks` script); else the program `name` on PATH; else None."""
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return program(name)
