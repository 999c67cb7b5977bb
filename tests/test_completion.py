"""`akscan completion SHELL`: scripts generated from the parser, loaded by the real shells."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import RunCli, subprocess_env

from akscan.cli import build_parser
from akscan.completion import model


def _script(tmp_path: Path, shell: str) -> Path:
    done = subprocess.run([sys.executable, "-m", "akscan", "completion", shell],
                          capture_output=True, text=True, env=subprocess_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"akscan.{shell}"
    path.write_text(done.stdout)
    return path


def _run(shell: list[str], code: str) -> str:
    done = subprocess.run([*shell, code], capture_output=True, text=True, timeout=60,
                          env=subprocess_env(HOME="/nonexistent"))
    assert done.returncode == 0, done.stderr
    return done.stdout


def _bash_complete(script: Path, *words: str) -> list[str]:
    """What bash's completion function offers for the command line `words` (last: the cursor)."""
    quoted = " ".join(f"'{w}'" for w in words)
    out = _run(["bash", "--norc", "--noprofile", "-c"],
               f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
               "_akscan_complete; printf '%s\\n' \"${COMPREPLY[@]}\"")
    return out.split()


def test_bash_sources_the_script_and_completes_commands_options_and_values(
    tmp_path: Path
) -> None:
    script = _script(tmp_path, "bash")
    registered = _run(["bash", "--norc", "--noprofile", "-c"],
                      f"source {script}; complete -p akscan")
    assert registered.strip() == "complete -o filenames -F _akscan_complete akscan"
    assert _bash_complete(script, "akscan", "sc") == ["scan"]
    assert _bash_complete(script, "akscan", "") == ["scan", "history", "staged", "baseline",
                                                    "trail", "fleet", "completion"]
    assert _bash_complete(script, "akscan", "scan", "--for") == ["--format"]
    assert _bash_complete(script, "akscan", "scan", "--format", "") == ["text", "json", "sarif",
                                                                       "html"]
    assert _bash_complete(script, "akscan", "history", "--res") == ["--results"]
    assert _bash_complete(script, "akscan", "completion", "") == ["bash", "zsh", "fish"]
    (tmp_path / "settings.toml").write_text("")
    assert _bash_complete(script, "akscan", "scan", "-c", str(tmp_path / "sett")) == [
        str(tmp_path / "settings.toml")]


def test_every_option_of_every_command_is_in_each_script(run_cli: RunCli) -> None:
    _, commands = model(build_parser())
    assert {c.name for c in commands} >= {"scan", "history", "staged", "baseline", "trail",
                                          "completion"}
    for shell in ("bash", "zsh", "fish"):
        code, out, _ = run_cli(["completion", shell])
        assert code == 0
        for command in commands:
            assert command.name in out
            for option in command.options:
                flag = option.flags[-1]
                assert (flag if shell != "fish" else f"-l {flag[2:]}") in out, (shell, flag)


def test_unknown_shell_is_a_usage_error(run_cli: RunCli) -> None:
    code, out, err = run_cli(["completion", "tcsh"])
    assert (code, out) == (2, "") and "invalid choice" in err


@pytest.mark.skipif(not shutil.which("fish"), reason="needs fish (.ci/run installs it)")
def test_fish_loads_the_script_and_completes(tmp_path: Path) -> None:
    script = _script(tmp_path, "fish")

    def complete(line: str) -> list[str]:
        out = _run(["fish", "--no-config", "-c"], f"source {script}; complete -C'{line}'")
        return [row.split("\t")[0] for row in out.splitlines()]

    assert complete("akscan sc") == ["scan"]
    assert complete("akscan scan --format ") == ["html", "json", "sarif", "text"]
    assert "--validate-suppressed" in complete("akscan scan --validate")
    assert complete("akscan completion ") == ["bash", "fish", "zsh"]


@pytest.mark.skipif(not shutil.which("zsh"), reason="needs zsh (.ci/run installs it)")
def test_zsh_loads_the_script_and_registers_it(tmp_path: Path) -> None:
    script = _script(tmp_path, "zsh")
    subprocess.run(["zsh", "-n", str(script)], check=True, timeout=60)
    out = _run(["zsh", "-f", "-c"], f"autoload -U compinit; compinit -u -D; source {script}; "
                                    "print -r -- $_comps[akscan]; whence -w _akscan")
    assert out.split() == ["_akscan", "_akscan:", "function"]
