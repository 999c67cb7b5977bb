"""`python -m akscan.emulator --port 0 --keys keys.json`: serve until interrupted."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from akscan.emulator.keys import load_keys
from akscan.emulator.server import Emulator
from akscan.errors import AkscanError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m akscan.emulator",
        description="Stand in for Alibaba Cloud STS and RAM on 127.0.0.1. Prints the URL to "
                    "give akscan --validate-endpoint, then serves until interrupted.")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument("--keys", metavar="FILE", required=True,
                        help='JSON: [{"id": ..., "secret": ..., "status": "Active", ...}, ...]')
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        emulator = Emulator(load_keys(Path(args.keys)), args.port, args.verbose)
    except (AkscanError, OSError) as exc:
        print(f"akscan.emulator: error: {exc}", file=sys.stderr)
        return 2
    print(emulator.url, flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
