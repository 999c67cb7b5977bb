"""Check that two builds of akscan report the same findings (issue 14: no finding lost).

Runs two akscan executables (for example the last release's and this checkout's, each installed
in its own virtual environment) on the same inputs, with `--no-config --format json`, and
compares the findings as sets of (path, line, column, rule, fingerprint, commit). Inputs are the
labelled corpus (`fixtures/corpus`) always, plus any `--tree DIR` (scanned with `scan`) and
`--repo DIR` (scanned with `history`). Prints the count per input for each build and every
difference, and exits 1 if any input differs, 2 if a run failed.

    python benchmarks/same_findings.py --before /tmp/old/bin/akscan --after .venv/bin/akscan \\
        --tree ../sdk --repo ../flask --repo ../pip

A fingerprint is a sha256: nothing here prints a secret.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = REPO_ROOT / "fixtures" / "corpus"

Row = tuple[str, int, int, str, str, str]


def findings(akscan: str, command: str, target: Path) -> set[Row]:
    """The findings of one run, as comparable rows."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "report.json"
        run = subprocess.run(
            [akscan, command, str(target), "--no-config", "--format", "json", "-q",
             "-o", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=3600,
        )
        if run.returncode not in (0, 1):
            raise RuntimeError(f"{akscan} {command} {target}: exit {run.returncode}: "
                               f"{run.stderr.strip()[-300:]}")
        report = json.loads(out.read_text(encoding="utf-8"))
    return {(f["path"], f["line"], f["column"], f["rule_id"], f["secret_sha256"],
             f.get("commit") or "") for f in report["findings"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", required=True, help="the reference akscan executable")
    parser.add_argument("--after", required=True, help="the akscan executable under test")
    parser.add_argument("--tree", action="append", default=[], type=Path,
                        help="a directory to scan with `scan` (repeatable)")
    parser.add_argument("--repo", action="append", default=[], type=Path,
                        help="a git repository to scan with `history` (repeatable)")
    args = parser.parse_args(argv)
    inputs = [("scan", CORPUS)] + [("scan", t) for t in args.tree] + [
        ("history", r) for r in args.repo]
    differing = 0
    print(f"{'input':<48} {'before':>7} {'after':>7}  same")
    for command, target in inputs:
        try:
            before = findings(args.before, command, target)
            after = findings(args.after, command, target)
        except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        same = before == after
        differing += not same
        print(f"{command + ' ' + target.name:<48} {len(before):>7} {len(after):>7}  "
              f"{'yes' if same else 'NO'}")
        for label, rows in (("lost", before - after), ("new", after - before)):
            for row in sorted(rows):
                print(f"    {label}: {row[0]}:{row[1]}:{row[2]} {row[3]} "
                      f"{row[4][:12]} {row[5][:12]}")
    print(f"{len(inputs) - differing} of {len(inputs)} inputs give the same findings")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
