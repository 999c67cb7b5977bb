"""The `akscan` program: `python -m akscan` and the console script both start here.

A commit hook's run is mostly start-up, and start-up is mostly loading modules (issue 14). The
objects loading makes live until exit and none is garbage, yet the garbage collector examined
them over and over while they were made, and every object once more at exit, only for all of
them to be freed with the process: a tenth of the hook's instructions. So the collector is off
while the CLI's modules load; after that a young collection runs once 20,000 more containers
exist than at the last one, not 700 (cyclic garbage still waits for at most that many, and the
command's own modules load without a dozen collections); and what is left when the command is
done is frozen (gc.freeze), never examined again. Tests call akscan.cli.main in
their own process, where none of this applies.
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.set_threshold(20_000, *gc.get_threshold()[1:])
    gc.disable()
    try:
        from akscan.cli import main as run
    finally:
        gc.enable()
    code = run()
    gc.freeze()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
