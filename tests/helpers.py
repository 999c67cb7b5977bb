"""Small helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

CliResult = tuple[int, str, str]
RunCli = Callable[[Sequence[str]], CliResult]
ScanJson = Callable[..., tuple[int, list[dict[str, Any]], str]]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for `python -m akscan` in a child: this checkout first on the path."""
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR", "TERM"}}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def write(path: Path, text: str) -> Path:
    """Write UTF-8 text (no newline translation), creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def by_secret(findings: list[dict[str, Any]], sha256: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["secret_sha256"] == sha256]
