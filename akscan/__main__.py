"""The `akscan` program: `python -m akscan` and the console script both start here.

A commit hook's run is mostly start-up, and start-up is mostly loading modules (issue 14). The
objects loading makes live until exit and none is garbage, yet the garbage collector examined
them while they were made, and every object once more at exit, only for all of them to be
freed with the process: 7% of the hook's instructions. So the collector is off while the CLI's
modules load, and what is left when the command is done is frozen (gc.freeze), never examined
again. The command itself runs with the collector on. Tests call akscan.cli.main in their own
process, where none of this applies.
"""

from __future__ import annotations

import gc


def main() -> int:
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
