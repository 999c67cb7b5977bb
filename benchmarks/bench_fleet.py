"""Benchmark `akscan fleet` over a generated fleet, cold, unchanged, and after a few commits.

Generates (one `git fast-import` stream per repository, deterministic) a fleet of repositories
of varied size, most small, some medium and a few large, with synthetic keys planted in some
(the same key in several), served as file:// URLs. Then, in the same run:

  floor:  git cat-file --batch-all-objects --batch > /dev/null, over every repository in turn
  akscan: akscan fleet --repos LIST, with the local pool (-j 2), and on a Dask LocalCluster
          of 1 and of 2 worker processes; each (a) cold (empty cache: clone and scan all),
          (b) again with nothing changed, (c) after one new commit in 5 repositories

and prints wall time, repositories/s, MB/s of unique blob bytes, the ratio to the floor, the
cost of (b) and (c) relative to (a), and the speed-up of 2 Dask workers over 1.
Run it by hand (it is not part of the test suite; the machine should be otherwise idle):

  python benchmarks/bench_fleet.py [--repos 200] [--scale 1.0] [--keep DIR] [--no-dask]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261206
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def _key(rng: random.Random) -> tuple[str, str]:
    while True:
        key = "LTAI5t" + "".join(rng.choice(_ALNUM) for _ in range(18))
        secret = "".join(rng.choice(_ALNUM) for _ in range(30))
        if all(any(f(c) for c in s) for s in (key[6:], secret)
               for f in (str.isupper, str.islower, str.isdigit)):
            return key, secret


def _lines(rng: random.Random) -> list[str]:
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
             for _ in range(1500)]
    out = []
    for n in range(8000):
        a, b, c = (rng.choice(words) for _ in range(3))
        out.append([f"def {a}_{b}({c}, n={n}):\n", f"    {a} = {b}.{c}({rng.randint(0, 9999)})\n",
                    f"    # {a} {b} {c} when ready\n", f"    return {a}[{n % 97}] + {c}\n"][n % 4])
    return out


def _size_plan(count: int, scale: float, rng: random.Random) -> list[int]:
    """Target bytes of unique blob content per repository: most small, a few large."""
    sizes = []
    for n in range(count):
        if n % 67 == 5:
            sizes.append(int(20e6 * scale))  # large
        elif n % 20 == 3:
            sizes.append(int(2e6 * scale))  # medium
        else:
            sizes.append(int(rng.uniform(100e3, 1e6) * scale))
    return sizes


def _generate(path: Path, target: int, rng: random.Random, lines: list[str],
              keys: list[tuple[str, str]]) -> None:
    """One repository from one fast-import stream: commits of a few files until `target`."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True,
                   env=_ENV)
    stream: list[bytes] = []
    written, commit, when = 0, 0, 1_700_000_000
    files = max(8, target // 6000)
    while written < target:
        commit += 1
        when += 3600
        stream.append(b"commit refs/heads/main\n")
        who = f"Dev {commit % 7} <dev{commit % 7}@example.test> {when} +0000\n".encode()
        stream.append(b"author " + who + b"committer " + who)
        message = f"change {commit}\n".encode()
        stream.append(b"data %d\n%s" % (len(message), message))
        for _ in range(rng.randint(1, 4)):
            body = "".join(rng.choice(lines) for _ in range(rng.randint(40, 200)))
            if keys and rng.random() < 0.02:
                key, secret = rng.choice(keys)
                body += f'ACCESS_KEY_ID = "{key}"\nACCESS_KEY_SECRET = "{secret}"\n'
            data = body.encode()
            name = f"src/mod{rng.randrange(files)}.py".encode()
            stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name, len(data), data))
            written += len(data)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(stream),
                   check=True, env=_ENV)
    subprocess.run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], cwd=path, check=True,
                   env=_ENV)


def generate(root: Path, count: int, scale: float) -> list[Path]:
    rng = random.Random(SEED)
    lines = _lines(rng)
    shared = [_key(rng) for _ in range(3)]
    paths = []
    for n, target in enumerate(_size_plan(count, scale, rng)):
        own = [_key(rng)] if n % 10 == 0 else []
        keys = own + (shared if n % 25 == 0 else [])
        path = root / f"repo{n:04d}.git"
        _generate(path, target, rng, lines, keys)
        paths.append(path)
    return paths


def add_commit(path: Path, n: int) -> None:
    """One new commit on main, made with fast-import against the existing history."""
    body = f"# change {n}\nvalue = {n}\n".encode()
    who = f"Late Dev <late@example.test> {1_800_000_000 + n} +0000\n".encode()
    stream = (b"commit refs/heads/main\nauthor " + who + b"committer " + who
              + b"data 4\nnew\nfrom refs/heads/main^0\n"
              + b"M 100644 inline late%d.txt\ndata %d\n%s\n" % (n, len(body), body))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream, check=True,
                   env=_ENV)


def blob_bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        out = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch-check"],
                             cwd=path, capture_output=True, check=True, env=_ENV).stdout
        total += sum(int(line.split()[2]) for line in out.decode().splitlines()
                     if line.split()[1] == "blob")
    return total


def floor(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=path,
                       stdout=subprocess.DEVNULL, check=True, env=_ENV)
    return time.perf_counter() - started


def run_fleet(listing: Path, cache: Path, extra: list[str]) -> tuple[float, dict[str, object]]:
    out = cache.parent / f"{cache.name}.json"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "akscan", "fleet", "--repos", str(listing),
                           "--cache", str(cache), "-f", "json", "-o", str(out), "-q", *extra],
                          capture_output=True, text=True, env={**_ENV, "PYTHONPATH": str(ROOT)},
                          check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"akscan fleet failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads(out.read_text())


@contextlib.contextmanager
def dask_cluster(workers: int) -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--keep", metavar="DIR", help="generate here and keep it")
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        root = Path(args.keep or stack.enter_context(tempfile.TemporaryDirectory()))
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        paths = generate(root / "src", args.repos, args.scale)
        total = blob_bytes(paths)
        print(f"fleet: {len(paths)} repositories, {total / 1e6:.1f} MB of unique blobs "
              f"(largest {max(blob_bytes([p]) for p in paths[:10]) / 1e6:.1f} MB), generated "
              f"in {time.perf_counter() - started:.1f}s; {os.cpu_count()} CPUs")
        listing = root / "repos.txt"
        listing.write_text("".join(p.as_uri() + "\n" for p in paths))
        floor_s = floor(paths)
        print(f"floor (cat-file --batch-all-objects --batch): {floor_s:.2f}s, "
              f"{total / 1e6 / floor_s:.1f} MB/s")
        configs: list[tuple[str, int]] = [("local pool -j 2", 0)]
        if not args.no_dask:
            configs += [("dask, 1 worker", 1), ("dask, 2 workers", 2)]
        cold: dict[int, float] = {}
        print(f"{'backend':<18} {'run':<12} {'wall s':>8} {'repos/s':>8} {'MB/s':>7} "
              f"{'x floor':>8} {'vs cold':>8} {'findings':>9}")
        for n, (label, workers) in enumerate(configs):
            with contextlib.ExitStack() as inner:
                extra = ["-j", "2"]
                if workers:
                    address = inner.enter_context(dask_cluster(workers))
                    extra = ["--dask", address, "--worker-cache", str(root / f"w{n}")]
                cache = root / f"cache{n}"
                runs = []
                runs.append(("a cold", *run_fleet(listing, cache, extra)))
                runs.append(("b unchanged", *run_fleet(listing, cache, extra)))
                for k, path in enumerate(paths[1:100:20]):
                    add_commit(path, 1000 * n + k)
                runs.append(("c 5 commits", *run_fleet(listing, cache, extra)))
                cold[workers] = runs[0][1]
                for name, seconds, report in runs:
                    found = len(report["findings"])  # type: ignore[arg-type]
                    print(f"{label:<18} {name:<12} {seconds:8.2f} {len(paths) / seconds:8.1f} "
                          f"{total / 1e6 / seconds:7.1f} {seconds / floor_s:8.1f} "
                          f"{100 * seconds / runs[0][1]:7.1f}% {found:9d}")
        if 1 in cold and 2 in cold:
            print(f"speed-up of 2 Dask workers over 1 (cold): {cold[1] / cold[2]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
