"""The command line: exit codes, report contents, secrecy, colour, suppression, settings and
user rules, as a user sees them."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import RunCli, ScanJson, run_on_a_terminal, subprocess_env, write
from keys import random_id, random_secret, random_token

import akscan

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def pair_file(path: Path, key_id: str, secret: str) -> Path:
    """A typical leaked config: the ID on line 2, its secret on line 3."""
    return write(path, f"[default]\naccess_key_id = {key_id}\naccess_key_secret = {secret}\n")


def assert_one_line_error(err: str, *needles: str) -> None:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, err)


# --- exit codes, version, help --------------------------------------------------------------


def test_clean_tree_exits_0_with_an_empty_report(tmp_path: Path, run_cli: RunCli) -> None:
    write(tmp_path / "app.py", "import os\nkey = os.environ['ALIBABA_CLOUD_ACCESS_KEY_ID']\n")
    code, out, err = run_cli(["scan", str(tmp_path)])
    assert (code, out) == (0, "")
    assert "no credentials found" in err


def test_tree_with_a_key_exits_1(tmp_path: Path, run_cli: RunCli) -> None:
    write(tmp_path / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    code, _, err = run_cli(["scan", str(tmp_path)])
    assert code == 1
    assert "1 credential(s) found" in err


@pytest.mark.parametrize("args", [
    ["scan", "--format", "xml", "."],
    ["scan", "--no-such-option"],
    ["scan", "--jobs", "0", "."],
    ["scan", "--regex-timeout", "0", "."],
    ["scan", "--max-file-size", "lots", "."],
    [],
], ids=["bad-format", "unknown-option", "zero-jobs", "zero-timeout", "bad-size", "no-command"])
def test_usage_errors_exit_2_without_traceback(args: list[str], run_cli: RunCli) -> None:
    code, out, err = run_cli(args)
    assert code == 2
    assert out == ""
    assert err.strip() and "Traceback" not in err


def test_version_prints_the_package_version(run_cli: RunCli) -> None:
    code, out, _ = run_cli(["--version"])
    assert code == 0
    assert out.strip() == f"akscan {akscan.__version__}"


def test_help_explains_the_exit_codes(run_cli: RunCli) -> None:
    code, out, _ = run_cli(["--help"])
    assert code == 0
    assert "exit codes" in out
    for line in ("0  nothing found", "1  credentials found", "2  usage or runtime error"):
        assert line in out


def test_python_dash_m_akscan_reports_its_version(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "akscan", "--version"], capture_output=True,
                            text=True, cwd=tmp_path, env=subprocess_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"akscan {akscan.__version__}"


# --- the text report ------------------------------------------------------------------------


def test_text_report_shows_location_rule_redacted_secret_and_fix(
    tmp_path: Path, run_cli: RunCli
) -> None:
    key_id, secret = random_id(), random_secret()
    pair_file(tmp_path / "credentials", key_id, secret)
    code, out, _ = run_cli(["scan", str(tmp_path)])
    assert code == 1
    lines = [line.strip() for line in out.splitlines()]
    id_line = next(line for line in lines if line.startswith("credentials:2:17: "))
    assert "alibaba-access-key-id" in id_line
    shown_id = id_line.split()[-1]
    assert shown_id.startswith(key_id[:6]) and "…" in shown_id and shown_id.endswith(key_id[-2:])
    secret_line = next(line for line in lines if line.startswith("credentials:3:21: "))
    assert "alibaba-access-key-secret" in secret_line
    assert secret_line.split()[-1] == f"{secret[:2]}…{secret[-2:]}"
    # What to do is said once, at the end, not under each finding.
    assert sum("RAM console" in line for line in lines) == 1
    assert lines[-6] == "What to do about a leaked AccessKey, in order:"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_raw_secrets_never_appear_without_show_secrets(
    tmp_path: Path, run_cli: RunCli, fmt: str
) -> None:
    key_id, secret = random_id(), random_secret()
    pair_file(tmp_path / "credentials", key_id, secret)
    code, out, err = run_cli(["scan", "--format", fmt, "--include-suppressed", str(tmp_path)])
    assert code == 1
    for raw in (key_id, secret):
        assert raw not in out and raw not in err


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_show_secrets_prints_them_in_full(tmp_path: Path, run_cli: RunCli, fmt: str) -> None:
    key_id, secret = random_id(), random_secret()
    pair_file(tmp_path / "credentials", key_id, secret)
    code, out, err = run_cli(["scan", "--format", fmt, "--show-secrets", str(tmp_path)])
    assert code == 1
    assert key_id in out and secret in out
    assert key_id not in err and secret not in err
    if fmt == "json":
        assert {f["secret"] for f in json.loads(out)["findings"]} == {key_id, secret}


# --- the JSON report ------------------------------------------------------------------------


def test_json_report_fields_and_fingerprints(tmp_path: Path, run_cli: RunCli) -> None:
    key_id, secret = random_id(), random_secret()
    pair_file(tmp_path / "credentials", key_id, secret)
    code, out, _ = run_cli(["scan", "--format", "json", str(tmp_path)])
    assert code == 1
    document = json.loads(out)
    assert document["version"] == 1
    assert document["tool"] == {"name": "akscan", "version": akscan.__version__}
    found_id, found_secret = document["findings"]
    assert found_id["rule_id"] == "alibaba-access-key-id"
    assert found_id["kind"] == "access-key-id"
    assert (found_id["path"], found_id["line"], found_id["column"]) == ("credentials", 2, 17)
    assert (found_id["end_line"], found_id["end_column"]) == (2, 17 + len(key_id))
    assert found_id["secret_sha256"] == sha(key_id)
    assert found_id["redacted"] == f"{key_id[:6]}…{key_id[-2:]}"
    assert found_id["suppressed"] is None
    assert "secret" not in found_id
    assert found_secret["rule_id"] == "alibaba-access-key-secret"
    assert found_secret["kind"] == "access-key-secret"
    assert (found_secret["line"], found_secret["column"]) == (3, 21)
    assert found_secret["secret_sha256"] == sha(secret)
    assert found_secret["severity"] in {"low", "medium", "high", "critical"}
    assert found_secret["remediation"]


def test_id_and_secret_are_paired_in_both_directions(tmp_path: Path, run_cli: RunCli) -> None:
    key_id, secret = random_id(), random_secret()
    pair_file(tmp_path / "credentials", key_id, secret)
    write(tmp_path / "lonely.txt", f"nothing else here\nid: {random_id()}\n")
    _, out, _ = run_cli(["scan", "--format", "json", str(tmp_path)])
    findings = {f["secret_sha256"]: f for f in json.loads(out)["findings"]}
    found_id, found_secret = findings.pop(sha(key_id)), findings.pop(sha(secret))
    assert found_id["paired_with"] == [{
        "rule_id": "alibaba-access-key-secret", "kind": "access-key-secret",
        "path": "credentials", "line": 3, "column": 21, "secret_sha256": sha(secret),
    }]
    assert found_secret["paired_with"] == [{
        "rule_id": "alibaba-access-key-id", "kind": "access-key-id",
        "path": "credentials", "line": 2, "column": 17, "secret_sha256": sha(key_id),
    }]
    (lonely,) = findings.values()
    assert lonely["paired_with"] == []


def test_text_report_puts_the_partners_in_one_block(tmp_path: Path, run_cli: RunCli) -> None:
    pair_file(tmp_path / "credentials", random_id(), random_secret())
    _, out, _ = run_cli(["scan", str(tmp_path)])
    block = out.split("\n\n")[0]
    assert block.startswith("UNCHECKED AccessKey pair ")
    assert "credentials:2:17: alibaba-access-key-id" in block
    assert "credentials:3:21: alibaba-access-key-secret" in block


def test_output_option_writes_the_report_to_a_file(tmp_path: Path, run_cli: RunCli) -> None:
    key_id = random_id()
    write(tmp_path / "src" / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\n")
    report = tmp_path / "report.json"
    code, out, _ = run_cli(["scan", "--format", "json", "-o", str(report), str(tmp_path / "src")])
    assert code == 1
    assert out == ""
    (found,) = json.loads(report.read_text(encoding="utf-8"))["findings"]
    assert found["secret_sha256"] == sha(key_id)


def test_output_to_an_unwritable_place_is_a_one_line_error(
    tmp_path: Path, run_cli: RunCli
) -> None:
    write(tmp_path / "src" / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    target = tmp_path / "no-such-dir" / "report.json"
    code, _, err = run_cli(["scan", "-q", "-o", str(target), str(tmp_path / "src")])
    assert code == 2
    assert_one_line_error(err, str(target))


def test_parallel_and_serial_scans_agree(tmp_path: Path, scan_json: ScanJson) -> None:
    for n in range(12):
        pair_file(tmp_path / f"dir{n % 3}" / f"f{n}.ini", random_id(), random_secret())
    _, serial, _ = scan_json("-j", "1", tmp_path)
    _, parallel, _ = scan_json("-j", "4", tmp_path)
    assert len(serial) == 24
    assert serial == parallel


def test_closed_stdout_does_not_end_in_a_traceback(tmp_path: Path) -> None:
    for n in range(50):
        pair_file(tmp_path / f"f{n}.ini", random_id(), random_secret())
    proc = subprocess.Popen(
        [sys.executable, "-m", "akscan", "scan", "--format", "json", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(), cwd=tmp_path,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # like `akscan scan | head` once head has had enough
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert "Traceback" not in text and "BrokenPipeError" not in text, text
    assert proc.returncode != 0


# --- colour ---------------------------------------------------------------------------------


def test_terminal_output_is_coloured_unless_no_color_is_set(tmp_path: Path) -> None:
    write(tmp_path / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    coloured = run_on_a_terminal(["scan", str(tmp_path)], tmp_path, TERM="xterm")
    assert "alibaba-access-key-id" in coloured and ANSI.search(coloured)
    plain = run_on_a_terminal(["scan", str(tmp_path)], tmp_path, TERM="xterm", NO_COLOR="1")
    assert "alibaba-access-key-id" in plain and not ANSI.search(plain)


def test_non_terminal_output_has_no_colour_unless_forced(tmp_path: Path, run_cli: RunCli) -> None:
    write(tmp_path / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    _, plain, _ = run_cli(["scan", str(tmp_path)])
    assert "alibaba-access-key-id" in plain and not ANSI.search(plain)
    _, forced, _ = run_cli(["scan", "--color", "always", str(tmp_path)])
    assert ANSI.search(forced)
    assert ANSI.sub("", forced) == plain


def test_no_color_environment_keeps_plain_output(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    write(tmp_path / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    _, out, _ = run_cli(["scan", "--color", "auto", str(tmp_path)])
    assert "alibaba-access-key-id" in out and not ANSI.search(out)


# --- inline suppression ---------------------------------------------------------------------


@pytest.mark.parametrize(("line", "reason"), [
    ('access_key_id = "{key}"  # akscan:allow', "akscan:allow"),
    ('const id = "{key}"; // gitleaks:allow', "gitleaks:allow"),
    ('key_id: "{key}"  # trufflehog:ignore', "trufflehog:ignore"),
    ('"akid": "{key}", // kingfisher:ignore', "kingfisher:ignore"),
    ('ACCESS_KEY_ID = "{key}"  # pragma: allowlist secret', "pragma: allowlist secret"),
    ('# akscan:allow-next-line\naccess_key_id = "{key}"', "akscan:allow-next-line"),
], ids=["akscan", "gitleaks", "trufflehog", "kingfisher", "detect-secrets", "next-line"])
def test_inline_marker_suppresses_the_finding(
    tmp_path: Path, scan_json: ScanJson, run_cli: RunCli, line: str, reason: str
) -> None:
    key_id = random_id()
    write(tmp_path / "settings.py", "import os\n" + line.format(key=key_id) + "\n")
    code, findings, err = scan_json(tmp_path)
    assert (code, findings) == (0, [])
    assert "1 suppressed" in err
    code, findings, _ = scan_json("--include-suppressed", tmp_path)
    assert code == 0
    (found,) = findings
    assert found["secret_sha256"] == sha(key_id)
    assert reason in found["suppressed"]
    code, out, _ = run_cli(["scan", "--include-suppressed", str(tmp_path)])
    assert code == 0
    assert f"suppressed (inline '{reason}'" in out


def test_marker_suppresses_only_its_own_line(tmp_path: Path, scan_json: ScanJson) -> None:
    allowed, leaked = random_id(), random_id()
    write(tmp_path / "a.py", f'A = "{allowed}"  # akscan:allow\nB = "{leaked}"\n')
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert [f["secret_sha256"] for f in findings] == [sha(leaked)]


# --- settings files -------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> dict[str, str]:
    """A project with keys in src/, tests/ and generated/; returns the keys by name."""
    keys = {"src_id": random_id(), "src_secret": random_secret(), "test_id": random_id(),
            "gen_id": random_id()}
    pair_file(tmp_path / "src" / "settings.ini", keys["src_id"], keys["src_secret"])
    write(tmp_path / "tests" / "data.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={keys['test_id']}\n")
    write(tmp_path / "generated" / "out.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={keys['gen_id']}\n")
    return keys


def reported(findings: list[dict], keys: dict[str, str]) -> set[str]:
    names = {sha(value): name for name, value in keys.items()}
    return {names[f["secret_sha256"]] for f in findings}


def test_config_allowlist_paths_suppresses_by_glob(
    tmp_path: Path, project: dict[str, str], scan_json: ScanJson
) -> None:
    write(tmp_path / ".akscan.toml", '[allowlist]\npaths = ["tests/**", "generated/"]\n')
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert reported(findings, project) == {"src_id", "src_secret"}
    _, everything, _ = scan_json("--include-suppressed", tmp_path)
    reasons = {f["path"]: f["suppressed"] for f in everything}
    assert reasons["tests/data.env"] == "allowlisted path"
    assert reasons["src/settings.ini"] is None


def test_config_allowlist_rules_suppresses_a_rule(
    tmp_path: Path, project: dict[str, str], scan_json: ScanJson
) -> None:
    write(tmp_path / ".akscan.toml", '[allowlist]\nrules = ["alibaba-access-key-id"]\n')
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert reported(findings, project) == {"src_secret"}


def test_config_allowlist_fingerprints_suppresses_one_secret(
    tmp_path: Path, project: dict[str, str], scan_json: ScanJson
) -> None:
    write(tmp_path / ".akscan.toml",
          f'[allowlist]\nfingerprints = ["{sha(project["test_id"])}"]\n')
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert reported(findings, project) == {"src_id", "src_secret", "gen_id"}


def test_config_disable_and_exclude(
    tmp_path: Path, project: dict[str, str], scan_json: ScanJson
) -> None:
    write(tmp_path / ".akscan.toml",
          'disable = ["alibaba-access-key-id"]\nexclude = ["generated/"]\n')
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert reported(findings, project) == {"src_secret"}


def test_only_allowlisted_findings_exit_0(
    tmp_path: Path, project: dict[str, str], scan_json: ScanJson
) -> None:
    write(tmp_path / ".akscan.toml", '[allowlist]\npaths = ["*"]\n')
    code, findings, err = scan_json(tmp_path)
    assert (code, findings) == (0, [])
    assert "4 suppressed" in err


def test_pyproject_tool_akscan_table_is_read(
    tmp_path: Path, project: dict[str, str], scan_json: ScanJson
) -> None:
    write(tmp_path / "pyproject.toml",
          '[project]\nname = "demo"\n\n[tool.akscan]\nexclude = ["tests/", "generated/"]\n\n'
          '[tool.akscan.allowlist]\nrules = ["alibaba-access-key-secret"]\n')
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert reported(findings, project) == {"src_id"}


def test_config_in_the_current_directory_does_not_apply_to_another_path(
    tmp_path: Path, project: dict[str, str], scan_json: ScanJson, empty_cwd: Path
) -> None:
    # Settings belong to the scanned repository (issue 11): standing in project A and scanning
    # B must not apply A's settings to B.
    write(empty_cwd / ".akscan.toml", 'disable = ["alibaba-access-key-id"]\n')
    _, findings, err = scan_json(tmp_path / "src")
    assert reported(findings, project) == {"src_id", "src_secret"}
    assert "no settings file" in err


def test_explicit_config_option(
    tmp_path: Path, project: dict[str, str], scan_json: ScanJson
) -> None:
    settings = write(tmp_path.parent / f"{tmp_path.name}-settings.toml",
                     'exclude = ["src/"]\n')
    _, findings, _ = scan_json("--config", settings, tmp_path)
    assert reported(findings, project) == {"test_id", "gen_id"}


@pytest.mark.parametrize(("text", "field"), [
    ("colour = true\n", "colour"),
    ('jobs = "four"\n', "jobs"),
    ('disable = "alibaba-access-key-id"\n', "disable"),
    ("gitignore = 1\n", "gitignore"),
    ('max_file_size = "huge"\n', "max_file_size"),
    ("[allowlist]\npaths = 'src/'\n", "allowlist.paths"),
    ("[allowlist]\nfiles = []\n", "allowlist.files"),
    ('[allowlist]\nfingerprints = ["abc"]\n', "allowlist.fingerprints"),
], ids=lambda v: v if "\n" not in v else None)
def test_invalid_config_is_a_one_line_error_naming_file_and_field(
    tmp_path: Path, run_cli: RunCli, text: str, field: str
) -> None:
    config = write(tmp_path / ".akscan.toml", text)
    code, out, err = run_cli(["scan", str(tmp_path)])
    assert code == 2
    assert out == ""
    assert_one_line_error(err, str(config), f"'{field}'")


def test_config_with_invalid_toml_is_a_one_line_error(tmp_path: Path, run_cli: RunCli) -> None:
    config = write(tmp_path / ".akscan.toml", "exclude = [\n")
    code, _, err = run_cli(["scan", str(tmp_path)])
    assert code == 2
    assert_one_line_error(err, str(config), "invalid TOML")


def test_invalid_pyproject_tool_akscan_names_the_field(tmp_path: Path, run_cli: RunCli) -> None:
    config = write(tmp_path / "pyproject.toml", "[tool.akscan]\nregex_timeout = -1\n")
    code, _, err = run_cli(["scan", str(tmp_path)])
    assert code == 2
    assert_one_line_error(err, str(config), "'regex_timeout'")


# --- rules from the user --------------------------------------------------------------------

CUSTOM_RULE = """\
[[rules]]
id = "acme-deploy-token"
description = "ACME deploy token"
kind = "access-key-id"
keywords = ["acmetok_"]
pattern = '''(?<![A-Za-z0-9_])ACMETOK_(?P<secret>[A-Za-z0-9]{24})(?![A-Za-z0-9])'''
remediation = "Revoke the token in the ACME console."
"""


def test_rules_directory_adds_a_custom_rule(tmp_path: Path, scan_json: ScanJson) -> None:
    write(tmp_path / "rules" / "acme.toml", CUSTOM_RULE)
    token = random_token(24)
    write(tmp_path / "src" / "deploy.sh", f"#!/bin/sh\nexport T=ACMETOK_{token}\n")
    code, findings, _ = scan_json("--rules", tmp_path / "rules", tmp_path / "src")
    assert code == 1
    (found,) = findings
    assert found["rule_id"] == "acme-deploy-token"
    assert found["secret_sha256"] == sha(token)
    assert (found["line"], found["column"]) == (2, len("export T=ACMETOK_") + 1)
    # the built-in rules still run next to it
    write(tmp_path / "src" / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    _, findings, _ = scan_json("--rules", tmp_path / "rules" / "acme.toml", tmp_path / "src")
    assert {f["rule_id"] for f in findings} == {"acme-deploy-token", "alibaba-access-key-id"}


def test_config_rules_are_relative_to_the_config_file(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    write(tmp_path / "ci" / "acme.toml", CUSTOM_RULE)
    write(tmp_path / ".akscan.toml", 'rules = ["ci/acme.toml"]\n')
    write(tmp_path / "deploy.sh", f"T=ACMETOK_{random_token(24)}\n")
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert [f["rule_id"] for f in findings] == ["acme-deploy-token"]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda r: r.replace("(?P<secret>[A-Za-z0-9]{24})", "(?P<secret>[A-Za-z0-9]{24}"),
     "pattern"),
    (lambda r: r.replace('description = "ACME deploy token"\n', ""), "description"),
    (lambda r: r.replace('kind = "access-key-id"', 'kind = "password"'), "kind"),
    (lambda r: r.replace('id = "acme-deploy-token"', 'id = "ACME_token"'), "id"),
    (lambda r: r.replace("(?P<secret>", "(?P<token>"), "pattern"),
    (lambda r: r.replace('keywords = ["acmetok_"]', 'keywords = "acmetok_"'), "keywords"),
    (lambda r: r.replace('remediation =', 'severity = "urgent"\nremediation ='), "severity"),
    (lambda r: r.replace('remediation =', 'min_entropy = "high"\nremediation ='),
     "min_entropy"),
    (lambda r: r.replace('remediation =', 'severty = "high"\nremediation ='), "severty"),
    (lambda r: r + '\n[rules.context]\nnear = ["password"]\n', "context.near"),
], ids=["bad-regex", "missing-description", "unknown-kind", "bad-id", "named-group",
        "keywords-type", "bad-severity", "entropy-type", "unknown-field", "bad-context"])
def test_broken_rule_file_is_a_one_line_error_naming_file_and_field(
    tmp_path: Path, run_cli: RunCli, mutate: object, field: str
) -> None:
    broken = mutate(CUSTOM_RULE)  # type: ignore[operator]
    assert broken != CUSTOM_RULE
    rule_file = write(tmp_path / "rules" / "broken.toml", broken)
    code, out, err = run_cli(["scan", "--rules", str(tmp_path / "rules"), str(tmp_path)])
    assert code == 2
    assert out == ""
    assert_one_line_error(err, str(rule_file), f"field '{field}'")


def test_rule_file_with_invalid_toml_is_a_one_line_error(tmp_path: Path, run_cli: RunCli) -> None:
    rule_file = write(tmp_path / "broken.toml", CUSTOM_RULE.replace('id = "', 'id = ', 1))
    code, _, err = run_cli(["scan", "--rules", str(rule_file), str(tmp_path)])
    assert code == 2
    assert_one_line_error(err, str(rule_file), "invalid TOML")


def test_missing_rules_path_is_a_one_line_error(tmp_path: Path, run_cli: RunCli) -> None:
    code, _, err = run_cli(["scan", "--rules", str(tmp_path / "nope"), str(tmp_path)])
    assert code == 2
    assert_one_line_error(err, str(tmp_path / "nope"))


def test_disable_turns_a_rule_off(tmp_path: Path, scan_json: ScanJson) -> None:
    key_id, secret = random_id(), random_secret()
    pair_file(tmp_path / "credentials", key_id, secret)
    code, findings, _ = scan_json("--disable", "alibaba-access-key-id", tmp_path)
    assert code == 1
    assert [f["secret_sha256"] for f in findings] == [sha(secret)]
    assert findings[0]["paired_with"] == []


def test_disable_unknown_rule_is_a_one_line_error(tmp_path: Path, run_cli: RunCli) -> None:
    code, out, err = run_cli(["scan", "--disable", "nonexistent", str(tmp_path)])
    assert code == 2
    assert out == ""
    assert_one_line_error(err, "nonexistent")


def test_allowlist_paths_apply_to_files_named_on_the_command_line(
    empty_cwd: Path, scan_json: ScanJson
) -> None:
    """What pre-commit does: run from the repository root with the changed files as arguments."""
    keys = {"src": random_id(), "test": random_id()}
    write(empty_cwd / "src" / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={keys['src']}\n")
    write(empty_cwd / "tests" / "data.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={keys['test']}\n")
    write(empty_cwd / ".akscan.toml", '[allowlist]\npaths = ["tests/"]\n')
    code, findings, err = scan_json("src/app.env", "tests/data.env")
    assert code == 1
    assert [f["secret_sha256"] for f in findings] == [sha(keys["src"])]
    assert "1 suppressed" in err


def test_readme_exit_codes_are_the_ones_cli_returns() -> None:
    from helpers import ROOT

    from akscan import cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Exit codes"):]
    table = table[:table.index("\n\n", table.index("| code"))]
    codes = {int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)}
    assert codes == {cli.EXIT_CLEAN, cli.EXIT_FINDINGS, cli.EXIT_ERROR, cli.EXIT_INTERRUPTED}
