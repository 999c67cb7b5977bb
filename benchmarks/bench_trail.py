"""Throughput and memory of `akscan trail` on generated ActionTrail events, against a floor and
DuckDB in the same run.

Writes a synthetic trail per size with tests/trailgen.py (planted keys used from VPCs, own and
unknown IPs, a leaked key, STS sessions, malformed lines; SLS form, gzip by default), then runs,
interleaved round by round (the order rotating), each `--runs` times:

* `akscan trail` on it (the CLI in a subprocess), with --known-ips, --keys and --findings, with
  its default jobs (a worker process per CPU past the first 32 MiB of lines) and with `-j1` (no
  worker process); CPU time counts the workers too;
* the floor: `zcat FILE | python -c 'json.loads each line'` (`cat` for a plain file): just
  decompressing and parsing each line once, nothing looked at (for the SLS form that leaves the
  event string inside each line unparsed, which akscan must parse too);
* DuckDB's `read_json` over the same file, if duckdb is importable (the [bench] extra), in its
  own process, with its default threads (all cores): it extracts the fields akscan uses (the
  event string's fields via json_extract_string for the SLS form, typed columns for the nested
  form; invalid lines skipped), parses eventTime as TIMESTAMPTZ (else `__time__`), and groups
  the calls with an AccessKey by key, VPC, IP, service, API, user and account, counting calls
  and failed calls and taking the first and last time: what akscan's report is built from. Its
  call count is checked against akscan's report.

Medians of wall time and of CPU time (user + system of the process and its children) are
printed with events per second and peak RSS, then the ratios akscan/DuckDB and akscan/floor.
On a shared machine CPU time is the steadier figure. Peak RSS should not grow with the number of
events (streaming and capped counters): the last line compares the smallest and largest size.
It also checks that the report names what was planted.

Run from the repository root (not part of the test suite):

    python benchmarks/bench_trail.py                       # 100k and 1M events, 3 rounds
    python benchmarks/bench_trail.py --events 20000 --runs 1
    python benchmarks/bench_trail.py --form nested --no-gzip --dir /tmp/trail --keep

Every key is random letters and digits in the real shape: synthetic, never a real key.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

import trailgen  # noqa: E402

FLOOR = """\
import json, sys
for line in sys.stdin.buffer:
    if line.strip():
        try:
            json.loads(line)
        except ValueError:
            pass
"""

# argv: path, form ("sls" or "nested"); prints the number of calls with an AccessKey.
DUCKDB = """\
import sys
import duckdb
path, form = sys.argv[1], sys.argv[2]
FIELDS = {"api": "eventName", "time": "eventTime", "ip": "sourceIpAddress", "vpc": "vpcId",
          "service": "serviceName", "source": "eventSource", "code": "errorCode",
          "message": "errorMessage", "key": "userIdentity.accessKeyId",
          "user": "userIdentity.userName", "account": "userIdentity.accountId"}
if form == "sls":
    paths = ", ".join(f"'$.{field}'" for field in FIELDS.values())
    events = f\"\"\"SELECT json_extract_string(event, [{paths}]) AS f, __time__ FROM read_json(?,
        format='newline_delimited', columns={{'event': 'VARCHAR', '__time__': 'VARCHAR'}},
        ignore_errors=true) WHERE json_valid(event)\"\"\"
    c = {name: f"f[{i + 1}]" for i, name in enumerate(FIELDS)}
else:
    events = \"\"\"SELECT * FROM read_json(?, format='newline_delimited', columns={
        'eventName': 'VARCHAR', 'eventTime': 'VARCHAR', 'sourceIpAddress': 'VARCHAR',
        'vpcId': 'VARCHAR', 'serviceName': 'VARCHAR', 'eventSource': 'VARCHAR',
        'errorCode': 'VARCHAR', 'errorMessage': 'VARCHAR', '__time__': 'VARCHAR',
        'userIdentity': 'STRUCT(accessKeyId VARCHAR, userName VARCHAR, accountId VARCHAR)'},
        ignore_errors=true)\"\"\"
    c = FIELDS
when = (f"coalesce(try_cast({c['time']} AS TIMESTAMPTZ), "
        "to_timestamp(try_cast(__time__ AS BIGINT)))")
query = f\"\"\"WITH e AS ({events})
SELECT {c['key']}, {c['vpc']}, {c['ip']}, coalesce({c['service']}, {c['source']}), {c['api']},
       {c['user']}, {c['account']}, count(*) AS calls,
       count(*) FILTER (WHERE coalesce({c['code']}, '') <> ''
                        OR coalesce({c['message']}, '') <> ''),
       min({when}), max({when})
FROM e WHERE coalesce({c['key']}, '') <> '' GROUP BY ALL\"\"\"
connection = duckdb.connect()
connection.execute("SET enable_progress_bar = false")  # it would print to standard output
rows = connection.execute(query, [path]).fetchall()
threads = connection.execute("SELECT current_setting('threads')").fetchone()[0]
print(sum(row[7] for row in rows), threads)
"""


@dataclass
class Run:
    code: int
    wall: float
    cpu: float  # user + system, of every process of the run
    rss: int  # peak, bytes, of the largest process
    out: str
    err: str


def run(argv: list[str], env: dict[str, str] | None = None, feed: list[str] | None = None
        ) -> Run:
    """Run `argv` (fed by the output of `feed`, if given) and measure it with wait4."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        first = (subprocess.Popen(feed, stdout=subprocess.PIPE, stderr=err) if feed else None)
        process = subprocess.Popen(argv, env=env, stdin=first.stdout if first else None,
                                   stdout=out, stderr=err)
        if first and first.stdout:
            first.stdout.close()
        cpu, rss, code = 0.0, 0, 0
        for child in (first, process):
            if child is None:
                continue
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            rss = max(rss, usage.ru_maxrss * 1024)
            code = child.returncode or code
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Run(code, wall, cpu, rss, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"))


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
    parser.add_argument("--runs", type=int, default=3, help="rounds; medians (default 3)")
    parser.add_argument("--form", choices=("sls", "nested"), default="sls")
    parser.add_argument("--no-gzip", dest="gzip", action="store_false")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-trail-"))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    plan = trailgen.make_plan(1)
    lists = trailgen.write_lists(base / "lists", plan)
    empty = base / "empty.jsonl"
    empty.write_text("")
    idle = run([sys.executable, "-m", "akscan", "trail", str(empty), "-q"], env)
    zcat = shutil.which("zcat") if args.gzip else shutil.which("cat")
    duckdb = importlib.util.find_spec("duckdb") is not None
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; form {args.form}"
          f"{', gzip' if args.gzip else ''}; {args.runs} interleaved round(s), medians; "
          f"akscan trail on an empty file: {idle.rss / 2**20:.1f} MiB peak RSS, "
          f"{idle.cpu:.2f} s CPU")
    if not zcat:
        print(f"floor skipped: no {'zcat' if args.gzip else 'cat'} on PATH")
    if not duckdb:
        print("DuckDB skipped: duckdb is not importable (pip install -e '.[bench]')")
    failed = False
    peaks: list[tuple[int, int]] = []
    try:
        for count in args.events:
            name = f"trail-{count}.jsonl{'.gz' if args.gzip else ''}"
            path = base / name
            truth = trailgen.write_trail(base, plan, count, files=((name, args.form, args.gzip),))
            expected_vpc = sorted(k for k in plan.all_keys
                                  if any(e == "vpc" for e, _, _ in truth.key_sources(k)))
            report = base / f"report-{count}.json"
            # name: argv, environment, the command feeding it
            tools: dict[str, tuple[list[str], dict[str, str] | None, list[str] | None]] = {
                "akscan trail": ([sys.executable, "-m", "akscan", "trail", str(path),
                                  "--known-ips", str(lists["known_ips"]), "--keys",
                                  str(lists["keys"]), "--findings", str(lists["findings"]),
                                  "--format", "json", "-o", str(report), "-q"], env, None)}
            one = base / f"report-{count}-j1.json"
            tools["akscan trail -j1"] = ([*tools["akscan trail"][0][:-3], "-o", str(one), "-q",
                                          "-j1"], env, None)
            if zcat:
                tools["floor: zcat | json.loads per line"] = (
                    [sys.executable, "-c", FLOOR], None, [zcat, str(path)])
            if duckdb:
                tools["DuckDB read_json + group by"] = (
                    [sys.executable, "-c", DUCKDB, str(path), args.form], None, None)
            results: dict[str, list[Run]] = {tool: [] for tool in tools}
            order = list(tools)
            for round_ in range(args.runs):
                for tool in order[round_ % len(order):] + order[:round_ % len(order)]:
                    results[tool].append(run(*tools[tool]))
            size = path.stat().st_size / 2**20
            print(f"\n{truth.events:,} events, {size:.1f} MiB")
            print(f"  {'':36} {'wall s':>7} {'CPU s':>7} {'events/s wall':>13} "
                  f"{'events/s CPU':>12} {'peak RSS MiB':>12}")
            medians: dict[str, tuple[float, float]] = {}
            for tool, runs in results.items():
                wall = statistics.median(r.wall for r in runs)
                cpu = statistics.median(r.cpu for r in runs)
                rss = max(r.rss for r in runs)
                bad = [r for r in runs if r.code not in ((0, 1) if tool.startswith("akscan")
                                                           else (0,))]
                if not bad:
                    medians[tool] = (wall, cpu)
                note = f"  FAILED: {bad[0].err.strip()[-200:]}" if bad else ""
                failed |= bool(bad)
                print(f"  {tool:36} {wall:>7.2f} {cpu:>7.2f} {truth.events / wall:>13,.0f} "
                      f"{truth.events / cpu:>12,.0f} {rss / 2**20:>12.1f}{note}")
                if tool == "akscan trail":
                    peaks.append((truth.events, rss))
            ours = results["akscan trail"][-1]
            missing = check(report, plan, expected_vpc) if ours.code in (0, 1) else [ours.err]
            failed |= bool(missing)
            document = json.loads(report.read_text()) if not missing else {}
            calls = (document["summary"]["calls_with_permanent_keys"]
                     + document["summary"]["calls_with_sts_keys"]) if document else None
            print(f"  planted patterns: {'all named' if not missing else '; '.join(missing)}")
            wall, cpu = medians.get("akscan trail", (0.0, 0.0))
            if document and one.exists():
                same = json.loads(one.read_text()) == document
                print(f"  report of -j1: {'the same' if same else 'DIFFERENT'}")
                failed |= not same
            for tool, (other_wall, other_cpu) in medians.items():
                if tool != "akscan trail":
                    print(f"  akscan / {tool.split(':')[0].split(' read_json')[0]}: "
                          f"wall {wall / other_wall:.2f}x, CPU {cpu / other_cpu:.2f}x")
            if duckdb:
                lines = results["DuckDB read_json + group by"][-1].out.strip().splitlines()
                answer = lines[-1].split() if lines else []
                if len(answer) == 2 and answer[0].isdigit():
                    agree = "same" if calls == int(answer[0]) else "DIFFERENT"
                    print(f"  calls with an AccessKey: akscan {calls}, DuckDB {answer[0]} "
                          f"({agree}); DuckDB threads: {answer[1]}")
        if len(peaks) > 1:
            (few, low), (many, high) = min(peaks), max(peaks)
            print(f"\npeak RSS of akscan trail: {low / 2**20:.1f} MiB at {few:,} events, "
                  f"{high / 2**20:.1f} MiB at {many:,} ({high / low:.2f}x for "
                  f"{many / few:.0f}x the events)")
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
