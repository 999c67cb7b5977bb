"""What every scanning command shares: options, settings, the engine, the report and exit code."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from akscan import __version__, baseline, results, validate
from akscan.config import Config, find_config, load_config, parse_size, search_dirs
from akscan.errors import AkscanError, ConfigError
from akscan.model import ID_KINDS, LIVE, UNKNOWN, VALIDATION_STATUSES, Finding
from akscan.report import FORMATS, ReportContext, output, reporters
from akscan.report.credentials import group
from akscan.terminal import escape_path, say

if TYPE_CHECKING:  # imported where used: the engine and the allowlist's pathspec cost start-up
    from akscan.detect.engine import Engine
    from akscan.report.output import ReportFile
    from akscan.rules import Rule


def add_common_options(parser: argparse.ArgumentParser) -> None:
    add_output_options(parser)
    det = add_detection_options(parser)
    det.add_argument("--baseline", metavar="FILE",
                     help="report only findings not in this baseline (default: "
                          f"{baseline.DEFAULT_NAME} where the settings file is looked for)")
    add_validation_options(parser)


def add_validation_options(parser: argparse.ArgumentParser) -> None:
    val = parser.add_argument_group("validation (sends each pair found to Alibaba Cloud)")
    val.add_argument("--validate", action="store_true",
                     help="ask Alibaba Cloud whether each AccessKey ID and secret found together "
                          "works (one signed request per pair; the owner sees it in ActionTrail; "
                          "needs akscan[validate])")
    val.add_argument("--validate-endpoint", metavar="URL",
                     help="send validation requests here instead of Alibaba's STS and RAM "
                          "endpoints, e.g. http://127.0.0.1:PORT for the emulator (default: "
                          f"${validate.ENDPOINT_ENV}, else https://sts.aliyuncs.com and "
                          "https://ram.aliyuncs.com)")
    val.add_argument("--validate-timeout", metavar="SECONDS", type=float, default=10.0,
                     help="give up on an answer after this long (default: 10)")
    val.add_argument("--validate-deadline", metavar="SECONDS", type=float, default=300.0,
                     help="stop validating after this long in all; pairs not checked by then "
                          "are 'unknown' (default: 300)")
    val.add_argument("--fail-on", choices=("any", "live"), default="any",
                     help="exit 1 when any credential is found (default), or only when a live "
                          "one is (needs --validate)")
    val.add_argument("--results", metavar="STATUS,...", type=results.parse,
                     help="report only credentials with these verdicts: "
                          f"{', '.join(results.CHOICES)} (e.g. live,unknown; needs --validate "
                          "unless only 'unchecked'); the exit code follows what is reported")
    val.add_argument("--validate-suppressed", action="store_true",
                     help="also validate baselined, allowlisted and inline-allowed keys; one "
                          "that is live is reported as a finding (needs --validate)")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    out = parser.add_argument_group("output")
    out.add_argument("-f", "--format", choices=FORMATS, default="text",
                     help="report format (default: text)")
    out.add_argument("-o", "--output", metavar="FILE",
                     help="write the report to FILE (- for standard output, the default); "
                          "it appears only once complete")
    out.add_argument("--show-secrets", action="store_true",
                     help="print secrets in full (by default only a redacted form and sha256)")
    out.add_argument("--include-suppressed", action="store_true",
                     help="also report findings suppressed inline or by the allowlist")
    out.add_argument("--sarif-category", metavar="NAME",
                     help="SARIF category, to upload several akscan runs of one repository to "
                          "GitHub (default: akscan/COMMAND/)")
    out.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                     help="colour the text report (auto: only on a terminal, never if NO_COLOR)")
    out.add_argument("-q", "--quiet", action="store_true", help="no summary on standard error")
    out.add_argument("-v", "--verbose", action="store_true",
                     help="also explain every skipped file on standard error")


def add_detection_options(parser: argparse.ArgumentParser) -> Any:
    """The detection options; returns their group so a command can add to it."""
    det = parser.add_argument_group("detection")
    det.add_argument("-c", "--config", metavar="FILE",
                     help="settings file (default: .akscan.toml or pyproject.toml [tool.akscan] "
                          "in the scanned directory or a parent up to its repository root)")
    det.add_argument("--no-config", action="store_true",
                     help="ignore the scanned repository's own settings and baseline (for "
                          "untrusted code, whose settings could allowlist everything); "
                          "--config and --baseline still apply")
    det.add_argument("--rules", metavar="PATH", action="append", default=[],
                     help="extra rule file or directory of *.toml rules (repeatable)")
    det.add_argument("--disable", metavar="RULE_ID", action="append", default=[],
                     help="turn off a rule by id (repeatable)")
    det.add_argument("--regex-timeout", metavar="SECONDS", type=float,
                     help="give up on one rule in one file after this long (default: 10)")
    return det


# The commands whose report common.finish writes; the report file is prepared for them.
_REPORTING_COMMANDS = frozenset({"scan", "history", "staged"})


def settings(args: argparse.Namespace, places: Sequence[Path]) -> Config:
    """The settings that apply to a scan of `places` (the scanned directories): `--config`,
    else the first settings file from each place up to its repository root, else defaults;
    none with `--no-config`. Also checks, before any scan, what could fail only after it:
    validation options and the report file (`-o`), which is prepared here."""
    if validate.from_args(args) is not None:
        validate.require_sdk()
    if args.command in _REPORTING_COMMANDS and getattr(args, "report_file", None) is None:
        args.report_file = output.open_report(args.output)
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(f"{escape_path(str(path))}: configuration file not found")
    else:
        found = None if getattr(args, "no_config", False) else find_config(list(places))
        if found is None:
            return Config(anchor=str(home(places)))
        path = found
    config = load_config(path)
    return config._replace(anchor=str(home([path.parent], places)))


def home(places: Sequence[Path], fallback: Sequence[Path] = ()) -> Path:
    """The folder paths in settings and baselines are relative to: the root of the repository
    holding the first of `places`; outside any repository, the first of `fallback`'s roots
    (the scanned target's), else the place itself."""
    first = search_dirs(places[0])
    if os.path.lexists(first[-1] / ".git") or not fallback:
        return first[-1]
    return home(fallback)


def load_baseline(args: argparse.Namespace, places: Sequence[Path]) -> baseline.Baseline | None:
    """`--baseline FILE`, else a baseline file found from `places` up to the repository root
    (not with `--no-config`), else None."""
    if args.baseline:
        path = Path(args.baseline)
        return baseline.load(path, str(home([path.parent], places)))
    if getattr(args, "no_config", False):
        return None
    for place in places:
        for folder in search_dirs(place):
            candidate = folder / baseline.DEFAULT_NAME
            if candidate.is_file():
                return baseline.load(candidate, str(home([folder], places)))
    return None


def settings_note(args: argparse.Namespace, config: Config) -> str:
    """Which settings applied, for the summary: the user must be able to tell."""
    if config.source:
        return f"settings {config.source}"
    if getattr(args, "no_config", False):
        return "no settings (--no-config)"
    return "no settings file"


def build_engine(args: argparse.Namespace, config: Config, concurrent: bool = False) -> Engine:
    from akscan.detect.engine import Engine
    from akscan.rules import builtin_rules_dir, load_rules, merge_rules

    builtin = load_rules([builtin_rules_dir()])
    extra = load_rules([*config.rules, *(Path(p) for p in args.rules)])
    rules = merge_rules(builtin, extra, [*config.disable, *args.disable])
    timeout = args.regex_timeout if args.regex_timeout is not None else config.regex_timeout
    if not math.isfinite(timeout) or timeout <= 0:
        # an infinite wait is no deadline (and `regex` takes inf for an instant timeout)
        raise AkscanError(f"--regex-timeout must be a finite number of seconds above 0, "
                          f"not {timeout:g}")
    return Engine(rules, timeout=timeout, concurrent=concurrent)


class Outcome(NamedTuple):
    """What a scan found and what it could not do, before the allowlist, baseline and report."""

    findings: list[Finding]
    errors: list[str]
    notes: list[str]
    summary: str
    rules: tuple[Rule, ...] = ()  # every rule that ran, for reports that describe them (SARIF)
    base_dir: str | None = None  # the directory finding paths are relative to


def jobs_setting(args: argparse.Namespace, config: Config) -> int:
    jobs = args.jobs if args.jobs is not None else config.jobs
    if jobs < 1:
        raise AkscanError("--jobs must be at least 1")
    return int(jobs)


def size_option(text: str) -> int:
    try:
        return parse_size(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def finish(
    args: argparse.Namespace, config: Config, findings: Sequence[Finding], errors: Sequence[str],
    notes: Sequence[str], summary: str,
    known: baseline.Baseline | None = None,
    *, rules: Sequence[Rule] = (), base_dir: str | None = None,
) -> int:
    """Apply the allowlist and baseline, write the report, print errors and the summary; the
    exit code. `rules` are all the rules that ran; `base_dir` is the directory finding paths are
    relative to."""
    from akscan.allowlist import AllowlistFilter

    findings = AllowlistFilter(config.allowlist, config.anchor, base_dir).apply(findings)
    if known:
        findings = baseline.apply(findings, known, base_dir)
    options = validate.from_args(args)
    wanted = _wanted_results(args, options is not None)
    if options is not None:
        # Suppressed findings are declared harmless: shown, never sent, unless asked.
        sent = findings if args.validate_suppressed else [f for f in findings if not f.suppressed]
        checked = dict(zip(map(id, sent), validate.validate_findings(sent, options)))
        findings = results.unsuppress_live([checked.get(id(f), f) for f in findings])
    active = [f for f in findings if not f.suppressed]
    shown = findings if args.include_suppressed else active
    hidden, validated = 0, active
    if wanted is not None:
        hidden = len(active)
        active, shown = results.select(active, wanted), results.select(shown, wanted)
        hidden -= len(active)
    _write_report(args, shown, ReportContext(
        tool_version=__version__, show_secrets=args.show_secrets, rules=tuple(rules),
        command=args.command, sarif_category=args.sarif_category, base_dir=base_dir,
        quiet=args.quiet, incomplete=tuple(errors),
    ))
    for message in errors:
        say(message, "warning")
    if args.verbose:
        for message in notes:
            say(message, "note")
    if not args.quiet:
        suppressed = sum(1 for f in findings if f.suppressed)
        extra = f", {suppressed} suppressed" if suppressed else ""
        if hidden:
            extra += f", {hidden} not in --results"
        problems = f", {len(errors)} not scanned or incomplete" if errors else ""
        verdict = (f"{len(group(active))} credential(s) found ({len(active)} finding(s))"
                   if active else "no credentials found")
        say(f"{verdict}{extra}{problems} ({summary}; {settings_note(args, config)})")
        if options is not None:
            say(_validation_summary(validated))
    return exit_code(args, active, errors)


def _wanted_results(args: argparse.Namespace, validating: bool) -> frozenset[str] | None:
    if args.validate_suppressed and not validating:
        raise AkscanError("--validate-suppressed needs --validate")
    wanted: frozenset[str] | None = args.results
    if wanted and not validating and wanted - {results.UNCHECKED}:
        raise AkscanError("--results needs --validate (without it every credential is "
                          "'unchecked')")
    return wanted


def exit_code(args: argparse.Namespace, active: Sequence[Finding], errors: Sequence[str]) -> int:
    """0, 1 or 2 from what is reported and what could not be scanned; shared by every
    scanning command (fleet included) so the codes mean the same everywhere."""
    if args.fail_on == "live":
        statuses = {f.validation.status for f in active if f.validation}
        if LIVE in statuses:
            return 1
        if UNKNOWN in statuses:
            print("akscan: warning: some credentials could not be validated, so --fail-on live "
                  "cannot rule out a live key", file=sys.stderr)
            return 2
    elif active:
        return 1
    return 2 if errors else 0


def _validation_summary(findings: Sequence[Finding]) -> str:
    """`validated 3 AccessKey IDs: 1 live, 2 invalid`, each distinct ID counted once."""
    verdicts = {f.secret_sha256: f.validation.status for f in findings
                if f.validation and f.kind in ID_KINDS}
    counts = [(s, sum(v == s for v in verdicts.values())) for s in VALIDATION_STATUSES]
    parts = ", ".join(f"{n} {s}" for s, n in counts if n)
    return f"validated {len(verdicts)} AccessKey ID(s){': ' + parts if parts else ''}"


def _write_report(
    args: argparse.Namespace, findings: Sequence[Finding], context: ReportContext
) -> None:
    write = reporters()[args.format]
    target: ReportFile | None = getattr(args, "report_file", None)
    if target is None:
        output.write_stdout(lambda stream: write(stream, findings,
                                                 _with_color(args, stream, context)))
    else:
        target.commit(lambda stream: write(stream, findings, _with_color(args, stream, context)))


def _with_color(args: argparse.Namespace, stream: TextIO, context: ReportContext) -> ReportContext:
    if args.color == "always":
        color = True
    elif args.color == "never" or os.environ.get("NO_COLOR"):
        color = False
    else:
        color = stream.isatty() and os.environ.get("TERM") != "dumb"
    return context._replace(color=color)
