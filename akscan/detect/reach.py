"""How far a built-in rule's matches reach around its keyword hits: proven per pattern.

Binary content holds keywords (a 150 MB executable holds "secret" hundreds of times) but almost
never a key. Making the printable text of the whole content and running the rules over it is
then most of the cost of scanning a large tree (issue 14). With these bounds the engine first
looks for a match only in small windows around the hits (`Engine.could_find`); only when one
matches is the whole text made and scanned as before, so the findings are the same.

A bound is a proof about one pattern and its keywords, written out below; it is used only for
that exact pattern and those keywords (a changed rule, or a user's rule, has none, and is run
over the whole text as before). For a rule the engine runs over the whole text, the proof says
that every match holds a hit of one of the rule's keywords, and that a match, with every
character its look-behind and look-ahead read, lies within `around` = (before, after)
characters of that hit. For a rule with a `keyword_window`, the engine's own windows bound its
matches; the proof only says how many characters before a match's start its look-behind (or
`\\b`) may read (`behind`), and whether every match starts at a hit (`starts`).
"""

from __future__ import annotations

from typing import NamedTuple

from akscan.rules import Rule


class Bound(NamedTuple):  # (not a dataclass: the engine, which a commit hook imports, uses it)
    # characters before a match's start that matching it may read (rules with a keyword_window)
    behind: int = 0
    # (before, after) a keyword hit: where a match holding it, and all it reads, lies (rules
    # run over the whole text); None where the rule has a keyword_window instead
    around: tuple[int, int] | None = None
    # where a run of whitespace of any length may lie: the run through this many characters
    # after the hit is not counted in `after` (-1: there is none)
    spaces: int = -1
    # every match starts where one of the rule's keywords occurs (as the rule's case wants):
    # the engine then tries the pattern at those places only, not at every character
    starts: bool = False


# rule id -> (sha256 of its pattern and keywords, the first 16 hex digits; the bound)
_PROVEN: dict[str, tuple[str, Bound]] = {
    # "LTAI" and 12 to 20 letters or digits (at most 24 characters), starting at its "ltai" hit;
    # the look-behind reads at most 28 characters before it ("\u001b" 6, "[", 20 digits or ";",
    # "m"), the look-ahead one after it.
    "alibaba-access-key-id": ("440ef7fb65cd1041", Bound(around=(32, 32))),
    # "?" or "&", the keyword (at most 17 characters, "=" included) and an ID of at most 24:
    # from 1 before the hit to 41 after it, and a look-ahead of one; no look-behind.
    "alibaba-access-key-id-signed-url": ("7d2cd3414c990bda", Bound(around=(8, 48))),
    # "STS." and 16 to 40 letters or digits (at most 44), starting at its "sts." hit; the same
    # look-behind as the AccessKey ID's (28), a look-ahead of one.
    "alibaba-sts-access-key-id": ("b87086bc3d97934a", Bound(around=(32, 48))),
    # "CAIS", at most 6000 base64 characters each written in at most 3 ("%2B"), and at most
    # "%3D%3D" (6): 18,010 characters from its "cais" hit; look-behind and look-ahead one each.
    "alibaba-sts-security-token": ("68fa2c5478e7a99d", Bound(around=(8, 18_016))),
    # Starts at its "secret", and looks back over it and at most 15 characters before it for
    # the rest of the name ("alicloud", a separator, "cloud", a separator); its other
    # look-behind comes after the assignment, which is never empty.
    "alibaba-access-key-secret": ("d358748169f5d61f", Bound(behind=16, starts=True)),
    # Starts at an SDK name's keyword (every branch of its first group starts with one, as
    # written: the pattern and these keywords are case-sensitive); looking back for the rest of
    # the name reads at most 8 characters before it ("StsToken" or "StaticAK" before
    # "Credential", "New" before "ClientWith").
    "alibaba-access-key-secret-sdk-call": ("f2e441f17018a10b", Bound(behind=16, starts=True)),
    # `\b` before "variable" reads one character before the start.
    "alibaba-access-key-secret-terraform-variable": ("6659ee5872b2844b", Bound(behind=8)),
    # Starts with a quote, no look-behind.
    "alibaba-sts-access-key-secret-positional": ("11b693d1e58d59da", Bound(behind=8)),
    # Starts at its keyword: "StsAuth" (7 characters) or "StsToken" with "Credential(s)"
    # (at most 19), looking back at most 13 characters before it ("NewClientWith"); then `\s*`,
    # a run of whitespace of any length that starts at most 19 characters after the hit, so
    # that it ends where the run through that 19th character ends, or before; then "(", at
    # most 240 arguments' characters of at most 82 each, a quote, at most 64 characters and a
    # quote (19,747), with no look-ahead.
    "alibaba-sts-access-key-secret-sdk-call": ("4994555a0817a2ef",
                                               Bound(around=(16, 19 + 19_747 + 34), spaces=19)),
    # Not here: the context rules, which run only near another rule's match.
}


def fingerprint(rule: Rule) -> str:
    """What a bound was proven for: the rule's pattern and keywords."""
    import hashlib  # (when a binary is first scanned, not when a commit hook starts)

    source = getattr(rule.pattern, "pattern", "")
    text = "\0".join([str(source), *(k.decode("latin-1") for k in rule.keywords)])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def bound(rule: Rule) -> Bound | None:
    """The proven bound of `rule`, or None (then it runs over the whole text)."""
    proven = _PROVEN.get(rule.id)
    if proven is None or proven[0] != fingerprint(rule):
        return None
    found = proven[1]
    if (found.around is None) != (rule.keyword_window is not None):
        return None  # proven for the rule as shipped: windowed, or run over the whole text
    return found
