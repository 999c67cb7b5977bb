"""Text that is safe to show a person: the one place control characters are neutralised.

File names, commit messages, rule descriptions and server answers can hold ESC, CR or Unicode
bidi overrides that would erase a report line, fake a verdict or reorder what a reader sees
(issue 12). Every human-readable line akscan prints passes through `escape` (or
`escape_path` for paths, which also keeps them unambiguous); JSON reports go through
`json_safe`. The escapes are visible and reversible: `\\xNN` for one byte, `\\uNNNN` for one
code point.
"""

from __future__ import annotations

import functools
import re
import sys

# `re`, not `regex`: these are fixed character classes and escapes, the same in both, and every
# command prints through here, while `regex` costs a commit hook 10 ms to import (issue 14).
# Unicode's bidirectional formatting characters (UAX #9) and the line separators that some
# terminals honour: invisible, and able to make text read differently than it is stored.
_INVISIBLE = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
# C0 controls, DEL, C1 controls, the invisible ones above, and lone surrogates (the way Python
# carries undecodable bytes of a file name).
# Every one of them is unprintable (str.isprintable), so printable text is returned as it is,
# and these are compiled only for text that needs them: the surrogate range makes `re` build a
# large character map, a cost every command paid at start-up (issue 14).
@functools.lru_cache(maxsize=1)
def _unsafe() -> re.Pattern[str]:
    return re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_INVISIBLE}\\ud800-\\udfff]")


@functools.lru_cache(maxsize=1)
def _unsafe_or_backslash() -> re.Pattern[str]:
    return re.compile(f"[\\\\\\x00-\\x1f\\x7f-\\x9f{_INVISIBLE}\\ud800-\\udfff]")


def _code(char: str) -> str:
    point = ord(char)
    if point == 0x5C:
        return "\\\\"
    if point < 0x80:  # one byte in UTF-8: C0 controls and DEL
        return f"\\x{point:02x}"
    if 0xDC80 <= point <= 0xDCFF:  # an undecodable byte, carried by surrogateescape
        return f"\\x{point - 0xDC00:02x}"
    return f"\\u{point:04x}"


def escape(text: str) -> str:
    """`text` with every control, bidi-override and undecodable character shown as an escape,
    so printing it cannot move the cursor, clear a line or reorder the text around it."""
    if text.isprintable():  # no control, format, separator or surrogate: nothing to escape
        return text
    return _unsafe().sub(lambda m: _code(m.group()), text)


def escape_path(text: str) -> str:
    """A path (already decoded with surrogateescape) in akscan's one display convention:
    `escape`, and a literal backslash doubled, so `a<LF>b` (`a\\x0ab`) and a file really
    named `a\\x0ab` (`a\\\\x0ab`) never look alike."""
    if text.isprintable() and "\\" not in text:
        return text
    return _unsafe_or_backslash().sub(lambda m: _code(m.group()), text)


def path_from_bytes(raw: bytes) -> str:
    """A path as git or the OS gives it (bytes) in the display convention; UTF-8 is shown as
    text, any other byte as `\\xNN`."""
    return escape_path(raw.decode("utf-8", "surrogateescape"))


@functools.lru_cache(maxsize=1)
def _escaped() -> re.Pattern[str]:
    return re.compile(r"\\(?:\\|x([0-9a-f]{2})|u([0-9a-f]{4}))")


def path_to_bytes(shown: str) -> bytes:
    """The bytes of a path in the display convention (the inverse of `path_from_bytes`)."""
    out = bytearray()
    last = 0
    for match in _escaped().finditer(shown):
        out += shown[last:match.start()].encode("utf-8", "surrogateescape")
        if match.group(1):
            out.append(int(match.group(1), 16))
        elif match.group(2):
            out += chr(int(match.group(2), 16)).encode("utf-8", "surrogatepass")
        else:
            out += b"\\"
        last = match.end()
    out += shown[last:].encode("utf-8", "surrogateescape")
    return bytes(out)


# json.dumps escapes C0 controls itself; with ensure_ascii=False it leaves C1 controls, bidi
# overrides and separators raw. Inside a JSON document they can only occur in strings, where
# \uNNNN is their exact encoding, so replacing them keeps the document and its meaning.
@functools.lru_cache(maxsize=1)
def _json_unsafe() -> re.Pattern[str]:  # compiled when a JSON report is written
    return re.compile(f"[\\x7f-\\x9f{_INVISIBLE}]")


def json_safe(document: str) -> str:
    """A JSON text with C1 controls and bidi overrides written as `\\uNNNN` escapes."""
    return _json_unsafe().sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def say(message: str, level: str | None = None) -> None:
    """`akscan: [level: ]message` as one escaped line on standard error: how warnings, notes
    and summaries reach the user."""
    prefix = f"akscan: {level}: " if level else "akscan: "
    print(prefix + escape(message), file=sys.stderr)
