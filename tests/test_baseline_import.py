"""`akscan baseline --import`: what gitleaks or detect-secrets had accepted stays accepted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from gitrepo import Repo
from helpers import RunCli, ScanJson, write
from keys import env_file, new_key


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _two_pairs(root: Path) -> tuple[tuple[str, str], tuple[str, str]]:
    old, new = new_key(), new_key()
    write(root / "config" / "old.env", "# accepted long ago\n" + env_file(*old))
    write(root / "app.env", env_file(*new))
    return old, new


def _reported(scan_json: ScanJson, root: Path, baseline: Path) -> set[str]:
    _, findings, err = scan_json("--baseline", baseline, root)
    assert "Traceback" not in err
    return {f["secret_sha256"] for f in findings}


def test_gitleaks_report_with_secrets_keeps_its_findings(
    tmp_path: Path, run_cli: RunCli, scan_json: ScanJson
) -> None:
    root = tmp_path / "src"
    old, new = _two_pairs(root)
    report = [  # as `gitleaks dir --report-format json` writes it (fields akscan reads)
        {"RuleID": "alibaba-access-key-id", "File": "config/old.env", "StartLine": 2,
         "Secret": old[0], "Match": f"ALIBABA_CLOUD_ACCESS_KEY_ID={old[0]}", "Commit": "",
         "Fingerprint": "config/old.env:alibaba-access-key-id:2"},
        {"RuleID": "alibaba-secret-key", "File": "config/old.env", "StartLine": 3,
         "Secret": old[1], "Commit": "", "Fingerprint": "config/old.env:alibaba-secret-key:3"},
    ]
    imported = write(tmp_path / "gitleaks.json", json.dumps(report))
    baseline = tmp_path / "baseline.json"
    code, _, err = run_cli(["baseline", "--import", str(imported), "-o", str(baseline),
                            str(root)])
    assert code == 0, err
    assert "2 of 4 finding(s) matched its 2 entr(ies)" in err
    assert _reported(scan_json, root, baseline) == {sha(new[0]), sha(new[1])}
    assert old[1] not in baseline.read_text()


def test_redacted_gitleaks_report_matches_by_file_and_line(
    tmp_path: Path, run_cli: RunCli, scan_json: ScanJson
) -> None:
    root = tmp_path / "src"
    _, new = _two_pairs(root)
    report = [{"RuleID": r, "File": "config/old.env", "StartLine": n, "Secret": "REDACTED"}
              for r, n in (("alibaba-access-key-id", 2), ("alibaba-secret-key", 3))]
    imported = write(tmp_path / "gitleaks.json", json.dumps(report))
    baseline = tmp_path / "baseline.json"
    assert run_cli(["baseline", "--import", str(imported), "-o", str(baseline), str(root)])[0] == 0
    assert _reported(scan_json, root, baseline) == {sha(new[0]), sha(new[1])}


def test_gitleaksignore_fingerprints_with_commits_match_history(
    repo: Repo, tmp_path: Path, run_cli: RunCli
) -> None:
    old, new = new_key(), new_key()
    first = repo.commit("old", {"deploy/old.env": env_file(*old)})
    repo.commit("new", {"app.env": env_file(*new)})
    ignore = write(tmp_path / ".gitleaksignore",
                   "# accepted\n"
                   f"{first}:deploy/old.env:alibaba-access-key-id:1\n"
                   f"{first}:deploy/old.env:generic-api-key:2\n"
                   "app.env:alibaba-access-key-id:7\n")  # no such line: matches nothing
    baseline = tmp_path / "baseline.json"
    code, _, err = run_cli(["baseline", "--history", "--import", str(ignore), "-o",
                            str(baseline), str(repo.path)])
    assert code == 0, err
    code, out, _ = run_cli(["history", "--format", "json", "--baseline", str(baseline),
                            str(repo.path)])
    assert code == 1
    assert {f["secret_sha256"] for f in json.loads(out)["findings"]} == {sha(new[0]),
                                                                          sha(new[1])}


def test_detect_secrets_baseline_matches_by_hashed_secret_or_line(
    tmp_path: Path, run_cli: RunCli, scan_json: ScanJson
) -> None:
    root = tmp_path / "src"
    old, new = _two_pairs(root)
    ds = {"version": "1.5.0", "plugins_used": [], "filters_used": [], "results": {
        "config/old.env": [
            {"type": "Secret Keyword", "filename": "config/old.env", "is_verified": False,
             "hashed_secret": hashlib.sha1(old[1].encode()).hexdigest(), "line_number": 30},
            {"type": "High Entropy String", "filename": "config/old.env", "is_verified": False,
             "hashed_secret": "0" * 40, "line_number": 2},
        ]}, "generated_at": "2024-01-01T00:00:00Z"}
    imported = write(tmp_path / ".secrets.baseline", json.dumps(ds))
    baseline = tmp_path / "baseline.json"
    code, _, err = run_cli(["baseline", "--import", str(imported), "-o", str(baseline),
                            str(root)])
    assert code == 0, err
    assert "detect-secrets baseline" in err
    assert _reported(scan_json, root, baseline) == {sha(new[0]), sha(new[1])}


def test_a_file_that_is_none_of_these_is_a_one_line_error(
    tmp_path: Path, run_cli: RunCli
) -> None:
    for name, text in (("a.json", '{"findings": []}'), (".gitleaksignore", "not a fingerprint\n"),
                       ("b.json", "[1, 2]")):
        bad = write(tmp_path / name, text)
        code, out, err = run_cli(["baseline", "--import", str(bad), "-o",
                                  str(tmp_path / "bl.json"), str(tmp_path)])
        assert (code, out) == (2, "")
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "bl.json").exists()
