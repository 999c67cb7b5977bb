"""The installed wheel is what users get: it must carry the rules and scan from anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The installed wheel must be what runs: a PYTHONPATH pointing at the checkout would shadow it.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the built wheel (and its dependencies) installed."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next((work / "dist").glob("akscan-*.whl"))
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                   check=True, capture_output=True)
    return env_dir / "bin"


def test_wheel_ships_the_rules_folder_inside_the_package(installed: Path) -> None:
    code = ("import akscan.rules as r; d = r.builtin_rules_dir(); "
            "print(d); print(sorted(p.name for p in d.glob('*.toml')))")
    out = subprocess.run([str(installed / "python"), "-c", code], check=True, text=True,
                         capture_output=True, cwd="/", env=_ENV).stdout.splitlines()
    assert "site-packages" in out[0] and out[0].endswith("akscan/rules")
    shipped = sorted(p.name for p in (ROOT / "rules").glob("*.toml"))
    assert out[1] == repr(shipped)


def test_console_script_scans_the_demo_from_another_directory(
    installed: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [str(installed / "akscan"), "scan", "--format", "json", str(ROOT / "demo")],
        text=True, capture_output=True, cwd=tmp_path, env={**_ENV, "NO_COLOR": "1"},
    )
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert {f["path"] for f in findings} == {"app/oss_upload.py", "deploy/.env", "deploy/main.tf"}
    assert {f["kind"] for f in findings} == {"access-key-id", "access-key-secret"}
    assert all(f["paired_with"] for f in findings)


def test_installed_module_entry_point_reports_version(installed: Path) -> None:
    result = subprocess.run([str(installed / "python"), "-m", "akscan", "--version"],
                            text=True, capture_output=True, cwd="/", env=_ENV)
    assert result.returncode == 0
    assert result.stdout.startswith("akscan ")


def test_installed_wheel_writes_sarif_with_its_declared_dependencies(
    installed: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [str(installed / "akscan"), "scan", "--format", "sarif", str(ROOT / "demo")],
        text=True, capture_output=True, cwd=tmp_path, env=_ENV,
    )
    assert result.returncode == 1, result.stderr
    run = json.loads(result.stdout)["runs"][0]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in run["results"]}
    # Relative to the git checkout holding demo/, or to demo/ itself outside one (an sdist).
    assert {uri.removeprefix("demo/") for uri in uris} == {"app/oss_upload.py", "deploy/.env",
                                                           "deploy/main.tf"}


# --- project metadata that users and packagers rely on (issue 11) --------------------------


def _pyproject() -> dict[str, object]:
    from akscan import toml

    return toml.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_requires_python_is_what_the_dependencies_need_and_the_linters_target() -> None:
    # ahocorasick-rs publishes nothing for 3.9: a 3.9 install would fail on it.
    data: dict = _pyproject()  # type: ignore[type-arg]
    assert data["project"]["requires-python"] == ">=3.10"
    assert data["tool"]["ruff"]["target-version"] == "py310"
    assert data["tool"]["mypy"]["python_version"] == "3.10"


def test_license_file_is_the_apache_2_0_text_the_metadata_names() -> None:
    data: dict = _pyproject()  # type: ignore[type-arg]
    assert data["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    for words in ("Apache License", "Version 2.0, January 2004",
                  "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
                  "END OF TERMS AND CONDITIONS"):
        assert words in text
    assert "LICENSE" in data["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


def test_wheel_carries_the_license(installed: Path) -> None:
    code = ("import importlib.metadata as m; d = m.distribution('akscan'); "
            "print(any(str(f).endswith('LICENSE') for f in d.files))")
    out = subprocess.run([str(installed / "python"), "-c", code], check=True, text=True,
                         capture_output=True, cwd="/", env=_ENV).stdout
    assert out.strip() == "True"


def test_the_virtualenv_the_readme_creates_is_ignored_by_git() -> None:
    import pathspec

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 -m venv .venv" in readme
    ignore = pathspec.GitIgnoreSpec.from_lines(
        (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines())
    assert ignore.match_file(".venv/bin/python")


def test_readme_hook_pins_the_release_tag_of_this_version() -> None:
    import re

    import akscan

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    revs = set(re.findall(r"^\s*rev: (\S+)$", readme, flags=re.MULTILINE))
    assert revs == {f"v{akscan.__version__}"}
    releasing = readme[readme.index("## Releasing"):]
    assert f"git tag -a v{akscan.__version__}" in releasing or "git tag -a v$VERSION" in releasing
