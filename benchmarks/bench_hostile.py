"""Time and peak memory of akscan on every registered hostile input (tests/hostile/).

Each `tests/hostile/test_*.py` module registers its generators with `@case(...)`; the tests run
them at CI size. This script imports those modules and runs every case as a real process, at CI
size by default or at full size with `--large` (the gigabyte bombs of issue 12), and prints per
case: input size, seconds, seconds per MB, peak RSS, exit code, and whether the harness's checks
passed (exit code, one-line error, no traceback, no raw control characters, no orphan). The floor
is `python -m akscan --version` measured in the same run: its time and RSS are what any case
costs before reading a byte, and each case's RSS is also given as a ratio to it.

Run from the repository root (not part of the test suite):

    python benchmarks/bench_hostile.py                    # every case, CI size
    python benchmarks/bench_hostile.py --large            # every case, full size
    python benchmarks/bench_hostile.py --large -k trail   # cases whose name contains 'trail'
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from hostile import harness  # noqa: E402


def load_cases() -> list[harness.Case]:
    for module in sorted((REPO_ROOT / "tests" / "hostile").glob("test_*.py")):
        importlib.import_module(f"hostile.{module.stem}")
    return list(harness.CASES.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="full-size inputs (slow, big)")
    parser.add_argument("-k", dest="only", default="", help="run cases whose name contains this")
    parser.add_argument("--deadline", type=float, default=1800.0,
                        help="seconds before a case counts as hung (default 1800)")
    parser.add_argument("--dir", type=Path, help="where to generate inputs (default: a temp dir)")
    args = parser.parse_args(argv)

    cases = [c for c in load_cases() if args.only in c.name]
    base = Path(tempfile.mkdtemp(prefix="akscan-hostile-", dir=args.dir))
    try:
        floor = harness.run_akscan(["--version"], cwd=base)
        print(f"floor (python -m akscan --version): {floor.seconds:.2f}s, "
              f"peak RSS {floor.peak_rss_mib:.0f} MiB")
        print(f"{'case':<40} {'input MB':>9} {'s':>8} {'s/MB':>8} {'RSS MiB':>8} {'xfloor':>6}"
              f" {'exit':>4}  verdict")
        failed = 0
        for case in cases:
            workdir = base / case.name
            workdir.mkdir()
            invocation, result = case.run(workdir, large=args.large, deadline=args.deadline)
            megabytes = invocation.input_bytes / 1e6
            per_mb = f"{result.seconds / megabytes:8.3f}" if megabytes >= 0.01 else f"{'-':>8}"
            try:
                case.check(result)
                verdict = "ok"
            except AssertionError as exc:
                failed += 1
                verdict = "FAIL: " + str(exc).splitlines()[0]
            print(f"{case.name:<40} {megabytes:9.2f} {result.seconds:8.2f} {per_mb}"
                  f" {result.peak_rss_mib:8.0f} {result.peak_rss_mib / floor.peak_rss_mib:6.1f}"
                  f" {result.returncode:>4}  {verdict}", flush=True)
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"{len(cases)} case(s), {failed} failed")
        return 1 if failed else 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
