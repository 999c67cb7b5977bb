"""Keys assembled from string literals (issue 3): `"LTAI5t" + "..."`, implicit concatenation,
backslash line continuations, in the common languages; reported at the first literal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers import ScanJson, by_secret, write
from keys import random_id, random_secret


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def position(text: str, needle: str) -> tuple[int, int]:
    at = text.index(needle)
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def split_sources(key_id: str, secret: str) -> dict[str, str]:
    """One file per language; the ID and the secret each cut in pieces as that language
    would join them."""
    i1, i2, i3 = key_id[:6], key_id[6:15], key_id[15:]
    s1, s2 = secret[:14], secret[14:]
    return {
        "settings.py": (f'ACCESS_KEY_ID = "{i1}" + "{i2}" + "{i3}"\n'
                        f'ACCESS_KEY_SECRET = ("{s1}"\n                     "{s2}")\n'),
        "client.js": (f"const accessKeyId = '{i1}' +\n  '{i2}{i3}';\n"
                      f"const accessKeySecret = `{s1}` + `{s2}`;\n"),
        "Config.java": (f'String accessKeyId = "{i1}"\n    + "{i2}{i3}";\n'
                        f'String accessKeySecret = "{s1}" +\n    "{s2}";\n'),
        "main.go": (f'const accessKeyID = "{i1}" + "{i2}" +\n\t"{i3}"\n'
                    f'var accessKeySecret = "{s1}" + `{s2}`\n'),
        "Program.cs": (f'var accessKeyId = @"{i1}" + "{i2}{i3}";\n'
                       f'var accessKeySecret = "{s1}" + $"{s2}";\n'),
        "deploy.sh": (f'export ALIBABA_CLOUD_ACCESS_KEY_ID="{i1}"\'{i2}\'"{i3}"\n'
                      f"export ALIBABA_CLOUD_ACCESS_KEY_SECRET={s1}\\\n{s2}\n"),
        "app.c": (f'static const char *access_key_id = "{i1}" "{i2}"\n    "{i3}";\n'
                  f'static const char *access_key_secret = "{s1}\\\n{s2}";\n'),
        "application.properties": (f"alibaba.cloud.access-key={i1}{i2}\\\n    {i3}\n"
                                   f"alibaba.cloud.secret-key={s1}\\\n    {s2}\n"),
    }


@pytest.mark.parametrize("name", sorted(split_sources("LTAI5tx", "y")))
def test_split_key_is_found_at_its_first_piece(
    name: str, tmp_path: Path, scan_json: ScanJson
) -> None:
    key_id, secret = random_id(), random_secret()
    text = split_sources(key_id, secret)[name]
    write(tmp_path / name, text)
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    for value, first_piece in ((key_id, key_id[:6]), (secret, secret[:14])):
        found = by_secret(findings, sha(value))
        assert len(found) == 1, (value, findings)
        assert (found[0]["line"], found[0]["column"]) == position(text, first_piece)
        assert found[0]["decoded"] == ["concat"]
    # A piece of a split key is not reported on its own.
    assert len(findings) == 2, findings


def test_key_written_whole_is_not_also_reported_as_joined(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key_id, other = random_id(), random_id()
    # Two arguments side by side are not one string: each ID is reported, once, as written.
    text = f'aliyun configure --id "{key_id}" "{other}"\nprint("{key_id}" + "\\n")\n'
    write(tmp_path / "setup.sh", text)
    _, findings, _ = scan_json(tmp_path)
    assert sorted((f["line"], f["decoded"] == []) for f in findings) == [
        (1, True), (1, True), (2, True)]


def test_split_prose_and_urls_are_not_joined_into_keys(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    text = ('msg = "LTAI keys are " + "rotated yearly"\n'
            'url = "https://ram.aliyuncs.com/" + "?secret=" + token\n'
            'secret_name = "access-key-" + "secret"\n')
    write(tmp_path / "notes.py", text)
    code, findings, _ = scan_json(tmp_path)
    assert (code, findings) == (0, [])


@pytest.mark.parametrize("layout", [
    'accessKeySecret = "{a}" +\n\t"{b}"\n',
    'ACCESS_KEY_SECRET = (\n    "{a}"\n    "{b}"\n)\n',
    'export ALIBABA_CLOUD_ACCESS_KEY_SECRET="{a}\\\n{b}"\n',
])
def test_a_first_piece_that_looks_like_base64_is_still_joined(
    layout: str, tmp_path: Path, scan_json: ScanJson
) -> None:
    secret = random_secret()
    text = layout.format(a=secret[:21], b=secret[21:])  # 21 letters and digits: a base64 run
    write(tmp_path / "creds.txt", text)
    _, findings, _ = scan_json(tmp_path)
    assert [(f["line"], f["decoded"]) for f in by_secret(findings, sha(secret))] == [
        (position(text, secret[:21])[0], ["concat"])]


def test_comment_lines_after_a_literal_are_read_in_one_way(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    # A line of many '#' after a secret-named field's literal could be split into comments in
    # 2**n ways, every one of them tried before the join failed: this file hung the scan.
    secret, other = random_secret(), random_secret()
    text = (f'secret_key = "{secret}"\n' + "# a: u" * 60 + "\n"
            f'ACCESS_KEY_SECRET = "{other[:14]}"  # the rest:\n    "{other[14:]}"\n')
    write(tmp_path / "settings.py", text)
    _, findings, _ = scan_json(tmp_path)
    assert [f["line"] for f in by_secret(findings, sha(secret))] == [1]
    assert [(f["line"], f["decoded"]) for f in by_secret(findings, sha(other))] == [
        (3, ["concat"])]


def test_a_literal_inside_a_comment_does_not_continue_the_one_before_it(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    # A comment runs to its line's end: what is quoted in it is not code.
    secret = random_secret()
    write(tmp_path / "settings.py", f'ACCESS_KEY_SECRET = "{secret[:14]}"  # "{secret[14:]}"\n')
    _, findings, _ = scan_json(tmp_path)
    assert by_secret(findings, sha(secret)) == []
