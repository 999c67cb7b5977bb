"""`--format sarif`: real scans of real files, every log checked against the official schema."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from keys import env_file, new_key, random_id

from akscan.cli import main
from akscan.model import Finding, PartnerRef
from akscan.report import ReportContext
from akscan.report import sarif as sarif_report
from akscan.rules import builtin_rules_dir, load_rules

ROOT = Path(__file__).resolve().parent.parent
Validate = Callable[[Any], None]  # the `validate` fixture (conftest.py)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository to scan, also the current directory."""
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    return root


def scan(validate: Validate, out: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["scan", "--format", "sarif", "--output", str(out), "--quiet", *args])
    text = out.read_text(encoding="utf-8")
    log = json.loads(text)
    validate(log)
    return code, log, text


def run_of(log: dict[str, Any]) -> dict[str, Any]:
    assert len(log["runs"]) == 1
    return log["runs"][0]


def test_scan_writes_what_github_reads(validate: Validate, repo: Path, tmp_path: Path) -> None:
    key_id, secret = new_key()
    (repo / "deploy").mkdir()
    (repo / "deploy" / ".env").write_text("# deploy settings\n" + env_file(key_id, secret))

    code, log, _ = scan(validate, tmp_path / "out.sarif", str(repo))

    assert code == 1
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")
    run = run_of(log)
    driver = run["tool"]["driver"]
    assert driver["name"] == "akscan"
    assert driver["version"] == driver["semanticVersion"] and driver["informationUri"]
    loaded = load_rules([builtin_rules_dir()])
    assert [r["id"] for r in driver["rules"]] == [r.id for r in loaded]
    for descriptor, rule in zip(driver["rules"], loaded):
        assert descriptor["name"] == "".join(p.capitalize() for p in rule.id.split("-"))
        assert descriptor["shortDescription"]["text"] == rule.description
        assert 0 < len(descriptor["fullDescription"]["text"]) <= 1024
        for form in ("text", "markdown"):
            help_text = descriptor["help"][form]
            for advice in ("ActionTrail", "git history", "security-hardening mode",
                           "credentials file"):
                assert advice in help_text, (rule.id, form, advice)
        properties = descriptor["properties"]
        assert {"security", "secret", rule.kind} <= set(properties["tags"])
        assert properties["precision"] == rule.precision
        level, severity = sarif_report.SEVERITY[rule.severity]
        assert properties["security-severity"] == severity
        assert descriptor["defaultConfiguration"]["level"] == level
    assert run["automationDetails"]["id"] == "akscan/scan/"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"

    results = {r["properties"]["kind"]: r for r in run["results"]}
    assert set(results) == {"access-key-id", "access-key-secret"}
    for result in run["results"]:
        rule = driver["rules"][result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert result["level"] == rule["defaultConfiguration"]["level"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": "deploy/.env", "uriBaseId": "%SRCROOT%"}
        assert set(result["partialFingerprints"]) == {"akscanFindingHash/v1",
                                                      "primaryLocationLineHash"}
    region = results["access-key-id"]["locations"][0]["physicalLocation"]["region"]
    start = len("ALIBABA_CLOUD_ACCESS_KEY_ID=") + 1
    assert region == {"startLine": 2, "startColumn": start, "endLine": 2,
                      "endColumn": start + len(key_id)}
    assert results["access-key-id"]["level"] == "error"
    message = results["access-key-id"]["message"]["text"]
    assert key_id[:6] in message and "paired with access-key-secret at deploy/.env:3:" in message
    assert results["access-key-id"]["relatedLocations"][0]["physicalLocation"]["region"][
        "startLine"] == 3


def test_no_secret_is_written_anywhere_in_the_log(
    validate: Validate, repo: Path, tmp_path: Path
) -> None:
    planted = []
    for name in ("a.env", "b.env"):
        key_id, secret = new_key()
        planted += [key_id, secret]
        (repo / name).write_text(env_file(key_id, secret))
    (repo / "c.py").write_text(f'client = AcsClient("{planted[0]}", "{planted[1]}")  '
                               "# akscan:allow test fixture\n")

    code, log, text = scan(validate, tmp_path / "out.sarif", "--include-suppressed", str(repo))

    assert code == 1 and len(run_of(log)["results"]) == 6
    for value in planted:
        assert value not in text


def test_fingerprints_do_not_change_when_lines_are_inserted_above(
    validate: Validate, repo: Path, tmp_path: Path
) -> None:
    key_id, secret = new_key()
    target = repo / "settings.env"
    target.write_text(env_file(key_id, secret))
    _, before, _ = scan(validate, tmp_path / "before.sarif", str(repo))
    target.write_text("# a\n# b\n\nREGION=cn-hangzhou\n" + env_file(key_id, secret))
    _, after, _ = scan(validate, tmp_path / "after.sarif", str(repo))

    def prints(log: dict[str, Any]) -> dict[str, tuple[int, dict[str, str]]]:
        return {r["ruleId"]: (r["locations"][0]["physicalLocation"]["region"]["startLine"],
                              r["partialFingerprints"]) for r in run_of(log)["results"]}

    old, new = prints(before), prints(after)
    assert old.keys() == new.keys() and len(old) == 2
    for rule_id in old:
        assert new[rule_id][0] == old[rule_id][0] + 4
        assert new[rule_id][1] == old[rule_id][1]


def test_paths_and_fingerprints_are_the_same_whichever_directory_is_scanned(
    validate: Validate, repo: Path, tmp_path: Path
) -> None:
    (repo / "src" / "conf").mkdir(parents=True)
    (repo / "src" / "conf" / "app.env").write_text(env_file(*new_key()))

    _, whole, _ = scan(validate, tmp_path / "whole.sarif", ".")
    _, part, _ = scan(validate, tmp_path / "part.sarif", str(repo / "src"))

    def where(log: dict[str, Any]) -> list[tuple[str, str]]:
        return [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                 r["partialFingerprints"]["akscanFindingHash/v1"]) for r in run_of(log)["results"]]

    assert where(whole) == where(part)
    assert {uri for uri, _ in where(whole)} == {"src/conf/app.env"}


def test_a_second_copy_of_a_key_in_a_file_gets_its_own_fingerprint(
    validate: Validate, repo: Path, tmp_path: Path
) -> None:
    key_id, secret = new_key()
    (repo / "twice.env").write_text(env_file(key_id, secret) + "\n" * 30 + env_file(key_id, secret))

    _, log, _ = scan(validate, tmp_path / "out.sarif", str(repo))

    hashes = [r["partialFingerprints"]["akscanFindingHash/v1"] for r in run_of(log)["results"]]
    assert len(hashes) == 4 and len(set(hashes)) == 4
    assert sorted(h.rsplit(":", 1)[1] for h in hashes) == ["1", "1", "2", "2"]


def test_a_clean_scan_is_a_valid_run_with_no_results(
    validate: Validate, repo: Path, tmp_path: Path
) -> None:
    (repo / "README.md").write_text("nothing to see\n")

    code, log, _ = scan(validate, tmp_path / "out.sarif", str(repo))

    assert code == 0
    run = run_of(log)
    assert run["results"] == []
    assert len(run["tool"]["driver"]["rules"]) == len(load_rules([builtin_rules_dir()]))


def test_suppressed_findings_are_left_out_unless_asked_for(
    validate: Validate, repo: Path, tmp_path: Path
) -> None:
    inline_id, inline_secret = new_key()
    (repo / "inline.py").write_text(
        f'client = AcsClient("{inline_id}", "{inline_secret}")  # akscan:allow rotated\n')
    (repo / "docs").mkdir()
    (repo / "docs" / "setup.env").write_text(env_file(*new_key()))
    (repo / ".akscan.toml").write_text('[allowlist]\npaths = ["docs/**"]\n')

    code, log, _ = scan(validate, tmp_path / "default.sarif", str(repo))
    assert code == 0
    assert run_of(log)["results"] == []

    code, log, text = scan(validate, tmp_path / "all.sarif", "--include-suppressed", str(repo))
    assert code == 0
    kinds = {}
    for result in run_of(log)["results"]:
        (suppression,) = result["suppressions"]
        assert suppression["status"] == "accepted" and "state" not in suppression
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        kinds[uri, suppression["kind"]] = suppression["justification"]
    assert kinds == {
        ("inline.py", "inSource"): "inline 'akscan:allow'",
        ("docs/setup.env", "external"): "allowlisted path",
    }
    assert inline_secret not in text


def test_sarif_category_option_names_the_run(
    validate: Validate, repo: Path, tmp_path: Path
) -> None:
    _, log, _ = scan(validate, tmp_path / "out.sarif", "--sarif-category", "akscan/backend",
                     str(repo))
    # Without the slash GitHub would read "backend" as a run id of category "akscan/".
    assert run_of(log)["automationDetails"]["id"] == "akscan/backend/"


def test_a_file_outside_the_repository_gets_an_absolute_uri(
    validate: Validate, repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "leak.env"
    outside.parent.mkdir()
    outside.write_text(env_file(*new_key()))
    (repo / "inside.env").write_text(env_file(*new_key()))

    _, log, _ = scan(validate, tmp_path / "out.sarif", ".", str(outside))

    artifacts = [r["locations"][0]["physicalLocation"]["artifactLocation"]
                 for r in run_of(log)["results"]]
    assert {"uri": "inside.env", "uriBaseId": "%SRCROOT%"} in artifacts
    assert {"uri": outside.resolve().as_uri()} in artifacts


def test_cutting_is_reported_on_standard_error(
    validate: Validate, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sarif_report, "GITHUB_LIMITS", sarif_report.Limits(results=1))
    (repo / "a.env").write_text(env_file(*new_key()))

    code, log, _ = scan(validate, tmp_path / "out.sarif", str(repo))

    assert code == 1
    (result,) = run_of(log)["results"]
    assert result["ruleId"] == "alibaba-access-key-secret"  # critical beats the high ID
    assert "akscan: warning: SARIF: 2 results are more than GitHub accepts in one run (1)" in (
        capsys.readouterr().err)


def test_plain_scans_do_not_import_sarif_om(repo: Path) -> None:
    code = ("import sys; from akscan.cli import main; main(['scan', '-q', '-f', '{0}', '.']); "
            "print('sarif_om' in sys.modules, file=sys.stderr)")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    for fmt, imported in (("text", "False"), ("sarif", "True")):
        result = subprocess.run([sys.executable, "-c", code.format(fmt)], cwd=repo, env=env,
                                capture_output=True, text=True, check=True)
        assert result.stderr.strip() == imported


# Reports built from constructed findings: limits, history provenance, levels.

def finding(path: str, line: int, severity: str = "high", **extra: Any) -> Finding:
    secret = extra.pop("secret", None) or random_id()
    return Finding(
        rule_id=f"test-{severity}", kind="access-key-id", severity=severity,
        description="Test key", remediation="Rotate it.", path=path, line=line, column=5,
        end_line=line, end_column=5 + len(secret), secret=secret, **extra,
    )


def render(validate: Validate, findings: list[Finding], limits: sarif_report.Limits | None = None,
           **context: Any) -> tuple[dict[str, Any], str, list[str]]:
    text, warnings = sarif_report.render(
        findings, ReportContext(tool_version="0.0.0", **context),
        limits or sarif_report.GITHUB_LIMITS)
    log = json.loads(text)
    validate(log)
    return log, text, warnings


def test_every_severity_maps_to_an_explicit_level(validate: Validate, tmp_path: Path) -> None:
    severities = ("low", "medium", "high", "critical")
    findings = [finding("a.py", n, s) for n, s in enumerate(severities, 1)]

    log, _, _ = render(validate, findings, base_dir=str(tmp_path))

    levels = [r["level"] for r in run_of(log)["results"]]
    # "warning" is sarif-om's default, which its own serialiser would silently leave out.
    assert levels == ["note", "warning", "error", "error"]
    rules = run_of(log)["tool"]["driver"]["rules"]
    assert [r["properties"]["security-severity"] for r in rules] == ["3.0", "5.5", "8.0", "9.5"]


def test_too_many_results_are_cut_most_severe_first(validate: Validate, tmp_path: Path) -> None:
    findings = [finding("b.py", 1, "low"), finding("a.py", 2, "critical"),
                finding("c.py", 3, "medium"), finding("a.py", 9, "critical"),
                finding("a.py", 1, "high")]
    full, _, _ = render(validate, findings, base_dir=str(tmp_path))

    log, _, warnings = render(validate, findings, sarif_report.Limits(results=3),
                              base_dir=str(tmp_path))

    kept = [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in run_of(log)["results"]]
    assert kept == [("test-critical", 2), ("test-critical", 9), ("test-high", 1)]
    assert warnings == ["5 results are more than GitHub accepts in one run (3); kept the most "
                        "severe 3"]
    before = {r["partialFingerprints"]["akscanFindingHash/v1"] for r in run_of(full)["results"]}
    after = {r["partialFingerprints"]["akscanFindingHash/v1"] for r in run_of(log)["results"]}
    assert after < before
    rules = run_of(log)["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in run_of(log)["results"])


def test_a_log_over_the_size_limit_is_cut_until_it_fits(
    validate: Validate, tmp_path: Path
) -> None:
    partners = tuple(PartnerRef("test-low", "access-key-secret", "a.py", n, 1, "0" * 64)
                     for n in range(2, 5))
    findings = [finding("a.py", 1, "critical", paired_with=partners)]
    findings += [finding(f"dir/file{n:03}.py", n, ("low", "critical")[n % 2]) for n in range(1, 60)]
    _, text, _ = render(validate, findings, base_dir=str(tmp_path))
    limit = len(gzip.compress(text.encode())) // 2

    log, text, warnings = render(validate, findings,
                                 sarif_report.Limits(gzip_bytes=limit, locations=3),
                                 base_dir=str(tmp_path))

    assert len(gzip.compress(text.encode())) <= limit
    results = run_of(log)["results"]
    assert 0 < len(results) < 60
    assert {r["level"] for r in results} == {"error"}  # the low ones went first
    cuts = [w for w in warnings if "over GitHub's limit" in w]
    assert cuts and cuts[0].startswith("the log is ")
    # Built once per pass, reported once.
    assert warnings[len(cuts):] == ["a.py:1: kept 2 of 3 paired locations"]


def test_related_locations_are_capped(validate: Validate, tmp_path: Path) -> None:
    partners = tuple(PartnerRef("test-high", "access-key-secret", "a.py", n, 1, "0" * 64)
                     for n in range(2, 6))
    log, _, warnings = render(validate, [finding("a.py", 1, paired_with=partners)],
                              sarif_report.Limits(locations=3), base_dir=str(tmp_path))

    (result,) = run_of(log)["results"]
    assert [loc["id"] for loc in result["relatedLocations"]] == [1, 2]
    assert warnings == ["a.py:1: kept 2 of 4 paired locations"]


def test_history_findings_keep_repository_paths_and_name_their_commit(
    validate: Validate, tmp_path: Path
) -> None:
    commit = "3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
    origin = (("commit", commit), ("author", "Dev One"), ("email", "dev@example.org"),
              ("date", "2026-11-01T10:00:00+00:00"))
    secret = random_id()
    (tmp_path / ".git").mkdir()  # a repository root; the file itself exists only in history

    log, text, _ = render(validate, [finding("old/config.env", 4, secret=secret, origin=origin)],
                          base_dir=str(tmp_path), command="history")

    run = run_of(log)
    assert run["automationDetails"]["id"] == "akscan/history/"
    (result,) = run["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "old/config.env", "uriBaseId": "%SRCROOT%"}
    assert f"in commit {commit}" in result["message"]["text"]
    assert {k: result["properties"][k] for k, _ in origin} == dict(origin)
    assert secret not in text
