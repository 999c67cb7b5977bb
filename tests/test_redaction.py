"""Credential-shaped text in messages is redacted; ordinary text and fingerprints are not."""

from __future__ import annotations

from keys import random_id, random_secret, random_token

from akscan.redaction import redact_credentials


def test_an_access_key_id_is_cut_to_its_ends() -> None:
    key = random_id()
    text = redact_credentials(f"line 3: {key} is not an IP address")
    assert key not in text
    assert f"{key[:6]}…{key[-2:]} (redacted)" in text
    assert text.startswith("line 3: ") and text.endswith(" is not an IP address")


def test_a_secret_in_quotes_is_redacted() -> None:
    secret = random_secret()
    text = redact_credentials(f"field 'allowlist.fingerprints': '{secret}' is not a sha256")
    assert secret not in text
    assert "(redacted)" in text


def test_an_sts_token_is_redacted() -> None:
    token = random_token()
    assert token not in redact_credentials(f"bad value {token}.")


def test_fingerprints_paths_and_words_stay_readable() -> None:
    text = ("sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 in "
            "src/app/config_loader_v2.py: unknown setting 'max_file_size_in_bytes'")
    assert redact_credentials(text) == text


def test_a_long_line_without_credentials_is_returned_unchanged() -> None:
    text = "a" * 1_000_000 + " " + "B1" * 10
    assert redact_credentials(text) == text


def test_an_assignment_keeps_its_name_and_loses_its_value() -> None:
    key, secret = random_id(), random_secret()
    text = redact_credentials(f"'ALIBABA_CLOUD_ACCESS_KEY_ID={key}' and SECRET={secret}")
    assert key not in text and secret not in text
    assert text.startswith(f"'ALIBABA_CLOUD_ACCESS_KEY_ID={key[:6]}…{key[-2:]} (redacted)'")
    assert "SECRET=" in text
