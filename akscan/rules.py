"""Detection rules: TOML data validated once into frozen, compiled `Rule`s.

A rule file holds `[[rules]]` tables and, optionally, a top-level `placeholders` list that
applies to every rule in the file. Every error names the file, the rule and the field, so a
user who breaks a rule file sees exactly where (exit 2 through the CLI's error boundary).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from akscan import rulecache, userfile
from akscan.errors import RuleError
from akscan.model import KINDS, PRECISIONS, SEVERITIES

_ID_SHAPE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # ASCII only: `re` is the same, and at hand
_KNOWN_FIELDS = frozenset({
    "id", "description", "kind", "severity", "precision", "pattern", "keywords", "min_entropy",
    "min_char_classes", "placeholders", "remediation", "context", "examples", "anchor",
    "keyword_window", "keywords_match_case",
})


class Context(NamedTuple):
    """A match counts only when a finding of one of `near` kinds lies within `lines` lines."""

    near: frozenset[str]
    lines: int


@dataclass(frozen=True)
class Rule:
    """One detection rule, validated and ready to run."""

    id: str
    description: str
    kind: str
    severity: str
    precision: str
    pattern: Any  # a compiled `regex` pattern (a Deferred one for the built-in rules)
    keywords: tuple[bytes, ...]  # lower-case; empty means "always run"
    min_entropy: float
    min_char_classes: int
    placeholders: tuple[Any, ...]  # compiled patterns that mark a match as a placeholder
    remediation: str
    context: Context | None
    anchor: bool  # whether its matches satisfy other rules' context
    # (before, after): every match lies within these many characters of a keyword hit, so the
    # rule runs only there. None: the rule runs over the whole text.
    keyword_window: tuple[int, int] | None
    positive_examples: tuple[str, ...]
    negative_examples: tuple[str, ...]
    source: str  # the file it came from, for messages
    # The keywords as written, when the rule asks for them to match only with that case
    # (`keywords_match_case`): a case-sensitive pattern cannot match where they occur in
    # another case ("sts." is in every requests. and lists.; "STS." starts an STS ID).
    # Empty: keywords match in any case.
    cased_keywords: tuple[bytes, ...] = ()


class Deferred:
    """A built-in rule's `regex` pattern, compiled the first time a scan uses it.

    Compiling the built-in patterns (and importing `regex`) was most of a commit hook's work
    after start-up, for contents that mostly wake no rule at all (issue 14). The built-in
    rules ship with akscan and the test suite compiles and checks every one of them; a user's
    rule is still compiled when it is loaded, so a bad pattern is an error before any scan.
    `pattern` (the source) is there from the start; any other attribute compiles it, and the
    compiled pattern's attributes are then kept on this object, so later uses cost nothing more.
    """

    def __init__(self, source: str) -> None:
        self.pattern = source

    def __getattr__(self, name: str) -> Any:  # only for attributes not set yet
        if name.startswith("__"):
            raise AttributeError(name)  # copy and pickle probing: not a reason to compile
        compiled = compile_pattern(self.pattern)
        for attribute in dir(compiled):
            if not attribute.startswith("_"):
                self.__dict__[attribute] = getattr(compiled, attribute)
        return getattr(compiled, name)

    @property
    def compiled(self) -> bool:
        return "finditer" in self.__dict__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Deferred, (self.pattern,))  # a worker process compiles it when it needs it

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Deferred) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"Deferred({self.pattern!r})"


def compile_pattern(source: str) -> Any:
    """`source` as a `regex` pattern (which can time out, unlike `re`)."""
    import regex

    return regex.compile(source)


def builtin_rules_dir() -> Path:
    """The rules shipped with akscan: inside the wheel, or the top-level folder in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise RuleError(f"built-in rules not found next to {here}; the installation is incomplete")


def load_rules(paths: Iterable[Path]) -> list[Rule]:
    """Load rule files and directories (every `*.toml` inside, sorted) in order."""
    rules: list[Rule] = []
    for path in paths:
        if path.is_dir():
            files = sorted(path.glob("*.toml"))
            if not files:
                raise RuleError(f"{path}: no *.toml rule files in this directory")
        elif path.is_file():
            files = [path]
        else:
            raise RuleError(f"{path}: rule file or directory does not exist")
        # The built-in rules' patterns are compiled when first used (see Deferred).
        deferred = path.is_dir() and path.resolve() == builtin_rules_dir()
        for file in files:
            rules.extend(load_rule_file(file, deferred=deferred))
    return rules


def merge_rules(
    builtin: Sequence[Rule], extra: Sequence[Rule], disabled: Iterable[str]
) -> list[Rule]:
    """Built-ins, overridden by user rules of the same id, less the disabled ones."""
    by_id = {rule.id: rule for rule in builtin}
    for rule in extra:
        by_id[rule.id] = rule
    disabled = set(disabled)
    unknown = sorted(disabled - by_id.keys())
    if unknown:
        raise RuleError(f"cannot disable unknown rule id(s): {', '.join(unknown)}")
    return [rule for rule_id, rule in by_id.items() if rule_id not in disabled]


def load_rule_file(path: Path, deferred: bool = False) -> list[Rule]:
    """The rules of one file; with `deferred` (the built-in rules only), their patterns are
    compiled when first used, not checked now."""
    try:
        text = userfile.read_text(path, "rule file", 16 * 1024 * 1024)
    except userfile.UserFileError as exc:  # bounded: /dev/zero is an error, not a hang
        raise RuleError(str(exc)) from None
    data = _parsed(path, text)
    tables = data.get("rules")
    if not isinstance(tables, list) or not tables:
        raise RuleError(f"{path}: field 'rules': expected one or more [[rules]] tables")
    shared = data.get("placeholders", [])
    if not isinstance(shared, list) or not all(isinstance(p, str) for p in shared):
        raise RuleError(f"{path}: field 'placeholders': expected a list of strings")
    rules = [_parse_rule(path, index, table, shared, deferred)
             for index, table in enumerate(tables)]
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleError(f"{path}: rule '{rule.id}': duplicate id")
        seen.add(rule.id)
    return rules


def _parsed(path: Path, text: str) -> dict[str, Any]:
    """The TOML data of a rule file's text: from the cache when that exact text was parsed
    before (see rulecache), which spares a commit hook the TOML parser."""
    data = rulecache.get(text)
    if data is not None:
        return data
    from akscan import toml

    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise RuleError(f"{path}: invalid TOML: {exc}") from None
    rulecache.put(text, data)
    return data


class _Fields:
    """Typed access to one rule table; every failure names file, rule and field."""

    def __init__(self, path: Path, label: str, table: dict[str, Any]) -> None:
        self.path, self.label, self.table = path, label, table

    def fail(self, name: str, problem: str) -> RuleError:
        return RuleError(f"{self.path}: rule {self.label}: field '{name}': {problem}")

    def text(self, name: str, default: str | None = None) -> str:
        value = self.table.get(name, default)
        if value is None:
            raise self.fail(name, "missing")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "expected a non-empty string")
        return value

    def choice(self, name: str, choices: Sequence[str], default: str | None = None) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise self.fail(name, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def strings(self, name: str) -> list[str]:
        value = self.table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, "expected a list of strings")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.table.get(name, default)
        in_range = isinstance(value, (int, float)) and low <= value <= high
        if isinstance(value, bool) or not in_range:
            raise self.fail(name, f"expected a number from {low} to {high}")
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, "expected true or false")
        return value

    def compile(self, name: str, source: str, deferred: bool = False) -> Any:
        if deferred:
            return Deferred(source)
        import regex

        try:
            return compile_pattern(source)
        except (regex.error, TypeError) as exc:
            raise self.fail(name, f"invalid regular expression: {exc}") from None


def _parse_rule(
    path: Path, index: int, table: Any, shared_placeholders: list[str], deferred: bool = False
) -> Rule:
    if not isinstance(table, dict):
        raise RuleError(f"{path}: rules[{index}]: expected a table")
    rule_id = table.get("id")
    label = f"'{rule_id}'" if isinstance(rule_id, str) else f"#{index + 1}"
    fields = _Fields(path, label, table)
    unknown = sorted(set(table) - _KNOWN_FIELDS)
    if unknown:
        raise fields.fail(unknown[0], "unknown field")
    rule_id = fields.text("id")
    if not _ID_SHAPE.fullmatch(rule_id):
        raise fields.fail("id", "use lower-case kebab-case, e.g. 'alibaba-access-key-id'")
    pattern = fields.compile("pattern", fields.text("pattern"), deferred)
    if not deferred and pattern.groupindex and "secret" not in pattern.groupindex:
        raise fields.fail("pattern", "named groups are allowed, but one must be (?P<secret>...)")
    return Rule(
        id=rule_id,
        description=fields.text("description"),
        kind=fields.choice("kind", KINDS),
        severity=fields.choice("severity", SEVERITIES, "high"),
        precision=fields.choice("precision", PRECISIONS, "high"),
        pattern=pattern,
        keywords=tuple(_keyword(fields, k) for k in fields.strings("keywords")),
        min_entropy=fields.number("min_entropy", 0.0, 0.0, 8.0),
        min_char_classes=int(fields.number("min_char_classes", 1, 1, 3)),
        placeholders=tuple(
            fields.compile("placeholders", p, deferred)
            for p in [*shared_placeholders, *fields.strings("placeholders")]
        ),
        remediation=fields.text("remediation"),
        context=_context(fields),
        anchor=fields.flag("anchor", True),
        keyword_window=_keyword_window(fields),
        positive_examples=tuple(_examples(fields, "positive")),
        negative_examples=tuple(_examples(fields, "negative")),
        source=str(path),
        cased_keywords=_cased_keywords(fields),
    )


def _keyword(fields: _Fields, keyword: str) -> bytes:
    if not keyword or not keyword.isascii():
        raise fields.fail("keywords", f"{keyword!r}: keywords must be non-empty ASCII")
    return keyword.lower().encode("ascii")


def _cased_keywords(fields: _Fields) -> tuple[bytes, ...]:
    if not fields.flag("keywords_match_case", False):
        return ()
    written = tuple(k.encode("ascii") for k in fields.strings("keywords"))
    if not written:
        raise fields.fail("keywords_match_case", "needs keywords")
    # A keyword in the wrong case would silently stop the rule from ever running: its own
    # examples must show it as written.
    for example in _examples(fields, "positive"):
        if not any(k.decode("ascii") in example for k in written):
            raise fields.fail("keywords_match_case", f"positive example {example[:60]!r} holds "
                              "none of the keywords as written (case matters)")
    return written


def _keyword_window(fields: _Fields) -> tuple[int, int] | None:
    value = fields.table.get("keyword_window")
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1_000_000
                       for v in value)):
        raise fields.fail("keyword_window", "expected [characters before, characters after]")
    if not fields.table.get("keywords"):
        raise fields.fail("keyword_window", "needs keywords to place the window around")
    return (value[0], value[1])


def _context(fields: _Fields) -> Context | None:
    table = fields.table.get("context")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise fields.fail("context", "expected a table with 'near' and 'lines'")
    sub = _Fields(fields.path, fields.label, table)
    near = sub.strings("near")
    if not near or any(kind not in KINDS for kind in near):
        raise fields.fail("context.near", f"expected a list of kinds from {', '.join(KINDS)}")
    lines = sub.number("lines", 5, 0, 1000)
    return Context(frozenset(near), int(lines))


def _examples(fields: _Fields, which: str) -> list[str]:
    table = fields.table.get("examples", {})
    if not isinstance(table, dict):
        raise fields.fail("examples", "expected a table with 'positive' and 'negative' lists")
    value = table.get(which, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fields.fail(f"examples.{which}", "expected a list of strings")
    return value
