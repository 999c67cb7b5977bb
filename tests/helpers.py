"""Small helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import tarfile
import time
import zipfile
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


def run_on_a_terminal(args: list[str], cwd: Path, stream: str = "stdout", **env: str) -> str:
    """Run `python -m akscan ARGS` with `stream` ("stdout" or "stderr") on a pseudo-terminal;
    what it wrote there (the other stream goes nowhere)."""
    master, slave = os.openpty()
    out, err = (slave, subprocess.DEVNULL) if stream == "stdout" else (subprocess.DEVNULL, slave)
    proc = subprocess.Popen([sys.executable, "-m", "akscan", *args], stdout=out, stderr=err,
                            cwd=cwd, env=subprocess_env(**env))
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
    finally:
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def tar_of(files: dict[str, bytes], format: int = tarfile.DEFAULT_FORMAT,
           mode: str = "w") -> bytes:
    """A tar archive holding `files` (name -> content), in that order, in tarfile's `format`;
    `mode` "w:gz" (as tarfile.open takes it) compresses it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode,  # type: ignore[call-overload]
                      format=format) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_of(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive holding `files` (name -> content), in that order, each stored with
    `method`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
