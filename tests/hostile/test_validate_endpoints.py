"""`akscan scan --validate` as a real process against an endpoint that never answers (issue 12:
500 pairs took about 20 minutes, four at a time). Full size (500 pairs) in
`python benchmarks/bench_hostile.py --large -k validate`."""

from __future__ import annotations

import random
import socket
import string
import threading
from pathlib import Path

import pytest

from hostile.harness import Case, Invocation, case, cases_in

pytest.importorskip("alibabacloud_sts20150401", reason="needs akscan[validate]")

_ALNUM = string.ascii_letters + string.digits
_HOLES: list[socket.socket] = []  # kept open for the life of the test process


def _black_hole() -> int:
    """A loopback port that accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(sock.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    _HOLES.append(sock)
    return int(sock.getsockname()[1])


def _pair(rng: random.Random) -> tuple[str, str]:  # random, in the real shape; never a real key
    while True:
        secret = "".join(rng.choice(_ALNUM) for _ in range(30))
        if any(c.isdigit() for c in secret) and any(c.isupper() for c in secret):
            return "LTAI5t" + "".join(rng.choice(_ALNUM) for _ in range(18)), secret


@case("validate-black-holed-endpoint", exit=1, max_rss_mib=400)
def _black_holed(work: Path, large: bool) -> Invocation:
    rng = random.Random(8)
    root = work / "repo"
    root.mkdir()
    for n in range(500 if large else 24):
        key_id, secret = _pair(rng)
        (root / f"k{n}.env").write_text(f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\n"
                                        f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n")
    port = _black_hole()
    return Invocation(["scan", "--validate", "--validate-endpoint", f"http://127.0.0.1:{port}",
                       "--validate-timeout", "10" if large else "1", "--format", "json",
                       str(root)], 0)


@pytest.mark.parametrize("hostile", cases_in(__name__), ids=lambda c: c.name)
def test_hostile_validation(hostile: Case, tmp_path: Path) -> None:
    _, result = hostile.run(tmp_path, deadline=300)
    hostile.check(result)
    assert "validation stopped early" in result.stderr
