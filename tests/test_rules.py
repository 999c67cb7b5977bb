"""The built-in rules keep their own promises (their examples), and the loader explains every
mistake in a rule file by file, rule and field."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
import regex
from helpers import write

from akscan.detect.engine import Engine
from akscan.errors import RuleError
from akscan.model import KINDS, Fragment
from akscan.rules import (
    Deferred,
    Rule,
    builtin_rules_dir,
    load_rule_file,
    load_rules,
    merge_rules,
)

BUILTIN = load_rules([builtin_rules_dir()])


def engine_for(rule: Rule) -> Engine:
    """The rule itself plus the standalone rules its context needs (an ID near a secret)."""
    near = rule.context.near if rule.context else frozenset()
    deps = [r for r in BUILTIN if r.context is None and r.kind in near and r.id != rule.id]
    return Engine([rule, *deps])


def rule_ids_found(rule: Rule, text: str) -> list[str]:
    result = engine_for(rule).scan(Fragment("example", text))
    assert result.warnings == []
    return [f.rule_id for f in result.findings]


def examples(which: str) -> list[object]:
    cases = []
    for rule in BUILTIN:
        for n, text in enumerate(getattr(rule, f"{which}_examples")):
            cases.append(pytest.param(rule, text, id=f"{rule.id}-{which}-{n + 1}"))
    return cases


@pytest.mark.parametrize(("rule", "text"), examples("positive"))
def test_positive_example_is_found_by_its_rule(rule: Rule, text: str) -> None:
    assert rule.id in rule_ids_found(rule, text)


@pytest.mark.parametrize(("rule", "text"), examples("negative"))
def test_negative_example_is_not_found_by_its_rule(rule: Rule, text: str) -> None:
    assert rule.id not in rule_ids_found(rule, text)


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.id)
def test_every_rule_has_at_least_two_positive_and_two_negative_examples(rule: Rule) -> None:
    assert len(rule.positive_examples) >= 2
    assert len(rule.negative_examples) >= 2


def test_builtin_rules_are_loaded_from_every_file() -> None:
    files = sorted(builtin_rules_dir().glob("*.toml"))
    assert files
    assert {Path(rule.source) for rule in BUILTIN} == set(files)
    assert {rule.kind for rule in BUILTIN} == set(KINDS)


def test_rule_ids_are_unique_kebab_case() -> None:
    ids = [rule.id for rule in BUILTIN]
    assert len(ids) == len(set(ids))
    for rule_id in ids:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", rule_id), rule_id


@pytest.mark.parametrize("rule", [r for r in BUILTIN if r.context], ids=lambda r: r.id)
def test_every_context_rule_can_be_satisfied_by_a_standalone_rule(rule: Rule) -> None:
    assert rule.context is not None
    standalone_kinds = {r.kind for r in BUILTIN if r.context is None}
    assert rule.context.near & standalone_kinds


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.id)
def test_every_rule_tells_the_user_what_to_do(rule: Rule) -> None:
    assert len(rule.remediation) > 40
    assert rule.description
    assert all(k == k.lower() and k for k in rule.keywords)


def test_user_rule_with_a_builtin_id_replaces_it(tmp_path: Path) -> None:
    override = write(tmp_path / "override.toml", rule_toml(id_="alibaba-access-key-id",
                                                           severity="low"))
    merged = merge_rules(BUILTIN, load_rules([override]), [])
    (rule,) = [r for r in merged if r.id == "alibaba-access-key-id"]
    assert rule.severity == "low" and rule.source == str(override)
    assert len(merged) == len(BUILTIN)


def test_disabling_an_unknown_rule_names_it() -> None:
    with pytest.raises(RuleError, match="no-such-rule"):
        merge_rules(BUILTIN, [], ["no-such-rule"])


# --- loader errors --------------------------------------------------------------------------


def rule_toml(id_: str = "my-rule", severity: str = "high", extra: str = "") -> str:
    return (
        "[[rules]]\n"
        f'id = "{id_}"\n'
        'description = "My token"\n'
        'kind = "access-key-id"\n'
        f'severity = "{severity}"\n'
        "pattern = '''MYTOK_[A-Z0-9]{20}'''\n"
        'remediation = "Revoke it."\n'
        f"{extra}"
    )


def test_a_valid_rule_file_loads(tmp_path: Path) -> None:
    (rule,) = load_rule_file(write(tmp_path / "ok.toml", rule_toml()))
    assert (rule.id, rule.kind, rule.severity, rule.precision) == (
        "my-rule", "access-key-id", "high", "high")
    assert rule.context is None and rule.keywords == ()


def test_keywords_that_match_case_are_kept_as_written(tmp_path: Path) -> None:
    (rule,) = load_rule_file(write(tmp_path / "ok.toml", rule_toml(
        extra="keywords = ['MYTOK_']\nkeywords_match_case = true\n")))
    assert (rule.keywords, rule.cased_keywords) == ((b"mytok_",), (b"MYTOK_",))
    engine = Engine([rule])
    assert engine.rules_for(b"mytok_", b"mytok_") == []
    assert engine.rules_for(b"x mytok_", b"x MYTOK_") == [rule]


@pytest.mark.parametrize(("text", "needles"), [
    ("[tool]\nx = 1\n", ["field 'rules'"]),
    ("rules = 3\n", ["field 'rules'"]),
    ("placeholders = 'x'\n" + rule_toml(), ["field 'placeholders'"]),
    (rule_toml().replace('id = "my-rule"\n', ""), ["rule #1", "field 'id'", "missing"]),
    (rule_toml(id_="My_Rule"), ["field 'id'", "kebab-case"]),
    (rule_toml().replace('description = "My token"', "description = ''"),
     ["rule 'my-rule'", "field 'description'"]),
    (rule_toml().replace('kind = "access-key-id"', 'kind = "api-key"'),
     ["rule 'my-rule'", "field 'kind'", "'api-key'"]),
    (rule_toml(severity="urgent"), ["field 'severity'", "'urgent'"]),
    (rule_toml().replace("{20}'''", "{20'''").replace("MYTOK_[", "MYTOK_(["),
     ["rule 'my-rule'", "field 'pattern'", "invalid regular expression"]),
    (rule_toml().replace("MYTOK_", "(?P<tok>MYTOK_)"), ["field 'pattern'", "(?P<secret>"]),
    (rule_toml(extra="keywords = ['ключ']\n"), ["field 'keywords'"]),
    (rule_toml(extra="min_entropy = 9\n"), ["field 'min_entropy'"]),
    (rule_toml(extra="min_char_classes = true\n"), ["field 'min_char_classes'"]),
    (rule_toml(extra="placeholders = ['(']\n"), ["field 'placeholders'"]),
    (rule_toml(extra="colour = 'red'\n"), ["field 'colour'", "unknown field"]),
    (rule_toml(extra="context = 'near ids'\n"), ["field 'context'"]),
    (rule_toml(extra="[rules.context]\nnear = []\n"), ["field 'context.near'"]),
    (rule_toml(extra="[rules.context]\nnear = ['access-key-id']\nlines = -1\n"),
     ["field 'lines'"]),
    (rule_toml(extra="examples = ['a']\n"), ["field 'examples'"]),
    (rule_toml(extra="[rules.examples]\npositive = 'a'\n"), ["field 'examples.positive'"]),
    (rule_toml(extra="keywords_match_case = true\n"), ["field 'keywords_match_case'"]),
    (rule_toml(extra="keywords = ['mytok_']\nkeywords_match_case = true\n"
                     "[rules.examples]\npositive = ['MYTOK_ABCDEFGHIJ0123456789']\n"),
     ["field 'keywords_match_case'", "as written"]),
    (rule_toml() + rule_toml(), ["rule 'my-rule'", "duplicate id"]),
    ("rules = [1]\n", ["rules[0]", "expected a table"]),
    ("[[rules]\nid = 'x'\n", ["invalid TOML"]),
], ids=lambda v: None)
def test_loader_error_names_the_file_and_the_field(
    tmp_path: Path, text: str, needles: list[str]
) -> None:
    path = write(tmp_path / "broken.toml", text)
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_rule_file_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(rule_toml().replace("My token", "Caf\xe9").encode("latin-1"))
    with pytest.raises(RuleError, match=re.escape(str(path))):
        load_rules([path])


def test_rules_directory_without_toml_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "README.md", "rules go here\n")
    with pytest.raises(RuleError, match=re.escape("no *.toml rule files")):
        load_rules([tmp_path])


def test_rules_directory_loads_its_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path / "b.toml", rule_toml(id_="rule-b"))
    write(tmp_path / "a.toml", rule_toml(id_="rule-a"))
    write(tmp_path / "notes.txt", "not a rule\n")
    assert [r.id for r in load_rules([tmp_path])] == ["rule-a", "rule-b"]


@pytest.mark.parametrize("path", sorted(builtin_rules_dir().glob("*.toml")), ids=lambda p: p.name)
def test_builtin_rules_pass_the_checks_a_user_rule_gets_when_loaded(path: Path) -> None:
    # Built-in patterns are compiled on first use; here they are compiled and checked now.
    checked = load_rule_file(path)
    assert [r.id for r in checked] == [r.id for r in BUILTIN if r.source == str(path)]
    for rule in checked:
        assert not isinstance(rule.pattern, Deferred)
        assert rule.pattern.groups == 0 or "secret" in rule.pattern.groupindex


def test_a_deferred_pattern_matches_as_the_compiled_one_and_survives_pickling() -> None:
    source = r"LTAI(?P<secret>[A-Za-z0-9]{12,})"
    text = "id LTAI5tAbCdEfGh12345 and LTAIshort"
    deferred = Deferred(source)
    assert not deferred.compiled
    assert pickle.loads(pickle.dumps(deferred)) == deferred
    found = [m.span("secret") for m in deferred.finditer(text, timeout=1.0)]
    assert found == [m.span("secret") for m in regex.compile(source).finditer(text)]
    assert deferred.compiled and deferred.groupindex == {"secret": 1}
    assert not pickle.loads(pickle.dumps(deferred)).compiled  # a worker compiles its own


def test_a_user_rule_is_compiled_and_checked_when_loaded(tmp_path: Path) -> None:
    (rule,) = load_rules([write(tmp_path / "mine.toml", rule_toml())])
    assert not isinstance(rule.pattern, Deferred)
    with pytest.raises(RuleError, match="invalid regular expression"):
        load_rules([write(tmp_path / "bad.toml", rule_toml().replace("{20}", "{20}("))])
