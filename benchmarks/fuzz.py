"""Run the fuzz targets of tests/fuzz/targets.py for long, by hand (issue 12).

Hypothesis generates inputs (generation only: no shrinking, no example database), in rounds of
`--chunk` inputs per target, round robin, until `--count` inputs in all have run. Each round
also runs `--mutate` times as many inputs made by damaging what Hypothesis generated (bytes
flipped, cut, inserted, repeated, spliced): much cheaper per input than generating, and closer
to the real inputs' structure than random bytes. Both kinds are counted, apart. A crash
(an exception other than akscan's own error) does not stop the run: each distinct one (type and
place) is counted, and the first input that raised it is written to `--out` with its traceback.

    python benchmarks/fuzz.py --count 1000000                 # every target
    python benchmarks/fuzz.py --count 20000 --targets trail,baseline --out /tmp/crashes
    nice -n 19 python benchmarks/fuzz.py --count 1000000 --minutes 100

Prints a progress line per round and a summary: inputs per target, inputs per second, crashes.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT))

from fuzz.targets import TARGETS, Target  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402


class Crashes:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.seen: dict[str, int] = {}

    def record(self, target: str, data: bytes, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = next((f for f in reversed(frames) if "/akscan/" in f.filename), frames[-1])
        signature = f"{target}: {type(exc).__name__} at {Path(where.filename).name}:{where.lineno}"
        first = signature not in self.seen
        self.seen[signature] = self.seen.get(signature, 0) + 1
        if first:
            self.out.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha256(signature.encode()).hexdigest()[:12]
            (self.out / f"{name}.bin").write_bytes(data)
            (self.out / f"{name}.txt").write_text(
                f"{signature}\ninput: {name}.bin ({len(data)} bytes)\n\n"
                + "".join(traceback.format_exception(exc)))
            print(f"NEW CRASH {signature} -> {self.out / name}.bin", flush=True)


_TOKENS = [b"\x00", b"\xff", b"\n", b"{", b"}", b"[", b"]", b'"', b"\\", b"LTAI", b"PK\x03\x04",
           b"\x1f\x8b", b"ustar", b"9" * 40, b"-1", b"1e999", b"\xef\xbb\xbf", b"\x1b[2J"]


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(data))
        op = rng.randrange(6)
        if op == 0 and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
        elif op == 1:
            data = data[:at] + rng.choice(_TOKENS) + data[at:]
        elif op == 2:
            data = data[:at] + data[at + rng.randint(1, 64):]
        elif op == 3:
            size = rng.randint(1, 256)
            data = data[:at] + data[at:at + size] * rng.randint(2, 8) + data[at:]
        elif op == 4:
            data = data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) \
                + data[at:]
        else:
            other = rng.choice(corpus)
            data = data[:at] + other[rng.randint(0, len(other)):]
    return data


def run_mutations(target: Target, count: int, corpus: list[bytes], rng: random.Random,
                  crashes: Crashes) -> int:
    for _ in range(count):
        data = mutate(rng, rng.choice(corpus), corpus)
        try:
            target.run(data)
        except Exception as exc:
            crashes.record(target.name, data, exc)
    return count


def run_round(target: Target, count: int, crashes: Crashes, corpus: list[bytes],
              rng: random.Random) -> int:
    done = 0

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(target.inputs)
    def one(data: bytes) -> None:
        nonlocal done
        done += 1
        if len(corpus) < 512:
            corpus.append(data)
        else:
            corpus[rng.randrange(512)] = data
        try:
            target.run(data)
        except Exception as exc:  # a crash: recorded, and the run goes on
            crashes.record(target.name, data, exc)

    one()
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="inputs in all")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help=f"comma-separated (default all: {','.join(TARGETS)})")
    parser.add_argument("--chunk", type=int, default=2000, help="inputs per target per round")
    parser.add_argument("--mutate", type=int, default=4,
                        help="mutated inputs per generated one (default 4; 0: none)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the mutations")
    parser.add_argument("--minutes", type=float, default=0, help="stop after this long (0: no)")
    parser.add_argument("--out", type=Path, default=Path("fuzz-crashes"),
                        help="where reproducers of crashes go (default ./fuzz-crashes)")
    args = parser.parse_args(argv)

    names = [n for n in args.targets.split(",") if n]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}")
    crashes = Crashes(args.out)
    rng = random.Random(args.seed)
    corpora: dict[str, list[bytes]] = {name: [] for name in names}
    generated = dict.fromkeys(names, 0)
    counts = dict.fromkeys(names, 0)
    seconds = dict.fromkeys(names, 0.0)
    started = time.monotonic()
    rounds = 0
    while sum(counts.values()) < args.count:
        if args.minutes and time.monotonic() - started > args.minutes * 60:
            print("time is up", flush=True)
            break
        for name in names:
            left = args.count - sum(counts.values())
            if left <= 0:
                break
            t0 = time.monotonic()
            chunk = max(1, min(args.chunk, left // (1 + args.mutate)))
            made = run_round(TARGETS[name], chunk, crashes, corpora[name], rng)
            generated[name] += made
            counts[name] += made
            if corpora[name] and args.mutate:
                counts[name] += run_mutations(TARGETS[name], made * args.mutate, corpora[name],
                                              rng, crashes)
            seconds[name] += time.monotonic() - t0
        rounds += 1
        total = sum(counts.values())
        print(f"round {rounds}: {total} inputs, {total / (time.monotonic() - started):.0f}/s, "
              f"{len(crashes.seen)} distinct crash(es)", flush=True)
    total = sum(counts.values())
    print(f"\n{total} inputs in {time.monotonic() - started:.0f}s")
    for name in names:
        rate = counts[name] / seconds[name] if seconds[name] else 0
        print(f"  {name:<12} {counts[name]:>9} inputs ({generated[name]} generated, "
              f"{counts[name] - generated[name]} mutated)  {rate:7.0f}/s")
    print(f"{len(crashes.seen)} distinct crash(es)")
    for signature, times in sorted(crashes.seen.items()):
        print(f"  {times:>7} x {signature}")
    return 1 if crashes.seen else 0


if __name__ == "__main__":
    raise SystemExit(main())
