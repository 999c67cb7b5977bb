"""The one escaping convention: terminal text, paths and JSON that cannot drive a terminal."""

from __future__ import annotations

import json

import pytest

from akscan.terminal import escape, escape_path, json_safe, path_from_bytes, path_to_bytes


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[2J", "\\x1b[2J"),
    ("line\rfake", "line\\x0dfake"),
    ("a\nb", "a\\x0ab"),
    ("tab\there", "tab\\x09here"),
    ("\x7f", "\\x7f"),
    ("\x9b31m", "\\u009b31m"),  # C1 CSI: a one-character escape sequence on some terminals
    ("evil\u202etxt.env", "evil\\u202etxt.env"),  # right-to-left override
    ("\u2066isolate\u2069", "\\u2066isolate\\u2069"),
    ("caf\udce9", "caf\\xe9"),  # an undecodable byte carried by surrogateescape
])
def test_control_and_bidi_characters_are_shown_as_escapes(raw: str, shown: str) -> None:
    assert escape(raw) == shown


def test_ordinary_text_and_backslashes_are_left_alone_by_escape() -> None:
    text = "C:\\path ünïcode 日本語 — fine"
    assert escape(text) == text


def test_a_newline_and_a_file_really_named_with_backslash_x0a_differ() -> None:
    with_newline = path_from_bytes(b"a\nb")
    literal = path_from_bytes(b"a\\x0ab")
    assert with_newline == "a\\x0ab"
    assert literal == "a\\\\x0ab"
    assert with_newline != literal


@pytest.mark.parametrize("raw", [
    b"plain/name.env", b"a\nb", b"a\\x0ab", b"back\\slash", b"\xff\xfe not utf-8",
    "ünï/\u202e/\u0085".encode(), b"\x1b[2J\r", b"a\\\\b",
])
def test_path_display_convention_round_trips_to_the_bytes(raw: bytes) -> None:
    shown = path_from_bytes(raw)
    assert path_to_bytes(shown) == raw
    assert escape(shown) == shown  # already safe for a terminal


def test_escape_path_doubles_backslashes_only() -> None:
    assert escape_path("dir/a\\b\x1b") == "dir/a\\\\b\\x1b"


def test_json_safe_escapes_c1_and_bidi_and_keeps_the_document() -> None:
    value = {"path": "a\u202eb\x85c\x1bd", "ok": "日本"}
    text = json_safe(json.dumps(value, ensure_ascii=False))
    assert "\u202e" not in text and "\x85" not in text and "\x1b" not in text
    assert json.loads(text) == value
