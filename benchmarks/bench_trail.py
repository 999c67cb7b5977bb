"""Throughput and memory of `akscan trail` on generated ActionTrail events.

Writes a synthetic trail per size with tests/trailgen.py (planted keys used from VPCs, own and
unknown IPs, a leaked key, STS sessions, malformed lines; SLS form, gzip by default), then runs
the CLI in a subprocess on it, several times, and prints events per second and the peak RSS of
that process. Peak RSS should not grow with the number of events: that is the point of
streaming and capped counters. It also checks that the report names what was planted.

Run from the repository root (not part of the test suite):

    python benchmarks/bench_trail.py                       # 100k and 1M events
    python benchmarks/bench_trail.py --events 20000 --runs 1
    python benchmarks/bench_trail.py --form nested --no-gzip --dir /tmp/trail --keep

Every key is random letters and digits in the real shape: synthetic, never a real key.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

import trailgen  # noqa: E402


def run_cli(args: list[str]) -> tuple[int, float, int, str]:
    """Run `python -m akscan ARGS`: exit code, seconds, peak RSS in bytes, stderr."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "akscan", *args], env=env,
                                   stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        message = err.read().decode(errors="replace")
    return process.returncode, seconds, usage.ru_maxrss * 1024, message


def check(report: Path, plan: trailgen.Plan, expected_vpc: list[str]) -> list[str]:
    """What the report misses of the planted patterns (empty when it names them all)."""
    document = json.loads(report.read_text())
    digests = {hashlib.sha256(k.encode()).hexdigest(): k for k in plan.all_keys}
    vpc = {digests[k["key_id_sha256"]] for k in document["keys"] if k["vpc_sources"]}
    unknown = {a["source_ip"] for a in document["alerts"] if a["type"] == "unknown-internet-ip"}
    leaked = [digests[a["key_id_sha256"]] for a in document["alerts"]
              if a["type"] == "leaked-and-used"]
    missing = []
    if vpc != set(expected_vpc):
        missing.append(f"keys used from VPCs: {sorted(vpc)} != {sorted(expected_vpc)}")
    if unknown != set(trailgen.UNKNOWN_IPS):
        missing.append(f"unknown IPs: {sorted(unknown)}")
    if leaked != [plan.leaked.key_id]:
        missing.append(f"leaked and used: {leaked}")
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--form", choices=trailgen.FORMS, default="sls")
    parser.add_argument("--no-gzip", dest="gzip", action="store_false")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-trail-"))
    plan = trailgen.make_plan(1)
    lists = trailgen.write_lists(base / "lists", plan)
    empty = base / "empty.jsonl"
    empty.write_text("")
    _, _, floor, _ = run_cli(["trail", str(empty), "-q"])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; form {args.form}"
          f"{', gzip' if args.gzip else ''}; floor (akscan trail on an empty file): "
          f"{floor / 2**20:.1f} MiB peak RSS")
    print(f"{'events':>10}  {'file MiB':>8}  {'seconds':>7}  {'events/s':>9}  "
          f"{'peak RSS MiB':>12}  planted patterns")
    failed = False
    try:
        for count in args.events:
            lines = args.form in ("sls", "nested")
            name = f"trail-{count}.{'jsonl' if lines else 'json'}{'.gz' if args.gzip else ''}"
            truth = trailgen.write_trail(base, plan, count, files=((name, args.form, args.gzip),))
            expected_vpc = sorted(k for k in plan.all_keys
                                  if any(e == "vpc" for e, _, _ in truth.key_sources(k)))
            report = base / f"report-{count}.json"
            command = ["trail", str(base / name), "--known-ips", str(lists["known_ips"]),
                       "--keys", str(lists["keys"]), "--findings", str(lists["findings"]),
                       "--format", "json", "-o", str(report), "-q"]
            results = [run_cli(command) for _ in range(args.runs)]
            code, seconds, _, err = min(results, key=lambda r: r[1])
            peak = max(r[2] for r in results)
            missing = check(report, plan, expected_vpc) if code in (0, 1) else [err.strip()]
            failed |= bool(missing) or code != 1
            verdict = "all named" if not missing else "; ".join(missing)
            size = (base / name).stat().st_size / 2**20
            print(f"{truth.events:>10}  {size:>8.1f}  {seconds:>7.2f}  "
                  f"{truth.events / seconds:>9.0f}  {peak / 2**20:>12.1f}  {verdict}")
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
