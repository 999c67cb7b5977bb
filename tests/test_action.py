"""The GitHub Action (action.yml): its akscan command parses, and its script runs for real."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from keys import env_file, new_key

from akscan.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def step(step_id: str) -> dict[str, Any]:
    (found,) = [s for s in ACTION["runs"]["steps"] if s.get("id") == step_id]
    return found


def akscan_command() -> list[str]:
    """The akscan command line of the scan step, as the shell would split it."""
    script = step("scan")["run"].replace("\\\n", " ")
    (line,) = [line for line in script.splitlines() if "/bin/akscan" in line]
    return shlex.split(line)


def test_action_is_a_composite_action_with_documented_inputs_and_outputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert {"path", "args", "sarif-file", "category", "fail-on-findings"} <= set(ACTION["inputs"])
    assert all(spec.get("description") for spec in ACTION["inputs"].values())
    assert ACTION["outputs"]["exit-code"]["value"] == "${{ steps.scan.outputs.exit-code }}"
    uses = [s["uses"] for s in ACTION["runs"]["steps"] if "uses" in s]
    assert uses == ["actions/setup-python@v6"]
    install = next(s["run"] for s in ACTION["runs"]["steps"] if "pip install" in s.get("run", ""))
    assert '"${{ github.action_path }}"' in install


def test_inputs_reach_the_scan_script_only_through_the_environment() -> None:
    # `${{ inputs.x }}` pasted into a script is a shell injection; env vars are not.
    assert "${{" not in step("scan")["run"]


def test_every_flag_the_action_passes_exists_in_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    command = akscan_command()
    assert command[0].endswith("/bin/akscan") and command[1] == "scan"
    flags = [arg for arg in command if re.fullmatch(r"--[a-z][a-z-]*", arg)]
    assert {"--format", "--output", "--sarif-category"} <= set(flags)
    argv = [arg for arg in command[1:] if arg != "${extra[@]}"]
    argv = ["sample" if arg.startswith("$") else arg for arg in argv]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:  # argparse's way of saying "unknown option"
        pytest.fail(f"akscan's parser rejects the action's command: {argv}")
    assert args.format == "sarif"
    # argparse also accepts abbreviations: each flag must be an option's full name.
    with pytest.raises(SystemExit):
        build_parser().parse_args(["scan", "--help"])
    usage = capsys.readouterr().out
    for flag in flags:
        assert re.search(rf"(?<![\w-]){flag}(?![\w-])", usage), flag


@pytest.fixture
def runner(tmp_path: Path) -> Path:
    """A stand-in for $RUNNER_TEMP with the virtualenv the install step would have made."""
    bin_dir = tmp_path / "runner" / "akscan-venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    launcher = bin_dir / "akscan"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m akscan "$@"\n')
    launcher.chmod(0o755)
    return tmp_path / "runner"


def run_scan_step(
    runner: Path, workspace: Path, fail_on_findings: str, args: str = ""
) -> tuple[int, dict[str, str]]:
    outputs = runner / "github_output"
    outputs.write_text("")
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "RUNNER_TEMP": str(runner),
        "GITHUB_OUTPUT": str(outputs), "AKSCAN_PATH": ".", "AKSCAN_ARGS": args,
        "AKSCAN_SARIF": "akscan.sarif", "AKSCAN_CATEGORY": "akscan/scan/",
        "AKSCAN_FAIL_ON_FINDINGS": fail_on_findings,
    }
    # `shell: bash` on GitHub runs `bash --noprofile --norc -eo pipefail {0}`.
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                             step("scan")["run"]], cwd=workspace, env=env, capture_output=True,
                            text=True)
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return result.returncode, values


def test_scan_step_writes_sarif_and_exposes_the_exit_code(
    runner: Path, tmp_path: Path, validate: Callable[[Any], None]
) -> None:
    workspace = tmp_path / "workspace"
    (workspace / "vendor dir").mkdir(parents=True)
    key_id, secret = new_key()
    (workspace / "app.env").write_text(env_file(key_id, secret))
    (workspace / "vendor dir" / "lib.env").write_text(env_file(*new_key()))

    code, outputs = run_scan_step(runner, workspace, "true", args='--exclude "vendor dir/"')

    assert code == 1 and outputs == {"exit-code": "1", "sarif-file": "akscan.sarif"}
    text = (workspace / "akscan.sarif").read_text(encoding="utf-8")
    log = json.loads(text)
    validate(log)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]}
    assert uris == {"app.env"}  # the quoted --exclude from `args` was honoured
    assert key_id not in text and secret not in text

    code, outputs = run_scan_step(runner, workspace, "false")
    assert code == 0 and outputs["exit-code"] == "1"


def test_scan_step_succeeds_on_a_clean_workspace(runner: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "README.md").write_text("nothing here\n")

    code, outputs = run_scan_step(runner, workspace, "true")

    assert code == 0 and outputs["exit-code"] == "0"
    assert json.loads((workspace / "akscan.sarif").read_text())["runs"][0]["results"] == []
