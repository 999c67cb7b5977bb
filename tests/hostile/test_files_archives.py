"""Damaged and unusual archives (issue 15): what was intact is scanned, what is not an archive
is scanned as the file it is, and a bomb is one line per archive."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import random
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import tar_of, zip_of
from keys import random_id

from hostile.harness import check, run_akscan


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def env(key_id: str) -> bytes:
    return f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\n".encode()


def found(stdout: str) -> set[tuple[str, str]]:
    return {(f["path"], f["secret_sha256"]) for f in json.loads(stdout)["findings"]}


def scan(tmp_path: Path) -> tuple[int, set[tuple[str, str]], str]:
    result = run_akscan(["scan", "--format", "json", "-v", "."], cwd=tmp_path)
    check(result, exit=(0, 1, 2))
    return result.returncode, found(result.stdout), result.stderr


# Not bzip2: it compresses blocks of up to 900 KB whole, so a cut loses its whole block.
@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress], ids=["tgz", "txz"])
def test_a_small_truncated_compressed_tar_keeps_the_members_before_the_cut(
    tmp_path: Path, compress: object
) -> None:
    key_id = random_id()
    noise = random.Random(7).randbytes(20_000)  # does not compress: the cut falls in it
    tar = tar_of({"first.env": env(key_id), "second.bin": noise}, tarfile.USTAR_FORMAT)
    whole = compress(tar)  # type: ignore[operator]
    (tmp_path / "cut.tgz").write_bytes(whole[:len(whole) * 2 // 3])
    code, paths, err = scan(tmp_path)
    assert code == 1, err
    assert paths == {("cut.tgz!first.env", sha(key_id))}
    assert "cut.tgz: corrupt or unreadable archive" in err and "stopped after 1 member" in err


def test_a_truncated_single_gz_has_its_first_part_scanned(tmp_path: Path) -> None:
    key_id = random_id()
    noise = random.Random(8).randbytes(30_000).hex().encode()
    whole = gzip.compress(env(key_id) + noise)
    (tmp_path / "app.env.gz").write_bytes(whole[:len(whole) // 2])
    code, paths, err = scan(tmp_path)
    assert code == 1, err
    assert paths == {("app.env.gz!app.env", sha(key_id))}
    assert "app.env.gz: corrupt or unreadable archive (truncated" in err


def test_a_gz_with_trailing_garbage_is_read_as_gzip_reads_it_and_the_garbage_scanned(
    tmp_path: Path
) -> None:
    inside, after = random_id(), random_id()
    (tmp_path / "app.env.gz").write_bytes(gzip.compress(env(inside)) + b"\0\0junk " + env(after))
    code, paths, err = scan(tmp_path)
    assert code == 1, err
    assert paths == {("app.env.gz!app.env", sha(inside)),
                     ("app.env.gz!(data after the compressed stream)", sha(after))}
    assert "warning" not in err


def test_concatenated_gzip_streams_are_all_read(tmp_path: Path) -> None:
    first, second = random_id(), random_id()
    (tmp_path / "log.gz").write_bytes(gzip.compress(env(first)) + gzip.compress(env(second)))
    code, paths, err = scan(tmp_path)
    assert code == 1, err
    assert {p for _, p in paths} == {sha(first), sha(second)}


def test_a_zip_appended_to_another_file_is_opened_and_its_stub_scanned(tmp_path: Path) -> None:
    in_stub, in_zip = random_id(), random_id()
    stub = b"#!/bin/sh\n# self-extracting installer\n" + env(in_stub) + b"exit 0\n"
    (tmp_path / "install.run").write_bytes(stub + zip_of({"conf/app.env": env(in_zip)}))
    code, paths, err = scan(tmp_path)
    assert code == 1, err
    assert paths == {("install.run!(data before the zip)", sha(in_stub)),
                     ("install.run!conf/app.env", sha(in_zip))}


def test_an_old_v7_tar_is_recognised(tmp_path: Path) -> None:
    key_id = random_id()
    data = tar_of({"conf/app.env": env(key_id)}, tarfile.GNU_FORMAT)
    header = bytearray(data[:512])
    header[257:265] = b"\0" * 8  # no magic, no version: a v7 header
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    (tmp_path / "old.tar").write_bytes(bytes(header) + data[512:])
    code, paths, err = scan(tmp_path)
    assert code == 1, err
    assert paths == {("old.tar!conf/app.env", sha(key_id))}


def test_a_text_file_with_ustar_at_offset_257_is_scanned_as_text(tmp_path: Path) -> None:
    key_id = random_id()
    text = b"#" * 257 + b"ustar is the tar magic\n" + env(key_id)
    (tmp_path / "notes.txt").write_bytes(text)
    code, paths, err = scan(tmp_path)
    assert code == 1, err
    assert paths == {("notes.txt", sha(key_id))}
    assert "warning" not in err


def test_a_42_zip_style_bomb_is_one_warning_line_with_counts(tmp_path: Path) -> None:
    data = zip_of({"leaf.txt": b"nothing\n"})
    for _ in range(4):  # 16 x 16 x 16 x 16 leaves, 4,096 archives past the nesting limit
        data = zip_of({f"z{n:02}.zip": data for n in range(16)})
    (tmp_path / "42.zip").write_bytes(data)
    result = run_akscan(["scan", "."], cwd=tmp_path)
    check(result, exit=2)
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == ["akscan: warning: 42.zip: 4096 parts not scanned (4096 archive nested "
                        "more than N deep); -v names each"]


def test_a_zip_member_with_an_empty_name_is_scanned_as_unnamed(tmp_path: Path) -> None:
    key_id = random_id()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo(""), env(key_id))
    (tmp_path / "odd.zip").write_bytes(out.getvalue())
    code, findings, _ = scan(tmp_path)
    assert code == 1
    assert ("odd.zip!(unnamed)", sha(key_id)) in findings
