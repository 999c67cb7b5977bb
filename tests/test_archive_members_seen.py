"""Archive members seen before (issue 14): release tarballs of successive versions hold mostly
the same files. A member whose bytes were already scanned with nothing to say is not scanned
again; anything with a finding, a warning or a note is, and is reported at its own path."""

from __future__ import annotations

import gzip
import random
import tarfile
from collections.abc import Iterator

import pytest
from helpers import tar_of
from keys import random_id, random_secret

from akscan.detect.engine import Engine
from akscan.pipeline import content
from akscan.pipeline.content import ContentResult, scan_bytes
from akscan.rules import builtin_rules_dir, load_rules
from akscan.sources import archives

ENGINE = Engine(load_rules([builtin_rules_dir()]))
UTIL = b"def add(a, b):\n    return a + b\n" * 40


def tar_gz(files: dict[str, bytes]) -> bytes:
    return gzip.compress(tar_of(files, tarfile.GNU_FORMAT), mtime=0)


def key_file() -> bytes:
    return (f"alibaba.cloud.access-key={random_id()}\n"
            f"alibaba.cloud.secret-key={random_secret()}\n").encode()


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The member paths the engine was given, in order (a fresh memory of members seen)."""
    monkeypatch.setattr(content, "_UNREMARKABLE", content._Unremarkable())
    paths: list[str] = []
    real = content._scan_content

    def recording(data: bytes, display: str, *args: object) -> ContentResult:
        paths.append(display)
        return real(data, display, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(content, "_scan_content", recording)
    yield paths


def test_a_member_seen_before_with_nothing_to_say_is_not_scanned_again(
    scanned: list[str]
) -> None:
    keys = key_file()
    first = scan_bytes(tar_gz({"sdk-1.0/util.py": UTIL}), "sdk-1.0.tar.gz", ENGINE)
    second = scan_bytes(tar_gz({"sdk-1.1/util.py": UTIL, "sdk-1.1/settings.py": keys}),
                        "sdk-1.1.tar.gz", ENGINE)
    assert scanned == ["sdk-1.0.tar.gz!sdk-1.0/util.py", "sdk-1.1.tar.gz!sdk-1.1/settings.py"]
    assert first.scanned_bytes == len(UTIL)  # still counted as scanned
    assert second.scanned_bytes == len(UTIL) + len(keys)
    assert {f.path for f in second.findings} == {"sdk-1.1.tar.gz!sdk-1.1/settings.py"}


def test_members_with_a_finding_or_a_note_are_scanned_and_reported_every_time(
    scanned: list[str]
) -> None:
    keys, binary = key_file(), bytes(range(256)) * 8
    results = [scan_bytes(tar_gz({f"sdk-{v}/settings.py": keys, f"sdk-{v}/lib.so": binary}),
                          f"sdk-{v}.tar.gz", ENGINE) for v in ("1.0", "1.1")]
    assert len(scanned) == 4
    for version, result in zip(("1.0", "1.1"), results):
        where = f"sdk-{version}.tar.gz!sdk-{version}"
        assert {f.path for f in result.findings} == {f"{where}/settings.py"}
        assert result.notes == [f"{where}/lib.so: binary; its printable runs were scanned "
                                "with the high-precision rules"]


def test_limits_count_and_report_members_seen_before(scanned: list[str]) -> None:
    files = {f"sdk/{n}.py": UTIL + str(n).encode() for n in range(4)}
    limits = archives.Limits(max_members=3, max_total=2 * len(UTIL) + 10)
    fresh = scan_bytes(tar_gz(files), "sdk-1.1.tar.gz", ENGINE, limits=limits)
    again = scan_bytes(tar_gz(files), "sdk-1.1.tar.gz", ENGINE, limits=limits)
    assert again.errors == fresh.errors == [
        f"sdk-1.1.tar.gz: more than {2 * len(UTIL) + 10} bytes uncompressed in all; the rest "
        "of the archive was not scanned"]
    assert (again.scanned_bytes, again.notes) == (fresh.scanned_bytes, fresh.notes)
    assert len(scanned) == 2  # the second time, both members read were seen before


def test_the_memory_of_members_is_per_engine_and_bounded(
    scanned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Engine(load_rules([builtin_rules_dir()]))
    data = tar_gz({"a.py": UTIL})
    scan_bytes(data, "x.tar.gz", ENGINE)
    scan_bytes(data, "x.tar.gz", other)  # another engine (other rules, perhaps): scanned
    assert len(scanned) == 2
    monkeypatch.setattr(content._Unremarkable, "LIMIT", 2)
    for n in range(5):
        scan_bytes(tar_gz({"a.py": UTIL + bytes([65 + n])}), "x.tar.gz", ENGINE)
    assert len(content._UNREMARKABLE.digests) <= 2


@pytest.mark.parametrize("seed", [1, 2])
def test_releases_scan_to_what_each_alone_gives(seed: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Successive releases sharing members, some with keys, binaries or tricky names: each
    release gives what it gives scanned first."""
    rng = random.Random(seed)
    pool = [UTIL + bytes([n]) for n in range(20)] + [key_file() for _ in range(4)] + [
        bytes(range(256)) * 4, b"\xff\xfe" + "token = 1\n".encode("utf-16-le")]
    releases = []
    for version in range(12):
        names = rng.sample(range(len(pool)), rng.randint(1, 10))
        members = {f"{rng.choice(['', '/', '../'])}pkg-{version}/{n}.py": pool[n]
                   for n in names}
        releases.append((f"pkg-{version}.tar.gz", tar_gz(members)))

    def outcome(result: ContentResult) -> tuple[object, ...]:
        return ([(f.path, f.line, f.column, f.rule_id, f.secret) for f in result.findings],
                result.errors, result.notes, result.scanned_bytes)

    monkeypatch.setattr(content, "_UNREMARKABLE", content._Unremarkable())
    together = [outcome(scan_bytes(data, name, ENGINE)) for name, data in releases]
    alone = []
    for name, data in releases:
        monkeypatch.setattr(content, "_UNREMARKABLE", content._Unremarkable())
        alone.append(outcome(scan_bytes(data, name, ENGINE)))
    assert together == alone
    assert sum(len(found) for found, *_ in together) > 4  # type: ignore[arg-type]
