"""Detection classes that held-out sets found missed (issue 11), and an STS token that had two
fingerprints depending on how it was written. Keys are made at run time."""

from __future__ import annotations

import base64
import os
import urllib.parse

import pytest
from keys import random_id, random_secret, random_sts_id, random_token

from akscan.detect.engine import Engine
from akscan.model import Finding, Fragment, sha256_hex
from akscan.rules import builtin_rules_dir, load_rules

ENGINE = Engine(load_rules([builtin_rules_dir()]))


def _scan(path: str, text: str) -> list[Finding]:
    return ENGINE.scan(Fragment(path, text)).findings


def _secrets(path: str, text: str) -> dict[str, str]:
    return {f.secret: f.kind for f in _scan(path, text)}


def _sts_token() -> str:
    """An STS SecurityToken's shape: CAIS and base64 of random bytes (with + and /)."""
    while True:
        token = "CAIS" + base64.b64encode(os.urandom(300)).decode()
        if "+" in token and "/" in token:
            return token


# --- STS credentials passed positionally --------------------------------------------------------

def test_sts_credentials_passed_positionally_to_a_php_oss_client_are_found() -> None:
    sts_id, secret = random_sts_id(), random_token(44)
    text = f"$c = new OssClient('{sts_id}', '{secret}', $endpoint, false, $token);\n"
    found = _scan("a.php", text)
    kinds = {f.secret: f.kind for f in found}
    assert kinds == {sts_id: "sts-access-key-id", secret: "sts-access-key-secret"}
    paired = next(f for f in found if f.secret == secret).paired_with
    assert [p.secret_sha256 for p in paired] == [sha256_hex(sts_id)]


def test_sts_credentials_passed_positionally_to_go_oss_new_are_found() -> None:
    sts_id, secret = random_sts_id(), random_token(44)
    text = (f'client, err := oss.New(endpoint,\n\t"{sts_id}",\n\t"{secret}",\n'
            "\toss.SecurityToken(token))\n")
    assert _secrets("a.go", text) == {sts_id: "sts-access-key-id",
                                      secret: "sts-access-key-secret"}


def test_a_long_literal_after_something_other_than_an_sts_id_is_not_an_sts_secret() -> None:
    text = (f"$c = new OssClient($id, '{random_token(44)}', $endpoint);\n"
            f"$ids = ['{random_sts_id()}', $other, '{random_token(44)}'];\n")
    assert {k for k in _secrets("a.php", text).values()} == {"sts-access-key-id"}


# --- Terraform variables --------------------------------------------------------------------------

def test_a_terraform_variable_with_a_secret_name_and_a_literal_default_is_found() -> None:
    secret = random_secret()
    text = (f'variable "alicloud_secret_key" {{\n  description = "deploy user"\n'
            f'  type = string\n  validation {{\n    condition = length(var.x) > 0\n  }}\n'
            f'  default = "{secret}"\n}}\n')
    assert _secrets("v.tf", text) == {secret: "access-key-secret"}


def test_a_terraform_default_of_another_variable_is_not_a_secret() -> None:
    text = (f'variable "alicloud_secret_key" {{\n  type = string\n}}\n\n'
            f'variable "bucket_suffix" {{\n  default = "{random_secret()}"\n}}\n')
    assert _secrets("v.tf", text) == {}


# --- terminal colour escapes glued to a key -------------------------------------------------------

@pytest.mark.parametrize("escape", ["\x1b[0;32m", "\\u001b[0;32m", "\\x1b[1;31m", "\\033[32m",
                                    "\x1b[m"])
def test_a_key_with_a_colour_escape_glued_in_front_is_found(escape: str) -> None:
    key_id, secret = random_id(), random_secret()
    text = f'"text": ["{escape}{key_id}\\u001b[0m\\n", "{escape}{secret}\\u001b[0m\\n"]\n'
    assert _secrets("out.ipynb", text) == {key_id: "access-key-id",
                                           secret: "access-key-secret"}


def test_a_colour_escape_does_not_make_a_word_that_ends_in_m_a_boundary() -> None:
    key_id = random_id()
    assert _secrets("a.txt", f"mode: form{key_id}\n") == {}


# --- secrets split over lines of literals, as object properties ----------------------------------

def _split(value: str, pieces: int, joiner: str = " +\n    ") -> str:
    size = -(-len(value) // pieces)
    return joiner.join(f"'{value[i:i + size]}'" for i in range(0, len(value), size))


@pytest.mark.parametrize("pieces", [2, 4, 12, 30])
def test_a_secret_split_over_many_lines_as_an_object_property_is_found(pieces: int) -> None:
    secret = random_secret()
    text = f"export default {{\n  accessKeySecret: {_split(secret, pieces)},\n}};\n"
    found = _scan("c.js", text)
    assert [(f.secret, f.line, f.decoded) for f in found] == [(secret, 2, ("concat",))]


def test_a_split_secret_whose_value_starts_on_the_next_line_is_found() -> None:
    secret = random_secret()
    text = f"const o = {{\n  accessKeySecret:\n    {_split(secret, 3)},\n}};\n"
    assert _secrets("c.js", text) == {secret: "access-key-secret"}


def test_a_split_secret_with_comments_between_its_pieces_is_found() -> None:
    key_id, secret = random_id(), random_secret()
    text = (f"const o = {{\n  accessKeyId: '{key_id}',\n"
            f"  secret: {_split(secret, 3, ' + // keep the linter quiet' + chr(10) + '    ')},\n"
            "};\n")
    assert _secrets("c.js", text) == {key_id: "access-key-id", secret: "access-key-secret"}


# --- one credential, one fingerprint, whatever its encoding ---------------------------------------

def test_a_percent_encoded_sts_token_has_the_fingerprint_of_the_decoded_token() -> None:
    token, sts_id = _sts_token(), random_sts_id()
    url = (f"GET /a.jpg?OSSAccessKeyId={sts_id}&Expires=1700000000&Signature=abc%3D"
           f"&security-token={urllib.parse.quote(token, safe='')} HTTP/1.1\n")
    assert "%2B" in url and "%2F" in url
    in_url = next(f for f in _scan("access.log", url) if f.kind == "sts-security-token")
    plain = next(f for f in _scan("sts.json", f'"SecurityToken": "{token}"\n')
                 if f.kind == "sts-security-token")
    assert in_url.secret == plain.secret == token
    assert in_url.secret_sha256 == plain.secret_sha256
    assert in_url.decoded == ("percent",) and plain.decoded == ()
    # the location is still the encoded text in the URL
    assert url[in_url.column - 1:in_url.end_column - 1] == urllib.parse.quote(token, safe="")
