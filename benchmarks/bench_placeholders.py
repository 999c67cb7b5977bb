"""How many genuinely random keys the placeholder filter drops (issue 15).

Generates random AccessKey IDs (LTAI5t + 18 letters and digits), AccessKey secrets (30) and
STS secrets (44) with a fixed seed, scans them as lines of a settings file with the built-in
rules, and prints how many of each were not reported. Random values are real-looking keys: each
one dropped is a leaked key akscan would miss. Run it on two checkouts to compare before/after:

    python benchmarks/bench_placeholders.py                  # 1,000,000 of each kind
    python benchmarks/bench_placeholders.py --count 100000
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from akscan.detect.engine import Engine
from akscan.model import Fragment
from akscan.rules import builtin_rules_dir, load_rules

_ALNUM = string.ascii_letters + string.digits
_BATCH = 5_000
# (kind reported, how a line assigns the value, value maker)
_KINDS = {
    "access-key-id": ("ALIBABA_CLOUD_ACCESS_KEY_ID={}", lambda r: "LTAI5t" + _random(r, 18)),
    "access-key-secret": ("ALIBABA_CLOUD_ACCESS_KEY_SECRET={}", lambda r: _random(r, 30)),
}


def _random(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(_ALNUM, k=length))


def _classes(value: str) -> int:
    return (any(c.isupper() for c in value) + any(c.islower() for c in value)
            + any(c.isdigit() for c in value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="values of each kind")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--show", type=int, default=5, help="dropped values to print per kind")
    args = parser.parse_args(argv)
    engine = Engine(load_rules([builtin_rules_dir()]))
    rng = random.Random(args.seed)
    for kind, (line, make) in _KINDS.items():
        started = time.monotonic()
        dropped: list[str] = []
        too_plain = 0  # fewer character classes than the rule asks: not the placeholder filter
        for offset in range(0, args.count, _BATCH):
            values = [make(rng) for _ in range(min(_BATCH, args.count - offset))]
            text = "\n".join(line.format(v) for v in values) + "\n"
            found = {f.secret for f in engine.scan(Fragment("batch.env", text)).findings
                     if f.kind == kind}
            for value in values:
                if value not in found:
                    if _classes(value.removeprefix("LTAI")) < 2:
                        too_plain += 1
                    else:
                        dropped.append(value)
        seconds = time.monotonic() - started
        rate = f"1 in {args.count / len(dropped):,.0f}" if dropped else "none"
        print(f"{kind}: {len(dropped):,} of {args.count:,} random values dropped as "
              f"placeholders ({rate}); {too_plain} had too few character classes; "
              f"{seconds:.1f}s")
        for value in dropped[:args.show]:
            # synthetic random values, printed so that the shape that was dropped can be seen
            print(f"  e.g. {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
