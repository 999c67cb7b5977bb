"""SARIF 2.1.0 for GitHub code scanning: one run, every loaded rule, one result per finding.

What GitHub reads, and why each choice below, is in README "SARIF and GitHub code scanning".
In short: URIs are relative to the repository root (`%SRCROOT%`); messages carry only the
redacted form; `partialFingerprints` name the secret, not the line, so an alert follows a leaked
key when lines move or the line is edited, and ends only when the key goes; the log is cut to
GitHub's upload limits, most severe first, rather than written in a form GitHub rejects.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import sarif_om as om

from akscan.detect.filters import is_inline_reason
from akscan.model import LIVE, SEVERITIES, Finding
from akscan.report import ReportContext, validation_to_dict
from akscan.report.sarif_help import HELP
from akscan.report.sarif_json import to_data
from akscan.report.sarif_paths import SRCROOT, SourcePaths
from akscan.terminal import json_safe, say

SCHEMA_URI = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
              "sarif-schema-2.1.0.json")
INFORMATION_URI = "https://github.com/akscan/akscan"
FINGERPRINT_KEY = "akscanFindingHash/v1"
# upload-sarif fills this from a hash of the line (which holds the key) unless it is set, and
# GitHub matches alerts on it alone; so it gets the same secret-based value as our own key.
GITHUB_FINGERPRINT_KEY = "primaryLocationLineHash"
_DESCRIPTION_LIMIT = 1024  # GitHub's limit for shortDescription and fullDescription

# akscan severity -> (SARIF level, GitHub security-severity). The only place this is decided.
SEVERITY = {
    "critical": ("error", "9.5"),
    "high": ("error", "8.0"),
    "medium": ("warning", "5.5"),
    "low": ("note", "3.0"),
}
# A key that --validate showed to work, whatever its rule's severity.
LIVE_LEVEL, LIVE_SECURITY_SEVERITY = "error", "10.0"


@dataclass(frozen=True)
class Limits:
    """GitHub's upload limits ("SARIF results exceed limit" in GitHub's documentation)."""

    results: int = 25_000
    locations: int = 1_000  # per result, counting related locations too
    rules: int = 25_000
    gzip_bytes: int = 10_000_000
    # Ours, not GitHub's: enough to read, small beside the results.
    notifications: int = 100


GITHUB_LIMITS = Limits()


@dataclass(frozen=True)
class _RuleInfo:
    id: str
    description: str
    kind: str
    severity: str
    precision: str
    remediation: str


def write(stream: TextIO, findings: Sequence[Finding], context: ReportContext) -> None:
    """Write the log within GitHub's limits; what had to be cut is said on standard error."""
    text, warnings = render(findings, context, GITHUB_LIMITS)
    for warning in warnings:
        say(f"SARIF: {warning}", "warning")
    stream.write(text)


def render(
    findings: Sequence[Finding], context: ReportContext, limits: Limits = GITHUB_LIMITS
) -> tuple[str, list[str]]:
    """The SARIF text, and warnings about what was cut to stay within `limits`."""
    cuts: list[str] = []
    paths = SourcePaths(context.base_dir or os.getcwd())
    # Fingerprints are computed over everything, so cutting never changes those that remain.
    fingerprints = _fingerprints(findings, paths)
    kept = _most_severe(findings, range(len(findings)), limits.results)
    if len(kept) < len(findings):
        cuts.append(f"{len(findings)} results are more than GitHub accepts in one run "
                    f"({limits.results}); kept the most severe {len(kept)}")
    while True:
        notes: list[str] = []  # from building this pass's log; only the last pass's count
        log = _log(findings, kept, fingerprints, paths, context, limits, notes)
        text = json_safe(json.dumps(to_data(log), indent=2, sort_keys=True,
                                    ensure_ascii=False)) + "\n"
        size = len(gzip.compress(text.encode("utf-8")))
        if size <= limits.gzip_bytes or not kept:
            break
        smaller = min(len(kept) - 1, int(len(kept) * limits.gzip_bytes / size * 0.9))
        cuts.append(f"the log is {size} bytes gzipped, over GitHub's limit of "
                    f"{limits.gzip_bytes}; keeping the most severe {smaller} of "
                    f"{len(kept)} results")
        kept = _most_severe(findings, kept, smaller)
    if size > limits.gzip_bytes:
        cuts.append(f"the log is still {size} bytes gzipped with no results; GitHub will "
                    "reject it")
    return text, cuts + notes


def category(context: ReportContext) -> str:
    """The run's `automationDetails.id`; the trailing slash makes all of it the category."""
    name = context.sarif_category or f"akscan/{context.command}/"
    return name if name.endswith("/") else f"{name}/"


def _most_severe(findings: Sequence[Finding], among: Sequence[int], count: int) -> list[int]:
    """The `count` most severe of the findings at `among` (then by path and line), in order."""
    ranked = sorted(among, key=lambda i: (
        -SEVERITIES.index(findings[i].severity), findings[i].sort_key()))
    return sorted(ranked[:max(count, 0)])


def _log(
    findings: Sequence[Finding], kept: Sequence[int], fingerprints: Sequence[str],
    paths: SourcePaths, context: ReportContext, limits: Limits, warnings: list[str],
) -> om.SarifLog:
    rules = _rules(context, [findings[i] for i in kept], limits, warnings)
    index = {rule.id: n for n, rule in enumerate(rules)}
    results = [_result(findings[i], index[findings[i].rule_id], fingerprints[i], paths, limits,
                       warnings) for i in kept]
    driver = om.ToolComponent(
        name="akscan", version=context.tool_version, semantic_version=context.tool_version,
        information_uri=INFORMATION_URI, rules=[_descriptor(rule) for rule in rules],
    )
    run = om.Run(
        tool=om.Tool(driver=driver),
        results=results,  # [] rather than None: an empty run is how GitHub closes fixed alerts
        automation_details=om.RunAutomationDetails(id=category(context)),
        original_uri_base_ids={SRCROOT: om.ArtifactLocation(uri=paths.root_uri)},
        column_kind="unicodeCodePoints",
        invocations=[_invocation(context, limits)],
    )
    return om.SarifLog(version="2.1.0", schema_uri=SCHEMA_URI, runs=[run])


def _invocation(context: ReportContext, limits: Limits) -> om.Invocation:
    """The run finished (a partial scan still uploads); what it could not scan or cut is one
    warning notification each, so the log itself says its results are a lower bound."""
    said = list(context.incomplete[:limits.notifications])
    if len(context.incomplete) > len(said):
        said.append(f"... and {len(context.incomplete) - len(said)} more not scanned or cut")
    return om.Invocation(execution_successful=True, tool_execution_notifications=[
        om.Notification(level="warning", message=om.Message(text=text)) for text in said
    ] or None)


def _rules(
    context: ReportContext, findings: Sequence[Finding], limits: Limits, warnings: list[str]
) -> list[_RuleInfo]:
    """Every loaded rule, plus any rule a finding names that was not passed in."""
    rules = {r.id: _RuleInfo(r.id, r.description, r.kind, r.severity, r.precision,
                             r.remediation) for r in context.rules}
    for f in findings:
        if f.rule_id not in rules:
            rules[f.rule_id] = _RuleInfo(f.rule_id, f.description, f.kind, f.severity, "high",
                                         f.remediation)
    if len(rules) <= limits.rules:
        return list(rules.values())
    used = {f.rule_id for f in findings}
    chosen = [r for r in rules.values() if r.id in used]
    chosen += [r for r in rules.values() if r.id not in used][:limits.rules - len(chosen)]
    warnings.append(f"{len(rules)} rules are more than GitHub accepts ({limits.rules}); "
                    "described only those with results and the first of the others")
    order = list(rules)
    return sorted(chosen, key=lambda r: order.index(r.id))


def _descriptor(rule: _RuleInfo) -> om.ReportingDescriptor:
    guidance = HELP[rule.kind]
    level, security_severity = SEVERITY[rule.severity]
    return om.ReportingDescriptor(
        id=rule.id,
        name="".join(part.capitalize() for part in rule.id.split("-")),
        short_description=om.MultiformatMessageString(text=_clip(rule.description)),
        full_description=om.MultiformatMessageString(
            text=_clip(f"{rule.description}. {guidance.what}")),
        help=om.MultiformatMessageString(text=guidance.text(rule.remediation),
                                         markdown=guidance.markdown(rule.remediation)),
        default_configuration=om.ReportingConfiguration(level=level),
        properties={
            "tags": ["security", "secret", rule.kind, "external/cwe/cwe-798"],
            "precision": rule.precision,
            "security-severity": security_severity,
        },
    )


def _result(
    finding: Finding, rule_index: int, fingerprint: str, paths: SourcePaths, limits: Limits,
    warnings: list[str],
) -> om.Result:
    partners = finding.paired_with[:max(limits.locations - 1, 0)]
    if len(partners) < len(finding.paired_with):
        warnings.append(f"{finding.path}:{finding.line}: kept {len(partners)} of "
                        f"{len(finding.paired_with)} paired locations")
    related = [
        om.Location(id=n, physical_location=paths.location(p.path, p.line, p.column),
                    message=om.Message(text=f"paired {p.kind} ({p.rule_id})"))
        for n, p in enumerate(partners, 1)
    ]
    level, _ = SEVERITY[finding.severity]
    extra: dict[str, object] = {}
    if finding.validation:
        extra["validation"] = validation_to_dict(finding.validation)
        if finding.validation.status == LIVE:
            # GitHub ranks alerts by the rule's security-severity; this one is for other readers.
            level, extra["security-severity"] = LIVE_LEVEL, LIVE_SECURITY_SEVERITY
    return om.Result(
        rule_id=finding.rule_id,
        rule_index=rule_index,
        level=level,
        message=om.Message(text=_message(finding, paths)),
        locations=[om.Location(physical_location=paths.location(
            finding.path, finding.line, finding.column, finding.end_line, finding.end_column))],
        related_locations=related or None,
        partial_fingerprints={FINGERPRINT_KEY: fingerprint, GITHUB_FINGERPRINT_KEY: fingerprint},
        properties={
            **dict(finding.origin),
            "kind": finding.kind,
            "severity": finding.severity,
            "redacted": finding.redacted,
            "secretSha256": finding.secret_sha256,
            **extra,
            **({"decoded": list(finding.decoded)} if finding.decoded else {}),
            **_member_properties(finding, paths),
        },
        suppressions=_suppressions(finding),
    )


def _message(finding: Finding, paths: SourcePaths) -> str:
    """The alert's title: what and where, never the secret itself."""
    text = f"{finding.description}: {finding.redacted} ({finding.kind})"
    _, member = paths.member(finding.path)
    if member is not None:
        text += f" in archive member {member}, line {finding.line}"
    if finding.paired_with:
        text += "; paired with " + ", ".join(
            f"{p.kind} at {paths.display(p.path)}:{p.line}:{p.column}" for p in finding.paired_with)
    origin = dict(finding.origin)
    if "commit" in origin:
        text += f"; in commit {origin['commit']}"
    validation = finding.validation
    if validation and validation.status == LIVE:
        who = f" as {validation.arn}" if validation.arn else ""
        return (f"{text}. LIVE: this key works{who} (checked with --validate). Disable and "
                "rotate it now, then find out what it was used for.")
    if validation:
        text += f"; validation: {validation.status}"
    return f"{text}."


def _member_properties(finding: Finding, paths: SourcePaths) -> dict[str, object]:
    """Where in an archive a finding is: the location can only name the archive file."""
    _, member = paths.member(finding.path)
    if member is None:
        return {}
    return {"archiveMember": member, "archiveMemberLine": finding.line,
            "archiveMemberColumn": finding.column}


def _suppressions(finding: Finding) -> list[om.Suppression] | None:
    reason = finding.suppressed
    if not reason:
        return None
    kind = "inSource" if is_inline_reason(reason) else "external"
    # sarif-om calls `status` "state"; sarif_json writes it under the final schema's name.
    return [om.Suppression(kind=kind, state="accepted", justification=reason)]


def _fingerprints(findings: Sequence[Finding], paths: SourcePaths) -> list[str]:
    """Per finding: a hash of rule, repository path and secret, then `:n` for its nth copy."""
    seen: Counter[str] = Counter()
    out = []
    for f in findings:
        name = f"{f.rule_id}\0{paths.display(f.path)}\0{f.secret_sha256}"
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        seen[digest] += 1
        out.append(f"{digest}:{seen[digest]}")
    return out


def _clip(text: str, limit: int = _DESCRIPTION_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
