"""Archives (issue 3): zip, jar, war, whl, tar, tar.gz and gzip are scanned member by member,
nested to three levels, in directories and in git history; bombs, deep nesting, tricky names
and corrupt archives are reported, never crash the scan."""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import io
import json
import lzma
import random
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, credentials
from helpers import ScanJson, by_secret, tar_of, zip_of
from keys import random_id, random_secret

from akscan.cli import main
from akscan.detect.engine import Engine
from akscan.pipeline.files import scan_bytes
from akscan.rules import builtin_rules_dir, load_rules
from akscan.sources import archives

ENGINE = Engine(load_rules([builtin_rules_dir()]))


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def properties(key_id: str, secret: str) -> bytes:
    return (f"spring.application.name=orders\nalibaba.cloud.access-key={key_id}\n"
            f"alibaba.cloud.secret-key={secret}\n").encode()


def paths_of(findings: list[dict[str, Any]], value: str) -> list[tuple[str, int]]:
    return [(f["path"], f["line"]) for f in by_secret(findings, sha(value))]


# --- formats --------------------------------------------------------------------------------


PACKERS: dict[str, Callable[[dict[str, bytes]], bytes]] = {
    "app.zip": zip_of,
    "orders.jar": zip_of,
    "orders-1.0-py3-none-any.whl": zip_of,
    "stored.zip": lambda files: zip_of(files, zipfile.ZIP_STORED),
    "bundle.tar": tar_of,
    "bundle.tar.gz": lambda files: tar_of(files, mode="w:gz"),
    "bundle.tgz": lambda files: tar_of(files, mode="w:gz"),
    "bundle.tar.bz2": lambda files: tar_of(files, mode="w:bz2"),
    "bundle.tar.xz": lambda files: tar_of(files, mode="w:xz"),
    "release.dat": zip_of,  # recognised by its first bytes, not its name
}


@pytest.mark.parametrize("name", sorted(PACKERS))
def test_keys_in_an_archive_are_found_at_archive_and_member_path(
    name: str, tmp_path: Path, scan_json: ScanJson
) -> None:
    key_id, secret = random_id(), random_secret()
    member = "config/application.properties"
    (tmp_path / name).write_bytes(PACKERS[name]({member: properties(key_id, secret),
                                                 "README.md": b"orders service\n"}))
    code, findings, err = scan_json(tmp_path)
    assert code == 1, err
    assert paths_of(findings, key_id) == [(f"{name}!{member}", 2)]
    assert paths_of(findings, secret) == [(f"{name}!{member}", 3)]
    assert by_secret(findings, sha(secret))[0]["paired_with"][0]["path"] == f"{name}!{member}"


def test_a_gzipped_file_is_named_without_its_suffix(tmp_path: Path, scan_json: ScanJson) -> None:
    text, key_id, _ = credentials()
    (tmp_path / "prod.env.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "old.env.bz2").write_bytes(bz2.compress(text.encode()))
    (tmp_path / "dump.xz").write_bytes(lzma.compress(text.encode()))
    _, findings, _ = scan_json(tmp_path)
    assert sorted(paths_of(findings, key_id)) == [
        ("dump.xz!dump", 1), ("old.env.bz2!old.env", 1), ("prod.env.gz!prod.env", 1)]


def test_nested_archives_are_followed_three_deep(tmp_path: Path, scan_json: ScanJson) -> None:
    key_id, secret = random_id(), random_secret()
    jar = zip_of({"BOOT-INF/classes/application.properties": properties(key_id, secret),
                    "BOOT-INF/classes/App.class": b"\xca\xfe\xba\xbe\x00\x00\x00\x34"})
    war = zip_of({"WEB-INF/lib/orders.jar": jar})
    (tmp_path / "release.tar.gz").write_bytes(tar_of({"dist/orders.war": war}, mode="w:gz"))
    code, findings, err = scan_json(tmp_path)
    assert code == 1 and "warning" not in err
    assert paths_of(findings, key_id) == [
        ("release.tar.gz!dist/orders.war!WEB-INF/lib/orders.jar!"
         "BOOT-INF/classes/application.properties", 2)]


def test_encoded_keys_inside_archives_are_decoded(tmp_path: Path, scan_json: ScanJson) -> None:
    key_id = random_id()
    secret_yaml = f"kind: Secret\ndata:\n  akId: {base64.b64encode(key_id.encode()).decode()}\n"
    (tmp_path / "chart.tgz").write_bytes(
        tar_of({"chart/templates/secret.yaml": secret_yaml.encode()}, mode="w:gz"))
    _, findings, _ = scan_json(tmp_path)
    found = by_secret(findings, sha(key_id))
    assert [(f["path"], f["line"], f["decoded"]) for f in found] == [
        ("chart.tgz!chart/templates/secret.yaml", 3, ["base64"])]


def test_utf16_member_is_read(tmp_path: Path, scan_json: ScanJson) -> None:
    text, key_id, _ = credentials()
    data = b"\xff\xfe" + text.encode("utf-16-le")
    (tmp_path / "win.zip").write_bytes(zip_of({"settings.ini": data}))
    _, findings, _ = scan_json(tmp_path)
    assert paths_of(findings, key_id) == [("win.zip!settings.ini", 1)]


# --- limits and hostile archives ------------------------------------------------------------


def test_archives_nested_deeper_than_three_are_reported_not_entered(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    data = properties(random_id(), random_secret())
    for level in range(4):
        data = zip_of({f"level{level}.zip" if level else "app.properties": data})
    (tmp_path / "deep.zip").write_bytes(data)
    code, findings, err = scan_json(tmp_path)
    assert (code, findings) == (2, [])
    assert "deep.zip!level3.zip!level2.zip!level1.zip: archive nested more than 3 deep" in err


def test_a_zip_bomb_member_is_reported_and_the_rest_scanned(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    text, key_id, _ = credentials()
    bomb = zip_of({"zeros.bin": b"\0" * (12 * 1024 * 1024), "keys.env": text.encode()})
    (tmp_path / "bomb.zip").write_bytes(bomb)
    code, findings, err = scan_json(tmp_path)
    assert code == 1
    assert paths_of(findings, key_id) == [("bomb.zip!keys.env", 1)]
    assert "bomb.zip!zeros.bin: inflates" in err and "zip bomb" in err


def test_a_gzip_bomb_stops_with_a_warning(tmp_path: Path, scan_json: ScanJson) -> None:
    (tmp_path / "huge.tar.gz").write_bytes(
        tar_of({"zeros.bin": b"\0" * (20 * 1024 * 1024)}, mode="w:gz"))
    code, findings, err = scan_json(tmp_path)
    assert (code, findings) == (2, [])
    assert "huge.tar.gz: inflates more than 100 times" in err
    assert "Traceback" not in err


def test_member_count_and_total_size_limits_stop_the_archive() -> None:
    many = zip_of({f"f{n}.txt": b"hello\n" for n in range(20)})
    result = scan_bytes(many, "many.zip", ENGINE, limits=archives.Limits(max_members=5))
    assert result.errors == ["many.zip: more members than the limit; the rest of the archive "
                             "was not scanned"]
    big = zip_of({f"f{n}.txt": b"x" * 1000 for n in range(5)})
    result = scan_bytes(big, "big.zip", ENGINE, limits=archives.Limits(max_total=2500))
    assert result.errors == ["big.zip: more than 2500 bytes uncompressed in all; the rest of "
                             "the archive was not scanned"]


def test_a_member_over_the_size_limit_is_reported(tmp_path: Path, scan_json: ScanJson) -> None:
    (tmp_path / "a.zip").write_bytes(zip_of({"big.log": b"log line\n" * 500}))
    code, _, err = scan_json("--max-file-size", "1k", tmp_path)
    assert code == 2
    assert "a.zip!big.log: 4500 bytes uncompressed is over the size limit of 1024 bytes" in err


def test_corrupt_archives_are_one_line_warnings(tmp_path: Path, scan_json: ScanJson) -> None:
    text, key_id, _ = credentials()
    (tmp_path / "broken.zip").write_bytes(zip_of({"a.env": text.encode()})[:40])
    noise = random.Random(5).randbytes(300_000)  # does not compress: the cut falls in it
    whole = tar_of({"first.env": text.encode(), "second.bin": noise}, mode="w:gz")
    (tmp_path / "cut.tar.gz").write_bytes(whole[:len(whole) // 2])
    code, findings, err = scan_json(tmp_path)
    assert code == 1  # the key before the cut is still found
    assert paths_of(findings, key_id) == [("cut.tar.gz!first.env", 1)]
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 2, err
    assert any(w.startswith("akscan: warning: broken.zip: corrupt or unreadable archive")
               and w.endswith("not scanned") for w in warnings)
    assert any(w.startswith("akscan: warning: cut.tar.gz: corrupt or unreadable archive")
               for w in warnings)


def test_absolute_and_climbing_member_names_stay_inside_the_archive(
    tmp_path: Path, scan_json: ScanJson, run_cli: Any
) -> None:
    text, key_id, _ = credentials()
    (tmp_path / "evil.zip").write_bytes(zip_of({"../../etc/cron.d/x.env": text.encode(),
                                                  "/root/.aliyun/y.env": text.encode(),
                                                  "C:\\Users\\a\\z.env": text.encode()}))
    _, findings, _ = scan_json(tmp_path)
    assert sorted(p for p, _ in paths_of(findings, key_id)) == [
        "evil.zip!Users/a/z.env", "evil.zip!etc/cron.d/x.env", "evil.zip!root/.aliyun/y.env"]
    _, _, err = run_cli(["scan", "-v", "--format", "json", str(tmp_path)])
    assert "member '../../etc/cron.d/x.env' is shown as 'etc/cron.d/x.env'" in err
    assert not (tmp_path.parent / "etc").exists()  # nothing is ever extracted


def test_an_encrypted_member_is_reported_not_scanned(tmp_path: Path, scan_json: ScanJson) -> None:
    data = bytearray(zip_of({"secret.env": b"opaque"}))
    # Mark it encrypted, as a password-protected zip is: bit 0 of the flags, in the local and
    # the central header (zipfile writes no encrypted archives).
    for header, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(header) + flags_at] |= 0x1
    (tmp_path / "locked.zip").write_bytes(bytes(data))
    code, _, err = scan_json(tmp_path)
    assert code == 2 and "locked.zip!secret.env: encrypted; not scanned" in err


def test_text_that_starts_like_an_archive_is_read_as_text(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    text, key_id, _ = credentials()
    (tmp_path / "notes.txt").write_text("BZh9 is a bzip2 block size\n" + text)
    code, findings, err = scan_json(tmp_path)
    assert code == 1 and "warning" not in err
    assert paths_of(findings, key_id) == [("notes.txt", 2)]
    assert archives.kind(bz2.compress(b"")) == archives.kind(bz2.compress(b"x")) == "bzip2"


def test_binary_files_that_are_not_archives_are_scanned_as_binary_not_opened(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    text = credentials()[0]
    blob = b"\x00\x01PK\x03\x04" + text.encode() + bytes(range(256))
    (tmp_path / "blob.bin").write_bytes(blob)
    code, findings, err = scan_json(tmp_path)
    assert code == 1 and "1 binary (printable runs scanned)" in err
    assert findings and all(f["path"] == "blob.bin" for f in findings)
    assert "corrupt" not in err


# --- git history, staged files, SARIF -------------------------------------------------------


def test_archive_blobs_in_history_report_commit_and_member(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    key_id, secret = random_id(), random_secret()
    repo.write("dist/orders.jar", zip_of({"application.properties":
                                            properties(key_id, secret)}))
    repo.git("add", "dist/orders.jar")
    commit = repo.commit("ship the jar")
    repo.git("rm", "-q", "dist/orders.jar")
    repo.commit("remove the jar")
    code = main(["history", str(repo.path), "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1
    found = by_secret(findings, sha(key_id))
    assert [(f["path"], f["line"], f["commit"]) for f in found] == [
        ("dist/orders.jar!application.properties", 2, commit)]
    assert found[0]["paired_with"][0]["path"] == "dist/orders.jar!application.properties"


def test_a_staged_archive_is_scanned(
    repo: Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit("base", {"README.md": "hello\n"})
    text, key_id, _ = credentials()
    repo.write("vendor.tgz", tar_of({"pkg/.env": text.encode()}, mode="w:gz"))
    repo.git("add", "vendor.tgz")
    monkeypatch.chdir(repo.path)
    code = main(["staged", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1
    assert paths_of(findings, key_id) == [("vendor.tgz!pkg/.env", 1)]


def test_sarif_points_at_the_archive_and_names_the_member(
    tmp_path: Path, validate: Callable[[Any], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.zip").write_bytes(zip_of({"conf/.env": credentials()[0].encode()}))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.sarif"
    assert main(["scan", ".", "--format", "sarif", "--output", str(out)]) == 1
    log = json.loads(out.read_text(encoding="utf-8"))
    validate(log)
    result = log["runs"][0]["results"][0]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "app.zip"
    # GitHub shows no alert without region.startLine (GH1003): line 1 of the archive, and the
    # member's own line in the message and properties.
    assert location["region"] == {"startLine": 1}
    assert "in archive member conf/.env, line 1" in result["message"]["text"]
    assert result["properties"]["archiveMember"] == "conf/.env"
    assert result["properties"]["archiveMemberLine"] == 1


def test_a_zip_appended_to_a_file_is_found_with_the_longest_comment_a_zip_can_have() -> None:
    # The end record then starts exactly where the searched tail does: its first byte.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.ini", b"x = 1\n")
        archive.comment = b"c" * 0xFFFF
    data = b"#!/bin/sh\nexit 0\n" * 100 + buffer.getvalue()
    assert data.rfind(b"PK\x05\x06") == len(data) - 22 - 0xFFFF
    assert archives.zip_start(data) == 1700
    assert archives.kind(data) == archives.ZIP
    assert archives.zip_start(data[:-1]) is None  # the comment's length no longer adds up


def test_the_zip_end_record_is_looked_for_in_the_tail_only() -> None:
    # Signatures just inside and just outside the tail, and none at all (text): the quick
    # look for the signature's third byte must decide as the search for the whole one does.
    rng = random.Random(14)
    span = 22 + 0xFFFF
    for _ in range(300):
        size = rng.choice([10, 30, span - 3, span, span + 5, 3 * span])
        data = bytearray(rng.choice([b"a", b"\x05", b"P"]) * size)
        for _ in range(rng.randint(0, 3)):
            at = rng.randint(max(0, size - span - 4), max(0, size - 4))
            data[at:at + 4] = b"PK\x05\x06"
            if rng.random() < 0.5 and size - at >= 22:
                data[at + 20:at + 22] = (size - at - 22).to_bytes(2, "little")
        data[0:4] = rng.choice([b"PK\x03\x04", b"text"])
        content = bytes(data)
        end = content.rfind(b"PK\x05\x06", max(0, len(content) - span))
        expected = None
        if end >= 0 and len(content) - end >= 22 and int.from_bytes(
                content[end + 20:end + 22], "little") == len(content) - end - 22:
            start = content.find(b"PK\x03\x04")
            expected = start if 0 <= start < end else None
        assert archives.zip_start(content) == expected


def v7_tar(files: dict[str, bytes]) -> bytes:
    """A tar as v7 wrote it: no `ustar` magic, its checksum made again."""
    data = bytearray(tar_of(files, mode="w"))
    header = data[:512]
    header[257:265] = bytes(8)
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    data[:512] = header
    return bytes(data)


def test_v7_tars_are_told_by_their_header_and_text_is_not() -> None:
    assert archives.kind(v7_tar({"etc/app.conf": b"x = 1\n"})) == archives.TAR
    # Text whose checksum field starts with an octal digit is looked at, and is still text.
    text = bytearray(b"spring.application.name=orders\n" * 20)
    for digit in b"0123456789 ":
        text[148] = digit
        assert archives.kind(bytes(text)) is None
    assert archives.kind(v7_tar({"a": b"1"})[:511]) is None  # shorter than a header


def test_every_magic_is_recognised_whatever_follows_it() -> None:
    rng = random.Random(3)
    magics = {b"PK\x03\x04": archives.ZIP, b"PK\x05\x06": archives.ZIP,
              b"\x1f\x8b": archives.GZIP, b"BZh91AY&SY": archives.BZIP2,
              b"\xfd7zXZ\x00": archives.XZ}
    for magic, expected in magics.items():
        for size in (0, 5, 600):
            assert archives.kind(magic + rng.randbytes(size)) == expected
    for first in (b"P", b"\x1f", b"B", b"\xfd", b"p", b"{"):
        assert archives.kind(first + b"Zh9 not an archive\n" * 40) is None


def _kind_one_magic_at_a_time(data: bytes) -> str | None:
    """archives.kind as it was first written: each magic tested in turn."""
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return archives.ZIP
    if data.startswith(b"\x1f\x8b"):
        return archives.GZIP
    if data.startswith(b"BZh") and data[3:4].isdigit() and data[4:10] in (
            b"1AY&SY", b"\x17rE8P\x90"):
        return archives.BZIP2
    if data.startswith(b"\xfd7zXZ\x00"):
        return archives.XZ
    if data.startswith(b"ustar", archives.TAR_MAGIC_AT) or archives.looks_like_v7_tar(
            data[:512]):
        return archives.TAR
    return archives.ZIP if archives.zip_start(data) is not None else None


def test_archive_kind_is_told_as_when_each_magic_was_tested_in_turn() -> None:
    # Real archives of every kind, texts that start like one (BZh9 prose), a tar magic in a
    # text, a v7 tar header, a zip appended to a text: one test of all the magics first must
    # not change a verdict.
    rng = random.Random(1414)
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("config.ini")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"x = 1\n"))
    # Made an old (v7) header: no magic (and no version), its checksum made right again.
    v7 = bytearray(tar_buffer.getvalue())
    v7[257:265] = bytes(8)
    v7[148:156] = b" " * 8
    v7[148:156] = b"%06o\0 " % sum(v7[:512])
    zipped = zip_of({"a.txt": b"secret = 1\n"})
    contents = [zipped, gzip.compress(b"x"), bz2.compress(b"x"), lzma.compress(b"x"),
                bytes(v7), tar_buffer.getvalue(), b"BZh9 is not an archive\n" * 30, b"BZh91AY&SYxx",
                b"PK\x03\x03 not a zip", b"x" * 257 + b"ustar  " + b"y" * 300,
                b"#!/bin/sh\n" * 20 + zipped, b"", b"P", b"\x1f", b"\xfd7zXZ"]
    for _ in range(500):
        head = rng.choice([b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"BZh9",
                           b"\xfd7zXZ\x00", b"text", b"", b"PK"])
        tail = bytes(rng.choice(b"ab0\0 ") for _ in range(rng.choice([0, 5, 300, 600])))
        contents.append(head + tail)
        contents.append(head + rng.choice([b"1AY&SY", b"\x17rE8P\x90", b"xxxxxx"]) + tail)
    for content in contents:
        assert archives.kind(content) == _kind_one_magic_at_a_time(content), content[:20]
    assert {archives.kind(c) for c in contents[:5]} == {"zip", "gzip", "bzip2", "xz", "tar"}
