"""Input that used to pass in silence (issue 11): standard input, FIFOs, binary files and
unusual encodings, and binary files over the size limit."""

from __future__ import annotations

import codecs
import hashlib
import json
import marshal
import os
import socket
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from keys import random_id, random_secret, random_sts_id

from hostile.harness import check, run_akscan


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def findings_of(stdout: str) -> list[dict[str, Any]]:
    return list(json.loads(stdout)["findings"])


def env_text(key_id: str, secret: str) -> str:
    return f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n"


# --- standard input and FIFOs ---------------------------------------------------------------

def test_dash_scans_standard_input_under_the_stdin_name(tmp_path: Path) -> None:
    key_id, secret = random_id(), random_secret()
    result = run_akscan(["scan", "--format", "json", "--stdin-name", "app/.env", "-"],
                        cwd=tmp_path, stdin=env_text(key_id, secret).encode())
    check(result, exit=1)
    found = {(f["path"], f["line"], f["secret_sha256"]) for f in findings_of(result.stdout)}
    assert found == {("app/.env", 1, sha(key_id)), ("app/.env", 2, sha(secret))}


def test_dev_stdin_fed_by_a_pipe_is_scanned(tmp_path: Path) -> None:
    key_id = random_id()
    result = run_akscan(["scan", "--format", "json", "/dev/stdin"], cwd=tmp_path,
                        stdin=env_text(key_id, random_secret()).encode())
    check(result, exit=1)
    assert sha(key_id) in {f["secret_sha256"] for f in findings_of(result.stdout)}


def test_standard_input_longer_than_the_size_limit_is_scanned_in_part_and_says_so(
    tmp_path: Path
) -> None:
    data = b"filler line\n" * 20_000 + env_text(random_id(), random_secret()).encode()
    result = run_akscan(["scan", "--max-file-size", "64k", "-"], cwd=tmp_path, stdin=data)
    check(result, exit=2)
    assert "stdin: longer than the size limit of 65536 bytes" in result.stderr


def test_a_socket_named_on_the_command_line_is_an_error_not_a_pass(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        result = run_akscan(["scan", str(path)], cwd=tmp_path)
    finally:
        server.close()
    check(result, exit=2)
    assert "cannot be scanned" in result.stderr


# --- binary content and encodings -----------------------------------------------------------

def png_with_text(keyword: bytes, text: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"tEXt", keyword + b"\0" + text)
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def test_key_in_a_compiled_python_file_is_found(tmp_path: Path) -> None:
    key_id, secret = random_id(), random_secret()
    source = f"ACCESS_KEY_ID = {key_id!r}\nACCESS_KEY_SECRET = {secret!r}\n"
    code = compile(source, "settings.py", "exec")
    (tmp_path / "settings.cpython-311.pyc").write_bytes(b"\xa7\r\r\n" + b"\0" * 12
                                                        + marshal.dumps(code))
    result = run_akscan(["scan", "--format", "json", "."], cwd=tmp_path)
    check(result, exit=1)
    assert sha(key_id) in {f["secret_sha256"] for f in findings_of(result.stdout)}
    assert "1 binary (printable runs scanned)" in result.stderr


def test_sts_credentials_in_a_png_text_chunk_are_found(tmp_path: Path) -> None:
    sts_id = random_sts_id()
    # Mid-sentence: a key that ends where the chunk does runs into its CRC bytes (see README).
    image = png_with_text(b"Comment", f"uploaded with {sts_id} by ci".encode())
    (tmp_path / "logo.png").write_bytes(image)
    result = run_akscan(["scan", "--format", "json", "."], cwd=tmp_path)
    check(result, exit=1)
    assert [f["secret_sha256"] for f in findings_of(result.stdout)] == [sha(sts_id)]


def test_a_text_file_with_one_stray_nul_is_text(tmp_path: Path) -> None:
    key_id, secret = random_id(), random_secret()
    (tmp_path / "app.env").write_bytes(b"# \0 header\n" + env_text(key_id, secret).encode())
    result = run_akscan(["scan", "--format", "json", "."], cwd=tmp_path)
    check(result, exit=1)
    found = {(f["line"], f["secret_sha256"]) for f in findings_of(result.stdout)}
    assert found == {(2, sha(key_id)), (3, sha(secret))}  # the secret rule needs text
    assert "binary" not in result.stderr


CJK = "\u7b2c\u4e00\u4e2a\u914d\u7f6e\u6587\u4ef6\uff0c\u5305\u542b\u4e2d\u6587\u5185\u5bb9\u3002"


@pytest.mark.parametrize("codec,bom", [
    ("utf-16-le", b""), ("utf-16-be", b""),
    ("utf-32-le", b""), ("utf-32-be", b""),
    ("utf-32-le", codecs.BOM_UTF32_LE), ("utf-32-be", codecs.BOM_UTF32_BE),
])
def test_mostly_cjk_text_in_utf16_or_utf32_is_decoded(
    tmp_path: Path, codec: str, bom: bytes
) -> None:
    key_id, secret = random_id(), random_secret()
    text = (CJK + "\n") * 40 + env_text(key_id, secret) + (CJK + "\n") * 40
    (tmp_path / "config.ini").write_bytes(bom + text.encode(codec))
    result = run_akscan(["scan", "--format", "json", "."], cwd=tmp_path)
    check(result, exit=1)
    found = {(f["line"], f["secret_sha256"]) for f in findings_of(result.stdout)}
    assert found == {(41, sha(key_id)), (42, sha(secret))}


def test_binary_file_over_the_size_limit_has_its_printable_runs_scanned(tmp_path: Path) -> None:
    key_id = random_id()
    blob = bytearray(os.urandom(3 * 1024 * 1024))
    blob[2_000_000:2_000_000] = f"\0id={key_id}\0".encode()
    (tmp_path / "big.bin").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(blob))
    result = run_akscan(["scan", "--format", "json", "--max-file-size", "1MB", "."],
                        cwd=tmp_path)
    check(result, exit=1)
    assert sha(key_id) in {f["secret_sha256"] for f in findings_of(result.stdout)}
    assert "size limit" not in result.stderr


def test_text_file_over_the_size_limit_is_still_reported_not_scanned(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"plain text line\n" * 100_000)
    result = run_akscan(["scan", "--max-file-size", "1MB", "."], cwd=tmp_path)
    check(result, exit=2)
    assert "big.txt: 1600000 bytes is over the size limit" in result.stderr
