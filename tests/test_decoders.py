"""Encoded credentials (issue 3): base64, hex, string escapes and percent-encoding are decoded
where a cheap test says they could hold a key; findings point at the encoded text and name the
decodings that led there; base64 noise, images and hashes stay quiet."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import urllib.parse
from pathlib import Path

import pytest
from gitrepo import Repo
from helpers import RunCli, ScanJson, by_secret, write
from hypothesis import given, settings
from hypothesis import strategies as st
from keys import random_id, random_secret

from akscan.cli import main
from akscan.detect import codec
from akscan.detect.engine import Engine
from akscan.model import Fragment
from akscan.rules import builtin_rules_dir, load_rules

ENGINE = Engine(load_rules([builtin_rules_dir()]))


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def b64(value: str | bytes) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first `needle` in `text`."""
    at = text.index(needle)
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def one(findings: list[dict], secret: str) -> dict:
    found = by_secret(findings, sha(secret))
    assert len(found) == 1, findings
    return found[0]


def scan_text(text: str) -> list:
    return ENGINE.scan(Fragment("input", text)).findings


# --- base64 ---------------------------------------------------------------------------------


def test_kubernetes_secret_data_is_decoded_and_reported_at_the_encoded_value(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key_id, secret = random_id(), random_secret()
    text = (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: oss-secret\ntype: Opaque\n"
            f"data:\n  akId: {b64(key_id)}\n  akSecret: {b64(secret)}\n")
    write(tmp_path / "secret.yaml", text)
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    found_id, found_secret = one(findings, key_id), one(findings, secret)
    assert (found_id["line"], found_id["column"]) == position(text, b64(key_id))
    assert (found_secret["line"], found_secret["column"]) == position(text, b64(secret))
    assert found_id["decoded"] == found_secret["decoded"] == ["base64"]
    assert found_secret["paired_with"][0]["secret_sha256"] == sha(key_id)


def test_values_beside_a_decoded_id_are_decoded_whatever_their_names(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key_id, secret = random_id(), random_secret()
    # `echo ... | base64` keeps the newline: the decoded value ends with one.
    text = f"data:\n  id: {b64(key_id + chr(10))}\n  key: {b64(secret + chr(10))}\n"
    write(tmp_path / "secret.yaml", text)
    _, findings, _ = scan_json(tmp_path)
    assert one(findings, key_id)["decoded"] == ["base64"]
    assert one(findings, secret)["kind"] == "access-key-secret"


def test_plain_values_report_an_empty_decoded_list(tmp_path: Path, scan_json: ScanJson) -> None:
    key_id = random_id()
    write(tmp_path / "secret.yaml", f"stringData:\n  akId: {key_id}\n")
    _, findings, _ = scan_json(tmp_path)
    assert one(findings, key_id)["decoded"] == []


def test_wrapped_base64_of_a_credentials_file_points_into_the_blob(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key_id, secret = random_id(), random_secret()
    config = (f"[default]\nenable = true\ntype = access_key\naccess_key_id = {key_id}\n"
              f"access_key_secret = {secret}\n")
    wrapped = base64.encodebytes(config.encode()).decode()  # 76 characters a line
    text = "data:\n  credentials: |\n" + "".join(f"    {line}\n" for line in wrapped.split())
    write(tmp_path / "secret.yaml", text)
    _, findings, _ = scan_json(tmp_path)
    found_id, found_secret = one(findings, key_id), one(findings, secret)
    assert found_id["decoded"] == found_secret["decoded"] == ["base64"]
    # Each finding is on the line of the blob that holds its first encoded character.
    lines = text.split("\n")
    for finding, value in ((found_id, key_id), (found_secret, secret)):
        at = config.index(value)
        encoded_line = lines[finding["line"] - 1].strip()
        assert 3 <= finding["line"] <= len(lines)
        assert encoded_line in wrapped.split()
        blob = "".join(wrapped.split())
        offset = blob.index(encoded_line) + finding["column"] - 5
        assert 4 * (at // 3) <= offset <= 4 * (at // 3) + 3


def test_url_safe_base64_is_decoded(tmp_path: Path, scan_json: ScanJson) -> None:
    key_id = random_id()
    value = base64.urlsafe_b64encode(json.dumps({"access_key_id": key_id}).encode()).decode()
    write(tmp_path / "state.txt", f"state={value}\n")
    _, findings, _ = scan_json(tmp_path)
    assert one(findings, key_id)["decoded"] == ["base64"]


def test_powershell_encoded_command_is_decoded_from_utf16(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key_id = random_id()
    command = f'$env:ALIBABA_CLOUD_ACCESS_KEY_ID="{key_id}"'
    write(tmp_path / "run.ps1", f"powershell -EncodedCommand {b64(command.encode('utf-16-le'))}\n")
    _, findings, _ = scan_json(tmp_path)
    assert one(findings, key_id)["decoded"] == ["base64"]


# --- hex, escapes, percent-encoding ---------------------------------------------------------


def test_hex_encoded_key_is_decoded(tmp_path: Path, scan_json: ScanJson) -> None:
    key_id = random_id()
    text = f"blob = {key_id.encode().hex().upper()}\n"
    write(tmp_path / "dump.txt", text)
    _, findings, _ = scan_json(tmp_path)
    found = one(findings, key_id)
    assert found["decoded"] == ["hex"] and found["column"] == len("blob = ") + 1


def test_unicode_and_hex_escapes_are_decoded(tmp_path: Path, scan_json: ScanJson) -> None:
    key_id, other = random_id(), random_id()
    escaped = "".join(f"\\u{ord(c):04x}" for c in key_id[:4]) + key_id[4:]
    c_escaped = "".join(f"\\x{ord(c):02x}" for c in other)
    text = f'{{"id": "{escaped}"}}\nconst char *k = "{c_escaped}";\n'
    write(tmp_path / "keys.txt", text)
    _, findings, _ = scan_json(tmp_path)
    found = one(findings, key_id)
    assert found["decoded"] == ["escape"]
    assert (found["line"], found["column"]) == position(text, escaped)
    assert one(findings, other)["line"] == 2


def test_escaped_json_in_a_notebook_is_found(tmp_path: Path, scan_json: ScanJson) -> None:
    key_id, secret = random_id(), random_secret()
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
            "source": ["import oss2\n",
                       f"config = '{{\"id\": \"{key_id}\", \"secret\": \"{secret}\"}}'\n",
                       f"print(\"ak=\\n{key_id}\")\n"]}
    text = json.dumps({"cells": [cell], "nbformat": 4, "nbformat_minor": 5}, indent=1)
    write(tmp_path / "analysis.ipynb", text)
    _, findings, _ = scan_json(tmp_path)
    ids = by_secret(findings, sha(key_id))
    assert {f["line"] for f in ids} == {position(text, key_id)[0], text.count("\n", 0,
                                        text.index("\\\\n" + key_id)) + 1}
    assert one(findings, secret)["kind"] == "access-key-secret"


def test_percent_encoded_form_body_is_decoded(tmp_path: Path, scan_json: ScanJson) -> None:
    key_id, secret = random_id(), random_secret()
    body = urllib.parse.urlencode({"payload": json.dumps(
        {"AccessKeyId": key_id, "AccessKeySecret": secret})})
    text = f"POST /api/config HTTP/1.1\n\n{body}\n"
    write(tmp_path / "request.http", text)
    _, findings, _ = scan_json(tmp_path)
    found_id, found_secret = one(findings, key_id), one(findings, secret)
    assert (found_id["line"], found_id["column"]) == position(text, key_id)
    assert found_secret["decoded"] == ["percent"]
    assert (found_secret["line"], found_secret["column"]) == position(text, secret)


# --- depth ----------------------------------------------------------------------------------


def test_two_decodings_deep_are_followed_and_named_in_order() -> None:
    key_id, other = random_id(), random_id()
    # JSON holding an env file: the ID follows an escaped line break, "\\nLTAI...".
    inner = json.dumps({"env": f"REGION=cn-hangzhou\nALIBABA_CLOUD_ACCESS_KEY_ID\n{key_id}"})
    # base64 with + and / in it, percent-encoded as a URL parameter
    payload = f"access_key_id={other}&pad=" + "?" * 12
    assert "/" in b64(payload)
    query = urllib.parse.quote(b64(payload), safe="")
    findings = scan_text(f"blob: {b64(inner)}\nurl=/x?q={query}\n")
    assert [f.decoded for f in findings if f.secret == key_id] == [("base64", "escape")]
    assert [f.decoded for f in findings if f.secret == other] == [("percent", "base64")]


def test_decoding_stops_at_depth_two() -> None:
    key_id = random_id()
    thrice = b64(b64(b64(f"access_key_id={key_id}")))
    assert [f for f in scan_text(f"blob: {thrice}\n") if f.secret == key_id] == []


# --- what must stay quiet -------------------------------------------------------------------


def test_base64_image_that_contains_ltai_is_not_a_finding(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    rng = random.Random(3)
    png = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(3000))
    encoded = b64(png)
    # Plant the base64 forms of keywords in it, as chance would in a large enough image.
    mid = len(encoded) // 2
    encoded = encoded[:mid] + "TFRBSTV0" + random_id() + "c2VjcmV0" + encoded[mid + 40:]
    write(tmp_path / "page.html", f'<img src="data:image/png;base64,{encoded}">\n')
    code, findings, _ = scan_json(tmp_path)
    assert (code, findings) == (0, [])


def test_hashes_and_random_base64_are_not_findings(tmp_path: Path, scan_json: ScanJson) -> None:
    rng = random.Random(7)
    noise = [b64(bytes(rng.randrange(256) for _ in range(n))) for n in (16, 30, 45, 120)]
    text = "".join(f"secret_hash_{n}: {value}\n" for n, value in enumerate(noise))
    text += "".join(f"{hashlib.sha256(str(n).encode()).hexdigest()}  secret{n}.bin\n"
                    for n in range(5))
    text += f"h1:{b64(hashlib.sha256(b'LTAI').digest())}\n"
    write(tmp_path / "SHA256SUMS", text)
    code, findings, _ = scan_json(tmp_path)
    assert (code, findings) == (0, [])


def test_encoded_placeholders_and_prose_are_not_findings(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    text = (f"akId: {b64('LTAIxxxxxxxxxxxxxxxxxxxx')}\n"
            f"akSecret: {b64('<your-access-key-secret>')}\n"
            f"note: {b64('the access key secret lives in the vault, not here')}\n")
    write(tmp_path / "secret.yaml", text)
    code, findings, _ = scan_json(tmp_path)
    assert (code, findings) == (0, [])


def test_an_encoded_key_is_suppressed_by_a_comment_on_its_line(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key_id = random_id()
    write(tmp_path / "secret.yaml", f"akId: {b64(key_id)}  # akscan:allow\n")
    code, findings, _ = scan_json(tmp_path)
    assert (code, findings) == (0, [])


def test_text_report_says_how_the_key_was_encoded(tmp_path: Path, run_cli: RunCli) -> None:
    write(tmp_path / "secret.yaml", f"akId: {b64(random_id())}\n")
    code, out, _ = run_cli(["scan", "--color", "never", str(tmp_path)])
    assert code == 1
    assert "decoded from base64" in out


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=" abc:=\"'\n", max_size=30), st.text(alphabet=" xyz,;\n", max_size=30),
       st.sampled_from(["akId: ", "id=", '"AccessKeyId": "', "- "]))
def test_a_base64_id_in_any_surroundings_is_found_at_its_encoding(
    before: str, after: str, name: str
) -> None:
    key_id = random_id()
    encoded = b64(key_id)
    text = f"{before}\n{name}{encoded}\n{after}"
    found = [f for f in scan_text(text) if f.secret == key_id]
    assert [(f.line, f.column, f.decoded) for f in found] == [
        (*position(text, encoded), ("base64",))]


def test_an_encoded_key_in_git_history_is_found_with_its_commit(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    key_id = random_id()
    text = f"kind: Secret\ndata:\n  akId: {b64(key_id)}\n"
    commit = repo.commit("add the secret", {"deploy/secret.yaml": text})
    repo.commit("drop it", {"deploy/secret.yaml": "kind: Secret\ndata: {}\n"})
    code = main(["history", str(repo.path), "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1
    assert [(f["path"], f["line"], f["commit"], f["decoded"])
            for f in by_secret(findings, sha(key_id))] == [
        ("deploy/secret.yaml", 3, commit, ["base64"])]


def _base64_at_each_character(text: str, start: int, end: int) -> codec.Decoded | None:
    """decode_base64 as it was written first: a loop over each character of a wrapped run."""
    raw = text[start:end].rstrip("=")
    if codec._B64_ONLY.fullmatch(raw):
        positions: list[int] | range = range(start, start + len(raw))
        chars = raw
    else:
        positions = [i for i in range(start, end) if text[i] not in " \t\r\n="]
        chars = "".join(text[i] for i in positions)
    if len(chars) % 4 == 1:
        chars, positions = chars[:-1], positions[:-1]
    urlsafe = "-" in chars or "_" in chars
    if urlsafe and ("+" in chars or "/" in chars):
        return None
    try:
        head = base64.b64decode(chars[:8], altchars=b"-_" if urlsafe else None, validate=True)
        if not codec._text_like(head):
            return None
        data = base64.b64decode(chars + "=" * (-len(chars) % 4),
                                altchars=b"-_" if urlsafe else None, validate=True)
    except ValueError:
        return None
    return codec._bytes_to_text(data, lambda i: positions[4 * (i // 3) + i % 3],
                                lambda i: positions[4 * (i // 3) + i % 3 + 1] + 1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["\n", "\r\n", "\n    ", " ", "=\n", "\t"]),
       st.integers(1, 80), st.booleans(), st.integers(0, 3))
def test_wrapped_base64_decodes_to_the_same_text_at_the_same_places(
    data: bytes, layout: str, width: int, urlsafe: bool, cut: int,
) -> None:
    # Text worth decoding (a config) and raw bytes, wrapped at any width with any layout and
    # cut short: the characters and the place of each must be those of a character-by-character
    # reading of the run.
    for content in (data, b"access_key_secret = " + data.hex().encode()):
        encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(content).decode()
        encoded = encoded[:len(encoded) - cut]
        wrapped = layout.join(encoded[at:at + width] for at in range(0, len(encoded), width))
        text = "key: |\n    " + wrapped + "\nnext: 1\n"
        start, end = 11, 11 + len(wrapped)
        assert codec.decode_base64(text, start, end) == _base64_at_each_character(
            text, start, end)
